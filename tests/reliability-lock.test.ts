/**
 * Issue 20 item 3: no lock wedges the project. A lock naming a live process that is not ours
 * (an older or hand-written lock without `cmdline`), or a process started after the lock was
 * written, is stale: `rollback` takes it over, `unlock --force` removes it, an upgrade names
 * the way out. Only a lock proven to belong to a running upgrade (start time and command line
 * recorded and matching) is left alone by `unlock --force`. Real processes, real CLI.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { resolveLayout } from "../core/layout.ts";
import { readLock } from "../core/lock.ts";
import { processCmdline, processStartTime } from "../core/proc.ts";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { resultOf, runCli, startCli } from "./helpers/cli.ts";
import { waitForPid } from "./helpers/wait.ts";
import { writeFakeConfig } from "./helpers/config-files.ts";
import { makeProject, makeSource, tmpDir } from "./helpers/project.ts";

const test = suite("reliability-lock");

function setup() {
  const root = tmpDir("reliab-lock");
  const src = makeSource(path.join(root, "src"));
  const proj = makeProject(path.join(root, "proj"));
  writeFakeConfig(proj.dir);
  return { root, src, proj, layout: resolveLayout(proj.dir) };
}

/** A live `node` process that is not an upgrade, once it has exec'd. */
async function otherNode(): Promise<{ pid: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath.includes("deno") ? "node" : process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  const pid = child.pid!;
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  for (let i = 0; i < 200 && !(processCmdline(pid) ?? "").includes("setInterval"); i++) await new Promise((r) => setTimeout(r, 10));
  return { pid, stop: async () => { child.kill("SIGKILL"); await exited; } };
}

const lockOf = (pid: number, extra: Record<string, unknown> = {}) => JSON.stringify({
  session_id: "44444444-4444-4444-8444-444444444444",
  pid,
  hostname: os.hostname(),
  started_at: new Date().toISOString(),
  phase: 2,
  ...extra,
}, null, 2) + "\n";

const errLine = (stderr: string) => stderr.split("\n").find((l) => l.startsWith("Error ["));

test("a lock without cmdline naming a live node process that is not ours: stale; upgrade names the way out (exit 4), rollback takes it over, unlock --force removes it", async () => {
  const s = setup();
  const other = await otherNode();
  try {
    const lock = lockOf(other.pid);
    const since = JSON.parse(lock).started_at;
    const before = snapshotTree(s.proj.dir);
    fs.writeFileSync(s.layout.lockFile, lock);
    assert.is(readLock(s.layout).kind, "stale");

    const up = await runCli(["--source", s.src.dir, "--json"], { cwd: s.proj.dir });
    assert.is(up.code, 4, up.stdout + up.stderr);
    const f = resultOf(up).findings.find((x: { code: string }) => x.code === "LOCK_STALE");
    assert.is(f?.message, `An interrupted upgrade was found: session 44444444-4444-4444-8444-444444444444 (pid ${other.pid} is no longer running this upgrade; phase 2, since ${since})`);
    assert.match(f.fix, "`unlock --force` discards it");
    assert.equal(diffTrees(before, snapshotTree(s.proj.dir)), ["created: .agent-os/.upgrade-lock"], "nothing written (the lock is the test's)");

    const noForce = await runCli(["unlock"], { cwd: s.proj.dir });
    assert.is(noForce.code, 5);
    assert.match(noForce.stderr, "unlock --force");

    const forced = await runCli(["unlock", "--force"], { cwd: s.proj.dir });
    assert.is(forced.code, 0, forced.stdout + forced.stderr);
    assert.is(forced.stdout.trim().split("\n").pop(), `Removed the lock: session 44444444-4444-4444-8444-444444444444 (pid ${other.pid} is no longer running this upgrade; phase 2, since ${since})`);
    assert.not.ok(fs.existsSync(s.layout.lockFile), "no lock");

    fs.writeFileSync(s.layout.lockFile, lockOf(other.pid));
    const rb = await runCli(["rollback"], { cwd: s.proj.dir });
    assert.is(rb.code, 0, rb.stdout + rb.stderr);
    assert.match(rb.stdout, "released its lock");
    assert.not.ok(fs.existsSync(s.layout.lockFile), "no lock");
    assert.equal(diffTrees(before, snapshotTree(s.proj.dir)), [], "the tree is exactly as it was");
  } finally {
    await other.stop();
  }
});

