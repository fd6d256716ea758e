/**
 * Issue 19 (5): `agent-os-upgrade sync` on a teammate's second clone of a repository a bot
 * upgraded with `--ci` (the committed server needs aou-fixture-b; the clone's venv was made
 * for release 1): `status` says the runtime is behind, `sync` installs the requirements and
 * validates the server by the IDE's launch line, writing nothing git tracks; a second `sync`
 * exits 0 at once, no byte written; a requirement pip cannot find rolls back exactly.
 */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { pipFreeze } from "../demo/kit/venv.ts";
import { resultOf, runCli } from "./helpers/cli.ts";
import { git, removeTemps, sha } from "./helpers/content-project.ts";
import { trackedBytes } from "./helpers/fleet-project.ts";
import { teammateClone } from "./helpers/sync-project.ts";

const test = suite("sync");

const BEHIND = "Runtime behind the committed installation: the venv lacks aou-fixture-b==1.0; run `agent-os-upgrade sync`";
const NOTHING = "Nothing to do: this machine's runtime (venv and server) matches the committed installation";
const statusLines = async (cwd: string) => {
  const r = await runCli(["status"], { cwd });
  assert.is(r.code, 0, r.stderr);
  return r.stdout.trimEnd().split("\n");
};
/** What git shows of the clone: nothing but what it tracks and would track (venv, .cache, backups and the lock are ignored). */
const porcelain = (clone: string) => git(clone, "status", "--porcelain", "--untracked-files=all");
const noLock = (install: string) => assert.not.ok(fs.existsSync(path.join(install, ".upgrade-lock")), "no lock left");

test("sync on a teammate's clone whose venv predates the upgrade: deps installed, server validated, nothing git tracks written; status before and after", async () => {
  const t = await teammateClone("teammate");
  assert.equal(await pipFreeze(t.venv), ["aou-fixture-a==1.0"]);
  assert.match(fs.readFileSync(path.join(t.install, "VERSION.txt"), "utf8"), /^runtime=pending$/m, "the bot's upgrade left the runtime pending");
  assert.ok((await statusLines(t.clone)).includes(BEHIND));
  const tracked = trackedBytes(t.clone);

  const r = await runCli(["sync", "--json"], { cwd: t.clone, timeoutMs: 180_000 });
  assert.is(r.code, 0, r.stderr + r.stdout);
  const j = resultOf(r);
  assert.is(j.status, "completed");
  assert.is(j.validation, "passed", "validated by the IDE's launch line");
  assert.equal(j.phases.map((p: { status: string }) => p.status), ["completed", "completed", "skipped", "completed", "completed", "completed"]);
  assert.equal(await pipFreeze(t.venv), ["aou-fixture-a==1.0", "aou-fixture-b==1.0"]);
  const state = JSON.parse(fs.readFileSync(path.join(t.install, ".cache", "state", `${j.session_id}.json`), "utf8"));
  assert.is(state.phases["3"].evidence.deps.deps.status, "installed");
  assert.equal(state.phases["3"].evidence["runtime-sync"].venv.status, "kept");
  assert.equal(state.phases["4"].evidence.validate.launch_entries.map((e: { ok: boolean }) => e.ok), [true]);
  const backup = state.phases["1"].evidence.backup;
  assert.equal(Object.keys(backup.scope_by), [".agent-os/venv"], "the backup holds the venv, nothing else");
  // Nothing git tracks changed (VERSION.txt keeps runtime=pending: the record is machine-local).
  assert.is(porcelain(t.clone), "");
  assert.equal(trackedBytes(t.clone), tracked);
  const record = JSON.parse(fs.readFileSync(path.join(t.install, ".cache", "runtime-sync.json"), "utf8"));
  assert.is(record.requirements_sha256, sha(fs.readFileSync(path.join(t.install, "mcp_server", "requirements.txt"))));
  assert.is(record.venv, t.venv);
  noLock(t.install);
  assert.not.ok((await statusLines(t.clone)).some((l) => l.startsWith("Runtime behind")));

  // Nothing to do: one line, exit 0, not a byte (not a time) changed.
  const before = snapshotTree(t.clone, { mtime: true });
  const again = await runCli(["sync"], { cwd: t.clone });
  assert.is(again.code, 0, again.stderr);
  assert.is(again.stdout, `${NOTHING}\n`);
  assert.is(again.stderr, "");
  assert.equal(diffTrees(before, snapshotTree(t.clone, { mtime: true })), []);
  const json = await runCli(["sync", "--json"], { cwd: t.clone });
  assert.is(json.code, 0);
  assert.equal(resultOf(json), { type: "result", schema_version: 1, command: "sync", status: "completed", exit_code: 0, up_to_date: true, session_id: null, message: NOTHING });
  assert.equal(diffTrees(before, snapshotTree(t.clone, { mtime: true })), []);
});

test("a requirement pip cannot find: the sync rolls back exactly (the venv byte for byte), exit 7, status still behind", async () => {
  const t = await teammateClone("teammate-badreq");
  // A teammate's commit adds a requirement that exists nowhere.
  const req = path.join(t.install, "mcp_server", "requirements.txt");
  fs.appendFileSync(req, "aou-fixture-missing==9.9\n");
  git(t.clone, "commit", "-qam", "add a requirement");
  // Everything but our own records (.cache: state, logs; .backups: the sync's backup).
  const skip = (rel: string) => rel === ".agent-os/.cache" || rel === ".agent-os/.backups";
  const before = snapshotTree(t.clone, { skip });
  const venvBefore = snapshotTree(t.venv);
  const r = await runCli(["sync", "--json"], { cwd: t.clone, timeoutMs: 180_000 });
  assert.is(r.code, 7, r.stderr + r.stdout);
  const j = resultOf(r);
  assert.is(j.status, "rolled_back");
  assert.is(j.error.code, "SERVER_FAILED");
  assert.match(j.error.message, "aou-fixture-missing");
  assert.equal(diffTrees(venvBefore, snapshotTree(t.venv)), [], "the venv is restored byte for byte");
  assert.equal(diffTrees(before, snapshotTree(t.clone, { skip })), []);
  assert.is(porcelain(t.clone), "");
  assert.not.ok(fs.existsSync(path.join(t.install, ".cache", "runtime-sync.json")), "no record of a sync that did not happen");
  noLock(t.install);
  const lines = await statusLines(t.clone);
  assert.ok(lines.includes("Runtime behind the committed installation: the venv lacks aou-fixture-b==1.0, aou-fixture-missing==9.9; run `agent-os-upgrade sync`"), lines.join("\n"));
  removeTemps();
});

test.after(() => removeTemps());

test.run();
