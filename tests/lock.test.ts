/** The lock across real processes: a race, a SIGKILLed owner, takeover and `unlock --force`. */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { resolveLayout } from "../core/layout.ts";
import { Lock, readLock } from "../core/lock.ts";
import { pidAlive } from "../core/proc.ts";
import { resultOf, runCli, startCli } from "./helpers/cli.ts";
import { writeFakeConfig } from "./helpers/config-files.ts";
import { makeProject, makeSource, tmpDir } from "./helpers/project.ts";
import { snapshotTree } from "../demo/kit/tree.ts";
import { waitForPid } from "./helpers/wait.ts";

const test = suite("lock");

function setup() {
  const root = tmpDir();
  const src = makeSource(path.join(root, "src"));
  const proj = makeProject(path.join(root, "proj"));
  writeFakeConfig(proj.dir);
  return { root, src, proj, layout: resolveLayout(proj.dir) };
}

test("in process: exclusive create, the holder named, only the owner releases", async () => {
  const { layout } = setup();
  const a = (await Lock.acquire(layout, "11111111-1111-4111-8111-111111111111", { takeOver: "none" })).lock;
  try {
    await Lock.acquire(layout, "22222222-2222-4222-8222-222222222222", { takeOver: "any" });
    assert.unreachable("second acquire must fail");
  } catch (err) {
    assert.is((err as { code: string }).code, "LOCK_HELD");
    assert.match((err as Error).message, `pid ${process.pid}`);
    assert.match((err as Error).message, "session 11111111-1111-4111-8111-111111111111");
  }
  const info = JSON.parse(fs.readFileSync(layout.lockFile, "utf8"));
  assert.equal(Object.keys(info).sort(), ["cmdline", "hostname", "phase", "pid", "pid_start", "session_id", "started_at"]);
  // Someone else's lock object cannot release ours.
  fs.writeFileSync(layout.lockFile, JSON.stringify({ ...info, session_id: "other" }));
  assert.is(a.release(), false);
  assert.ok(fs.existsSync(layout.lockFile));
  fs.writeFileSync(layout.lockFile, JSON.stringify(info));
  assert.is(a.release(), true);
  assert.is(fs.existsSync(layout.lockFile), false);
});

test("two upgrades started at the same moment: exactly one proceeds, the other exits 5 naming the holder's pid", async () => {
  const s = setup();
  const pause = path.join(s.root, "paused");
  const release = path.join(s.root, "release");
  const env = { AOU_PAUSE_AT: "backup", AOU_PAUSE_FILE: pause, AOU_RELEASE_FILE: release };
  const a = startCli(["--source", s.src.dir, "--json"], { cwd: s.proj.dir, env });
  const b = startCli(["--source", s.src.dir, "--json"], { cwd: s.proj.dir, env });
  // The loser finishes on its own while the winner waits inside phase 1.
  const first = await Promise.race([a.done.then((r) => ({ r, who: "a" })), b.done.then((r) => ({ r, who: "b" }))]);
  const winnerPid = await waitForPid(pause);
  fs.writeFileSync(release, "");
  const other = await (first.who === "a" ? b.done : a.done);
  assert.is(first.r.code, 5, first.r.stdout + first.r.stderr);
  const res = resultOf(first.r);
  assert.is(res.error.code, "LOCK_HELD");
  assert.match(res.error.message, `pid ${winnerPid}`);
  assert.is(other.code, 0, other.stdout + other.stderr);
  assert.is(resultOf(other).status, "completed");
  assert.is(fs.existsSync(s.layout.lockFile), false);
});

test("an owner killed with SIGKILL leaves a stale lock: reported, refused for a new upgrade, removed by unlock --force", async () => {
  const s = setup();
  const pause = path.join(s.root, "paused");
  const { child, done } = startCli(["--source", s.src.dir], { cwd: s.proj.dir, env: { AOU_PAUSE_AT: "backup", AOU_PAUSE_FILE: pause, AOU_RELEASE_FILE: path.join(s.root, "never") } });
  const pid = await waitForPid(pause);
  assert.is(readLock(s.layout).kind, "held");
  child.kill("SIGKILL");
  await done;
  // A zombie or a reaped process: either way the owner is dead and the lock stale.
  assert.is(pidAlive(pid), false);
  const st = readLock(s.layout);
  assert.is(st.kind, "stale");

  const status = await runCli(["status"], { cwd: s.proj.dir });
  assert.is(status.code, 0);
  assert.match(status.stdout, `stale: session`);
  assert.match(status.stdout, `pid ${pid} is no longer running`);
  assert.match(status.stdout, "was interrupted: run `agent-os-upgrade resume`");

  const again = await runCli(["--source", s.src.dir, "--json"], { cwd: s.proj.dir });
  assert.is(again.code, 4);
  const f = resultOf(again).findings.find((x: { code: string }) => x.code === "LOCK_STALE");
  assert.ok(f, "a LOCK_STALE finding");
  assert.match(f.message, `pid ${pid} is no longer running`);
  assert.match(f.fix, "agent-os-upgrade resume");

  const noForce = await runCli(["unlock"], { cwd: s.proj.dir });
  assert.is(noForce.code, 5);
  assert.match(noForce.stderr, "unlock --force");
  const forced = await runCli(["unlock", "--force"], { cwd: s.proj.dir });
  assert.is(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, "Removed the lock");
  assert.is(fs.existsSync(s.layout.lockFile), false);
});

test("unlock --force never removes the lock of a live process", async () => {
  const s = setup();
  const lock = (await Lock.acquire(s.layout, "33333333-3333-4333-8333-333333333333", { takeOver: "none" })).lock;
  const r = await runCli(["unlock", "--force"], { cwd: s.proj.dir });
  assert.is(r.code, 5);
  assert.match(r.stderr, `pid ${process.pid}`);
  assert.ok(fs.existsSync(s.layout.lockFile));
  lock.release();
});

test("a legacy .upgrade_lock is a foreign lock: refused with exit 5, nothing changed", async () => {
  const s = setup();
  fs.writeFileSync(path.join(s.proj.install, ".upgrade_lock"), "locked by upstream\n");
  const before = snapshotTree(s.root, { mtime: true });
  const r = await runCli(["--source", s.src.dir], { cwd: s.proj.dir });
  assert.is(r.code, 5);
  assert.match(r.stdout, "A foreign lock is present");
  assert.match(r.stdout, ".upgrade_lock");
  assert.equal(snapshotTree(s.root, { mtime: true }), before);
});

test.run();