test("a process started after the lock was written cannot own it, even with a matching command line", async () => {
  const s = setup();
  const other = await otherNode();
  try {
    const written = new Date(Date.now() - 10 * 60_000).toISOString();
    fs.writeFileSync(s.layout.lockFile, lockOf(other.pid, { started_at: written, cmdline: processCmdline(other.pid) }));
    assert.is(readLock(s.layout).kind, "stale");
    const forced = await runCli(["unlock", "--force"], { cwd: s.proj.dir });
    assert.is(forced.code, 0, forced.stdout + forced.stderr);
    assert.not.ok(fs.existsSync(s.layout.lockFile), "no lock");
  } finally {
    await other.stop();
  }
});

test("a live process with the recorded command line but no recorded start time: held for an upgrade (exit 5 naming unlock --force), and unlock --force removes it", async () => {
  const s = setup();
  const other = await otherNode();
  try {
    fs.writeFileSync(s.layout.lockFile, lockOf(other.pid, { cmdline: processCmdline(other.pid) }));
    const st = readLock(s.layout);
    assert.is(st.kind, "held");
    const rb = await runCli(["rollback"], { cwd: s.proj.dir });
    assert.is(rb.code, 5, rb.stdout + rb.stderr);
    assert.match(errLine(rb.stderr)!, `Error [LOCK_HELD]: Cannot start: another upgrade is running: session 44444444-4444-4444-8444-444444444444 (pid ${other.pid} on ${os.hostname()}, phase 2, since `);
    assert.match(rb.stderr, `if pid ${other.pid} is not an upgrade, \`agent-os-upgrade unlock --force\` removes the lock`);
    const forced = await runCli(["unlock", "--force"], { cwd: s.proj.dir });
    assert.is(forced.code, 0, forced.stdout + forced.stderr);
    assert.not.ok(fs.existsSync(s.layout.lockFile), "no lock");
  } finally {
    await other.stop();
  }
});

test("a lock proven to be a running upgrade's (start time and command line match): unlock --force refuses, naming how to stop it", async () => {
  const s = setup();
  const other = await otherNode();
  try {
    fs.writeFileSync(s.layout.lockFile, lockOf(other.pid, { cmdline: processCmdline(other.pid), pid_start: processStartTime(other.pid) }));
    const r = await runCli(["unlock", "--force"], { cwd: s.proj.dir });
    assert.is(r.code, 5, r.stdout + r.stderr);
    assert.match(r.stderr, `stop it (\`kill ${other.pid}\`: it rolls back)`);
    assert.ok(fs.existsSync(s.layout.lockFile), "the running upgrade keeps its lock");
    fs.rmSync(s.layout.lockFile);
  } finally {
    await other.stop();
  }
});

test("racing upgrades: the loser's pre-flight refusal while the winner holds the lock is the lock (exit 5 naming the winner), never exit 4", async () => {
  const s = setup();
  const pause = path.join(s.root, "paused");
  const release = path.join(s.root, "release");
  const env = { AOU_PAUSE_AT: "backup", AOU_PAUSE_FILE: pause, AOU_RELEASE_FILE: release };
  // A long timeout: on a busy machine the loser's run must not outlast the winner's kill timer.
  const winner = startCli(["--source", s.src.dir, "--json"], { cwd: s.proj.dir, env, timeoutMs: 300_000 });
  const winnerPid = await waitForPid(pause);
  try {
    // The loser's pre-flight also fails on its own (a source that is not there, as a tree
    // half-moved by the winner would): the lock is still what it must be told.
    const loser = await runCli(["--source", path.join(s.root, "no-such-source"), "--json"], { cwd: s.proj.dir });
    assert.is(loser.code, 5, `winner ${processCmdline(winnerPid) === null ? "gone" : "alive"}\n${loser.stdout}${loser.stderr}`);
    const res = resultOf(loser);
    assert.is(res.error.code, "LOCK_HELD");
    assert.match(res.error.message, `Cannot start: another upgrade is running: session `);
    assert.match(res.error.message, `(pid ${winnerPid} on ${os.hostname()}, phase 1, since `);
    assert.not.match(loser.stdout + loser.stderr, "chmod");
  } finally {
    fs.writeFileSync(release, "");
  }
  const w = await winner.done;
  assert.is(w.code, 0, w.stdout + w.stderr);
  assert.not.ok(fs.existsSync(s.layout.lockFile), "no lock");
});

test.run();
