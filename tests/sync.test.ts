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
import { resultOf, runCli, startCli } from "./helpers/cli.ts";
import { git, removeTemps, sha } from "./helpers/content-project.ts";
import { trackedBytes } from "./helpers/fleet-project.ts";
import { teammateClone } from "./helpers/sync-project.ts";
import { fixtureRequirements } from "../demo/kit/fixture-server.ts";
import { serverEnv } from "../plugins/server/launch.ts";
import { processAlive, startDetached, stopServer } from "../plugins/server/process.ts";

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
  assert.equal(Object.keys(backup.scope_by), ["install/venv"], "the backup holds the venv, nothing else");
  // Nothing git tracks changed (VERSION.txt keeps runtime=pending: the record is machine-local).
  assert.is(porcelain(t.clone), "");
  assert.equal(trackedBytes(t.clone), tracked);
  const record = JSON.parse(fs.readFileSync(path.join(t.install, ".cache", "runtime-sync.json"), "utf8"));
  assert.is(record.requirements_sha256, sha(fs.readFileSync(path.join(t.install, "mcp_server", "requirements.txt"))));
  assert.is(record.venv, t.venv);
  noLock(t.install);
  const after = await statusLines(t.clone);
  assert.not.ok(after.some((l) => l.startsWith("Runtime behind")), after.join("\n"));
  assert.ok(after.includes(`Newest session ${j.session_id}: completed, a sync of this machine's runtime (venv, server) with the committed installation`), after.join("\n"));

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
});

test("a server running in the background on code a pull changed: restarted on the committed code and validated over HTTP; the venv is not backed up (nothing to install)", async () => {
  const t = await teammateClone("teammate-server", { packages: fixtureRequirements("v2") });
  const before = await startDetached({
    command: path.join(t.venv, "bin", "python"),
    args: ["-m", "mcp_server", "--transport", "dual"],
    env: serverEnv({ PYTHONPATH: t.install, PYTHONUNBUFFERED: "1" }),
    cwd: t.clone,
    installDir: t.install,
    logFile: path.join(t.install, ".cache", "mcp-server.log"),
    timeoutMs: 30_000,
  });
  assert.ok(before.ok, before.error);
  const oldPid = before.state!.pid;
  let newPid: number | undefined;
  try {
    // A process's start time is known to a few ms, boot time to the second: the change comes clearly later.
    await new Promise((r) => setTimeout(r, 2_100));
    fs.appendFileSync(path.join(t.install, "mcp_server", "__init__.py"), "# a teammate's fix\n");
    git(t.clone, "commit", "-qam", "server fix");
    assert.ok((await statusLines(t.clone)).includes(`Runtime behind the committed installation: the running MCP server (pid ${oldPid}) started before its code (mcp_server/) changed; run \`agent-os-upgrade sync\``));
    const noPyc = { skip: (rel: string) => rel.includes("__pycache__") };
    const venvBefore = snapshotTree(t.venv, noPyc);
    const r = await runCli(["sync", "--json"], { cwd: t.clone, timeoutMs: 180_000 });
    assert.is(r.code, 0, r.stderr + r.stdout);
    const j = resultOf(r);
    assert.is(j.validation, "passed");
    const state = JSON.parse(fs.readFileSync(path.join(t.install, ".cache", "state", `${j.session_id}.json`), "utf8"));
    const restart = state.phases["3"].evidence["runtime-sync"].restart;
    assert.is(restart.status, "restarted");
    assert.is(restart.old_pid, oldPid);
    newPid = restart.pid;
    assert.not.ok(processAlive(oldPid), "the old server is stopped");
    assert.ok(processAlive(newPid!), "the new one runs");
    assert.is(JSON.parse(fs.readFileSync(path.join(t.install, ".mcp_server_state.json"), "utf8")).pid, newPid);
    assert.is(state.phases["4"].evidence.validate.server_probe.transport, "http");
    assert.is(state.phases["3"].evidence.deps.deps.status, "unchanged");
    assert.equal(Object.keys(state.phases["1"].evidence.backup.scope_by), [], "nothing to install: the venv is not copied");
    assert.equal(diffTrees(venvBefore, snapshotTree(t.venv, noPyc)), []);
    assert.is(porcelain(t.clone), "");
    assert.not.ok((await statusLines(t.clone)).some((l) => l.startsWith("Runtime behind")));
    const again = await runCli(["sync"], { cwd: t.clone });
    assert.is(again.stdout, `${NOTHING}\n`);
  } finally {
    for (const pid of [oldPid, newPid]) if (pid && processAlive(pid)) await stopServer(pid);
  }
});

