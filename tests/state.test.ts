/** Sessions on disk: atomic durable writes, SIGKILL mid-write, corrupt files named. */
import fs from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { StateStore } from "../core/state.ts";
import { writeFileAtomic } from "../core/atomic.ts";
import { checkGate as checkParts, gateParts, type PhaseEvidence } from "../core/evidence.ts";
import type { Phase } from "../core/phases.ts";
import { builtinPlugins } from "../plugins/mod.ts";

// The gates of a zero-config run: the engine's and every built-in's.
const checkGate = (p: Phase, ev: PhaseEvidence) => checkParts(gateParts(p, builtinPlugins()), ev);
import { REPO, runCli, tsCommand } from "./helpers/cli.ts";
import { makeProject, tmpDir } from "./helpers/project.ts";

const test = suite("state");

const init = { options: { dryRun: false }, source: { path: "/src", commit: null }, target: { project: "/p", install: "/p/.agent-os" } };

test("create, save and load round-trip; the file has the SPEC fields", () => {
  const dir = tmpDir();
  const store = new StateStore(dir);
  const s = store.create(init);
  s.completed_phases.push(0);
  store.save(s);
  const back = store.load(s.session_id);
  assert.equal(back.completed_phases, [0]);
  for (const k of ["session_id", "workflow_type", "status", "current_phase", "completed_phases", "phases", "options", "source", "target", "started_at", "updated_at", "journal"]) {
    assert.ok(k in back, k);
  }
  assert.is(back.workflow_type, "agent_os_upgrade_v1");
  assert.equal(fs.readdirSync(dir), [`${s.session_id}.json`]);
});

test("a failing write leaves no temp file and the old content", () => {
  const dir = tmpDir();
  const file = path.join(dir, "x.json");
  writeFileAtomic(file, "old");
  fs.mkdirSync(path.join(dir, "sub"));
  // Renaming a file over a directory fails after the temp file was written.
  assert.throws(() => writeFileAtomic(path.join(dir, "sub"), "new"));
  assert.equal(fs.readdirSync(dir).sort(), ["sub", "x.json"]);
  assert.is(fs.readFileSync(file, "utf8"), "old");
});

test("corrupt, truncated and foreign state files get STATE_CORRUPT naming the file", () => {
  const dir = tmpDir();
  const store = new StateStore(dir);
  const s = store.create(init);
  const file = store.fileOf(s.session_id);
  const full = fs.readFileSync(file, "utf8");
  fs.writeFileSync(file, full.slice(0, full.length / 2));
  try {
    store.load(s.session_id);
    assert.unreachable();
  } catch (err) {
    assert.is((err as { code: string }).code, "STATE_CORRUPT");
    assert.match((err as Error).message, `Cannot read session state ${file}: it is not valid JSON`);
  }
  fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(full), status: "bogus" }));
  try {
    store.load(s.session_id);
    assert.unreachable();
  } catch (err) {
    assert.is((err as { code: string }).code, "STATE_CORRUPT");
    assert.match((err as Error).message, `Cannot read session state ${file}: status:`);
  }
  // list() reports it rather than skipping it.
  const listed = store.list();
  assert.is(listed.length, 1);
  assert.is(listed[0].error?.code, "STATE_CORRUPT");
});

test("the CLI reports a corrupt state file with its path and exit 9 (resume and status)", async () => {
  const root = tmpDir();
  const proj = makeProject(path.join(root, "proj"));
  const dir = path.join(proj.install, ".cache/state");
  const store = new StateStore(dir);
  const s = store.create(init);
  fs.writeFileSync(store.fileOf(s.session_id), "{\"session_id\": ");
  const r = await runCli(["resume"], { cwd: proj.dir });
  assert.is(r.code, 9, r.stderr);
  assert.match(r.stderr, `Error [STATE_CORRUPT]: Cannot read session state ${store.fileOf(s.session_id)}`);
  assert.not.match(r.stderr, "    at ");
  const st = await runCli(["status"], { cwd: proj.dir });
  assert.is(st.code, 9);
  assert.match(st.stdout, "CORRUPT");
});

