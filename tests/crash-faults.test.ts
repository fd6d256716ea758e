/**
 * Faults at the edges of the promise (issue 13), each on a real upgrade: an injected ENOSPC
 * in phase 1 and in phase 2 (Node only: the fault preload hooks node:fs through Node's
 * --import), SIGINT in phase 4 and in phase 5 (both runtimes: a test plugin holds the hook
 * until the signal is in), and SIGKILL of the upgrade while pip runs (no pip may survive it).
 */
import { Buffer } from "node:buffer";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { REPO, runCli, RUNTIME, startCli } from "./helpers/cli.ts";
import { lastResult, makeTemplate, runFaulted, sessionOf, tempFiles, treeDiff, treeHash, UPGRADE } from "./helpers/crash.ts";
import { createMcpProject } from "./helpers/mcp-project.ts";
import { offlinePipArgs } from "../demo/kit/wheels.ts";
import { waitForFile, waitForPid } from "./helpers/wait.ts";

const test = suite("crash-faults");
const roots: string[] = [];
const tmpRoot = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "aou-crashf-"));
  roots.push(d);
  return d;
};
test.after.each(() => {
  for (const d of roots.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});


/** A config that keeps the built-ins (minus live-server validation) and adds the pause plugin. */
function pauseConfig(root: string): string {
  const file = path.join(root, "pause.config.ts");
  fs.writeFileSync(file, `import pause from ${JSON.stringify(path.join(REPO, "tests/helpers/crash-pause.ts"))};\nexport default { disable: ["validate"], plugins: [pause] };\n`);
  return file;
}

if (RUNTIME === "node") {
  // One content write in phase 2 fails: the phase fails, and the rollback leaves the tree exactly old.
  // EACCES is injected: as root a real permission error cannot be made (a folder read-only for another user would raise it).
  const phase2Faults: Array<{ kind: string; code: string; at: string }> = [{ kind: "enospc", code: "ENOSPC", at: "3" }, { kind: "eacces", code: "EACCES", at: "2" }];
  for (const f of phase2Faults) {
    test(`${f.code} on a content write in phase 2 rolls back: exit 7, one line naming the file, tree exactly old, no lock, no temp file`, async () => {
      const t = makeTemplate(tmpRoot());
      const before = treeHash(t.project, false);
      const r = await runFaulted(UPGRADE(t.source, t.config), t.project, {
        AOU_FAULT_KIND: f.kind,
        AOU_FAULT_MATCH: "/\\.agent-os/standards/universal/.*\\.tmp$",
        AOU_FAULT_AT: f.at,
      });
      assert.is(r.code, 7, r.stdout + r.stderr);
      const res = lastResult(r.stdout);
      assert.is(res.status, "rolled_back");
      assert.match(res.error.message, f.code);
      assert.match(res.error.message, "standards/universal/");
      assert.not.match(r.stderr + r.stdout, "INTERNAL");
      assert.equal(treeDiff(before, treeHash(t.project, false)), []);
      assert.is(fs.existsSync(path.join(t.project, ".agent-os/.upgrade-lock")), false);
      assert.equal(tempFiles(t.project), []);
      assert.is(sessionOf(t.project, res.session_id).status, "rolled_back");
    });
  }

  // Disk full when phase 1 starts: its first write (the backups folder), and its first file copy
  // (a record such as VERSION.txt: the content files are not copied, phase 2 links them in).
  for (const [what, match] of [["the backups folder", "/\\.agent-os/\\.backups$"], ["the first file copied", "/\\.backups/[^/]+/install/[^/]+\\.(md|txt)$"]]) {
    test(`ENOSPC on ${what} in phase 1: exit 1 with one line and the fix, tree exactly old, no lock, no partial backup`, async () => {
      const t = makeTemplate(tmpRoot());
      const before = treeHash(t.project, false);
      const r = await runFaulted(UPGRADE(t.source, t.config), t.project, { AOU_FAULT_KIND: "enospc", AOU_FAULT_MATCH: match, AOU_FAULT_AT: "1" });
      assert.is(r.code, 1, r.stdout + r.stderr);
      const res = lastResult(r.stdout);
      assert.is(res.status, "failed");
      assert.is(res.error.code, "BACKUP_FAILED");
      assert.match(res.error.message, /^Plugin "backup" failed in hook "backup": Cannot back up (the installation: |1 file: install\/[\w.-]+\.(md|txt) \()ENOSPC: no space left on device \(injected\), \w+, '[^']*\/\.agent-os\/\.backups[^']*'\)?$/);
      assert.is(res.error.hint, `The disk holding ${fs.realpathSync(t.project)}/.agent-os/.backups is full: free space (old backups: \`agent-os-upgrade backups prune\`) and run the upgrade again; nothing was changed`);
      assert.not.match(r.stdout + r.stderr, "INTERNAL");
      assert.equal(treeDiff(before, treeHash(t.project, false)), []);
      assert.is(fs.existsSync(path.join(t.project, ".agent-os/.upgrade-lock")), false);
      assert.equal(tempFiles(t.project), []);
      const backups = path.join(t.project, ".agent-os/.backups");
      assert.equal(fs.existsSync(backups) ? fs.readdirSync(backups).filter((n) => n !== ".gitignore") : [], []);
    });
  }

  test("pre-flight refuses file names that cannot be installed as they are, by name, before any write (exit 4)", async () => {
    const t = makeTemplate(tmpRoot());
    const before = treeHash(t.project, false);
    const std = path.join(t.source, "universal/standards");
    fs.writeFileSync(path.join(std, "..\\..\\x.md"), "escape\n");
    fs.writeFileSync(Buffer.concat([Buffer.from(std + "/caf"), Buffer.from([0xe9]), Buffer.from(".md")]), "latin-1 name\n");
    const r = await runFaulted(UPGRADE(t.source, t.config), t.project, {});
    assert.is(r.code, 4, r.stdout + r.stderr);
    const res = lastResult(r.stdout);
    assert.is(res.error.code, "PREFLIGHT_FAILED");
    const finding = res.findings.find((f: { code: string }) => f.code === "UNSAFE_FILE_NAME");
    assert.ok(finding, JSON.stringify(res.findings));
    assert.match(finding.message, "..\\..\\x.md");
    assert.match(finding.message, "caf\\xe9.md");
    assert.equal(treeDiff(before, treeHash(t.project, false)), []);
  });

  test("EIO on a state save inside phase 2 is a failure of the phase: exit 7, tree exactly old, no lock", async () => {
    const t = makeTemplate(tmpRoot());
    const before = treeHash(t.project, false);
    // The state's temp files, renamed into place: the 6th is a save after phase 2 began.
    const r = await runFaulted(UPGRADE(t.source, t.config), t.project, {
      AOU_FAULT_KIND: "eio",
      AOU_FAULT_MATCH: "/\\.cache/state/\\..*\\.tmp$",
      AOU_FAULT_AT: "12",
    });
    const res = lastResult(r.stdout);
    assert.is(r.code, 7, r.stdout + r.stderr);
    assert.match(res.error.message, "EIO");
    assert.equal(treeDiff(before, treeHash(t.project, false)), []);
    assert.is(fs.existsSync(path.join(t.project, ".agent-os/.upgrade-lock")), false);
    assert.equal(tempFiles(t.project), []);
  });
}

// The signal is sent with process.kill(pid), not child.kill(): Deno's node:child_process
// records the signal its kill() sent as the child's end, so 'close' reported (null, "SIGINT")
// for a CLI that had exited 7 or 0. Sent by pid, the real exit code is seen on both runtimes.
const interrupt = (pid: number | undefined) => process.kill(pid!, "SIGINT");

// SIGHUP is a closed terminal: it rolls back like SIGINT.
for (const signal of ["SIGINT", "SIGHUP"] as const) {
  test(`${signal} in phase 4 rolls back: exit 7, tree exactly old, no lock`, async () => {
    const root = tmpRoot();
    const t = makeTemplate(root);
    const before = treeHash(t.project, false);
    const pauseFile = path.join(root, "paused");
    const release = path.join(root, "release");
    const { child, done } = startCli(UPGRADE(t.source, pauseConfig(root)), { cwd: t.project, env: { AOU_PAUSE_AT: "validate", AOU_PAUSE_FILE: pauseFile, AOU_RELEASE_FILE: release }, timeoutMs: 120_000 });
    await waitForFile(pauseFile, 90_000);
    process.kill(child.pid!, signal);
    await new Promise((r) => setTimeout(r, 300));
    fs.writeFileSync(release, "");
    const r = await done;
    assert.is(r.code, 7, r.stdout + r.stderr);
    const res = lastResult(r.stdout);
    assert.is(res.status, "rolled_back");
    assert.is(res.error.code, "INTERRUPTED");
    assert.is(res.error.message, `Cannot continue: interrupted by ${signal}`);
    assert.equal(treeDiff(before, treeHash(t.project, false)), []);
    assert.is(fs.existsSync(path.join(t.project, ".agent-os/.upgrade-lock")), false);
    assert.equal(tempFiles(t.project), []);
  });
}

test("a second signal exits at once (130), saying what rollback and resume will do; rollback then restores exactly", async () => {
  const root = tmpRoot();
  const t = makeTemplate(root);
  const before = treeHash(t.project, false);
  const pauseFile = path.join(root, "paused");
  // Never released: the first signal cannot end the paused step, only the second one ends the process.
  const { child, done } = startCli(UPGRADE(t.source, pauseConfig(root)), { cwd: t.project, env: { AOU_PAUSE_AT: "validate", AOU_PAUSE_FILE: pauseFile, AOU_RELEASE_FILE: path.join(root, "never") }, timeoutMs: 120_000 });
  await waitForFile(pauseFile, 90_000);
  interrupt(child.pid);
  await new Promise((r) => setTimeout(r, 500));
  interrupt(child.pid);
  const r = await done;
  assert.is(r.code, 130, r.stdout + r.stderr);
  const said = r.stdout + r.stderr;
  assert.match(said, /Received SIGINT again: exiting now\. `agent-os-upgrade rollback` restores the backup of session [0-9a-f-]{36}; `resume` continues it from phase 4/);
  assert.is(fs.existsSync(path.join(t.project, ".agent-os/.upgrade-lock")), true, "the lock stays for the next command to report");
  const rb = await runCli(["rollback", "--yes", "--config", pauseConfig(root)], { cwd: t.project, timeoutMs: 120_000 });
  assert.is(rb.code, 0, rb.stdout + rb.stderr);
  assert.equal(treeDiff(before, treeHash(t.project, false)), []);
  assert.is(fs.existsSync(path.join(t.project, ".agent-os/.upgrade-lock")), false);
  assert.equal(tempFiles(t.project), []);
});

test("SIGINT in phase 5 finishes the cleanup: exit 0, session completed, lock released", async () => {
  const root = tmpRoot();
  const t = makeTemplate(root);
  const pauseFile = path.join(root, "paused");
  const release = path.join(root, "release");
  const { child, done } = startCli(UPGRADE(t.source, pauseConfig(root)), { cwd: t.project, env: { AOU_PAUSE_AT: "cleanup", AOU_PAUSE_FILE: pauseFile, AOU_RELEASE_FILE: release }, timeoutMs: 120_000 });
  await waitForFile(pauseFile, 90_000);
  interrupt(child.pid);
  await new Promise((r) => setTimeout(r, 300));
  fs.writeFileSync(release, "");
  const r = await done;
  assert.is(r.code, 0, r.stdout + r.stderr);
  const res = lastResult(r.stdout);
  assert.is(res.status, "completed");
  const state = sessionOf(t.project, res.session_id);
  assert.is(state.status, "completed");
  assert.equal(state.completed_phases, [0, 1, 2, 3, 4, 5]);
  assert.is(fs.existsSync(path.join(t.project, ".agent-os/.upgrade-lock")), false);
  assert.match(fs.readFileSync(path.join(t.project, ".agent-os/VERSION.txt"), "utf8"), /commit=[0-9a-f]{40}/);
});

test("SIGKILL of the upgrade during `pip install`: no pip survives", async () => {
  const p = await createMcpProject();
  roots.push(p.root);
  // The venv's interpreter, wrapped: `-m pip install` records its pid and takes its time.
  const py = p.venv.python;
  const real = fs.realpathSync(py);
  const mark = path.join(p.root, "pip.pid");
  fs.rmSync(py);
  fs.writeFileSync(py, `#!/bin/sh\nif [ "$1 $2 $3" = "-m pip install" ]; then echo $$ > ${mark}; sleep 120; fi\nexec ${real} "$@"\n`, { mode: 0o755 });
  const config = path.join(p.root, "pip.config.ts");
  fs.writeFileSync(config, `import { depsPlugin } from ${JSON.stringify(path.join(REPO, "plugins/deps.ts"))};\nexport default { disable: ["validate"], plugins: [depsPlugin({ extraArgs: ${JSON.stringify(offlinePipArgs(p.wheelhouse))} })] };\n`);
  const { child, done } = startCli(["--source", p.source, "--on-conflict", "theirs", "--yes", "--no-restart", "--config", config], { cwd: p.project, timeoutMs: 180_000 });
  const pipPid = await waitForPid(mark, 150_000);
  assert.ok(fs.existsSync(`/proc/${pipPid}`), "pip is running");
  child.kill("SIGKILL");
  await done;
  const deadline = Date.now() + 5_000;
  const alive = () => fs.existsSync(`/proc/${pipPid}`) && !/\) [ZX] /.test(fs.readFileSync(`/proc/${pipPid}/stat`, "utf8"));
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.is(alive(), false, `pip (pid ${pipPid}) outlived the killed upgrade`);
});

test.run();