test("a venv made for another folder (a moved project): a new venv made in place, the requirements installed, validated; status before and after", async () => {
  const t = await teammateClone("teammate-moved", { madeHere: false });
  const cfg = () => fs.readFileSync(path.join(t.venv, "pyvenv.cfg"), "utf8");
  const madeFor = /-m venv\s+(\S+)$/m.exec(cfg())![1];
  assert.is.not(madeFor, t.venv);
  assert.ok((await statusLines(t.clone)).includes(`Runtime behind the committed installation: the venv at .agent-os/venv was made for another folder (${madeFor}); run \`agent-os-upgrade sync\``));
  const r = await runCli(["sync", "--json"], { cwd: t.clone, timeoutMs: 300_000 });
  assert.is(r.code, 0, r.stderr + r.stdout);
  const j = resultOf(r);
  assert.is(j.validation, "passed");
  const state = JSON.parse(fs.readFileSync(path.join(t.install, ".cache", "state", `${j.session_id}.json`), "utf8"));
  assert.is(state.phases["3"].evidence["runtime-sync"].venv.status, "created");
  assert.match(cfg(), new RegExp(`-m venv --clear ${t.venv}$`, "m"));
  assert.equal((await pipFreeze(t.venv)).filter((l) => l.startsWith("aou-")), ["aou-fixture-a==1.0", "aou-fixture-b==1.0"]);
  assert.is(porcelain(t.clone), "");
  assert.not.ok((await statusLines(t.clone)).some((l) => l.startsWith("Runtime behind")));
});

/** Polls until the only session file of the install says phase `phase` is running; its id. */
async function whenInPhase(install: string, phase: number): Promise<string> {
  const dir = path.join(install, ".cache", "state");
  for (let i = 0; i < 6_000; i++) {
    for (const f of fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith(".json")) : []) {
      try {
        const st = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
        if (st.current_phase === phase) return st.session_id;
      } catch {
        // being replaced: read again
      }
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no session reached phase ${phase}`);
}

test("a sync killed in phase 3: \`resume\` finishes it as a sync (no content, no VERSION.txt written), then nothing to do", async () => {
  const t = await teammateClone("teammate-killed");
  const tracked = trackedBytes(t.clone);
  const { child, done } = startCli(["sync"], { cwd: t.clone, timeoutMs: 180_000 });
  const id = await whenInPhase(t.install, 3);
  child.kill("SIGKILL");
  await done;
  assert.ok(fs.existsSync(path.join(t.install, ".upgrade-lock")), "the killed sync's lock is left");
  const resumed = await runCli(["resume", "--json"], { cwd: t.clone, timeoutMs: 180_000 });
  assert.is(resumed.code, 0, resumed.stderr + resumed.stdout);
  const j = resultOf(resumed);
  assert.is(j.session_id, id);
  assert.is(j.validation, "passed");
  const state = JSON.parse(fs.readFileSync(path.join(t.install, ".cache", "state", `${id}.json`), "utf8"));
  assert.ok(state.phases["3"].evidence["runtime-sync"], "resumed with the runtime-sync plugin");
  assert.is(state.phases["3"].evidence.server, undefined, "not as an upgrade: no server swap");
  assert.equal(await pipFreeze(t.venv), ["aou-fixture-a==1.0", "aou-fixture-b==1.0"]);
  assert.equal(trackedBytes(t.clone), tracked);
  assert.is(porcelain(t.clone), "");
  noLock(t.install);
  const again = await runCli(["sync"], { cwd: t.clone });
  assert.is(again.stdout, `${NOTHING}\n`);
});

test.after(() => removeTemps());

test.run();