test("status checks the fields it shows without the schema: a wrong one is CORRUPT, named; the rest are shown", async () => {
  const proj = makeProject(path.join(tmpDir(), "proj"));
  const store = new StateStore(path.join(proj.install, ".cache/state"));
  const good = store.create(init);
  const bad = store.create(init);
  fs.writeFileSync(store.fileOf(bad.session_id), JSON.stringify({ ...bad, current_phase: 7 }));
  const st = await runCli(["status", "--json"], { cwd: proj.dir });
  assert.is(st.code, 9);
  const res = JSON.parse(st.stdout);
  const byId = Object.fromEntries(res.sessions.map((x: { id: string }) => [x.id, x]));
  assert.is(byId[good.session_id].status, "in_progress");
  assert.is(byId[bad.session_id].error.code, "STATE_CORRUPT");
  assert.match(byId[bad.session_id].error.message, `${store.fileOf(bad.session_id)}: current_phase: expected a phase (0 to 5) or null`);
  const one = await runCli(["status", bad.session_id], { cwd: proj.dir });
  assert.is(one.code, 9);
  assert.match(one.stderr, "Error [STATE_CORRUPT]");
});

test("a state write interrupted by SIGKILL never leaves a half-written state file", async () => {
  const dir = tmpDir();
  const store = new StateStore(dir);
  const s = store.create(init);
  for (let round = 0; round < 6; round++) {
    const [cmd, args] = tsCommand(path.join(REPO, "tests/helpers/state-writer.ts"), [dir, s.session_id]);
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
    await new Promise((r) => setTimeout(r, 40 + round * 37));
    child.kill("SIGKILL");
    await new Promise((r) => child.on("close", r));
    const back = store.load(s.session_id); // throws on a torn file
    assert.is(back.session_id, s.session_id);
  }
  // Temp files of killed writers are swept by the next listing.
  store.list();
  assert.equal(fs.readdirSync(dir), [`${s.session_id}.json`]);
});

test("gates check values, not keys, each in its owner's record", () => {
  const b = { backup_path: "/b", backup_id: "b", files_backed_up: 3, backup_size_bytes: 10, integrity_verified: true };
  const ok1 = { engine: { lock_acquired: true }, backup: b };
  assert.equal(checkGate(1, ok1), { ok: true });
  const bad = checkGate(1, { ...ok1, backup: { ...b, integrity_verified: false } });
  assert.is(bad.ok, false);
  assert.match((bad as { problems: string[] }).problems.join(), "backup: integrity_verified");
  assert.is(checkGate(1, { ...ok1, backup: { ...b, files_backed_up: -1 } }).ok, false);
  // Another plugin's record cannot stand in for the owner's.
  const misplaced = checkGate(1, { engine: { lock_acquired: true }, report: b });
  assert.is(misplaced.ok, false);
  assert.match((misplaced as { problems: string[] }).problems.join(), "backup: backup_path");
  const v = { tools_expected: ["a", "b"], tools_registered: ["a"], smoke_tests: [], stderr_errors: [], validation_report: "r" };
  const ev4 = (over: object) => ({ validate: { ...v, ...over }, "user-files": { user_files_unchanged: true } });
  const g4 = checkGate(4, ev4({}));
  assert.is(g4.ok, false);
  assert.match((g4 as { problems: string[] }).problems.join(), "validate: tools_registered: the server does not register every expected tool");
  assert.equal(checkGate(4, ev4({ tools_registered: ["b", "a", "c"] })), { ok: true });
  assert.is(checkGate(4, ev4({ tools_registered: ["a", "b"], stderr_errors: ["Traceback"] })).ok, false);
  assert.is(checkGate(3, { server: { code: { status: "swapped", hashes_verified: true }, restart: { status: "restarted" } }, deps: { deps: { status: "installed", pip_check_ok: false } } }).ok, false);
});

test.run();
