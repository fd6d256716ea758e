import { test } from "uvu";
import * as assert from "uvu/assert";
import fs from "node:fs";
import path from "node:path";
import { checkGate, gateParts, type PhaseEvidence } from "../core/evidence.ts";
import { builtinPlugins } from "../plugins/mod.ts";
import { isUpgradeError, type UpgradeError } from "../core/errors.ts";
import { readManifestJson as readManifest } from "../plugins/backup/manifest.ts";
import { DEFAULT_INSTALL_PATHS, PROTECTED_PATHS } from "../plugins/backup/roots.ts";
import { isBackupId } from "../plugins/backup/names.ts";
import { harness, makeProject, sha256File } from "./helpers/backup-project.ts";

async function rejects(p: Promise<unknown>): Promise<UpgradeError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isUpgradeError(err), `expected an UpgradeError, got ${err}`);
    return err as UpgradeError;
  }
  throw new Error("expected a rejection");
}

const backupDirs = (backupsDir: string) => (fs.existsSync(backupsDir) ? fs.readdirSync(backupsDir).filter(isBackupId) : []);

/** Independent count: regular files under the default roots, walking with lstat. */
function countFiles(installDir: string, projectRoot: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const walk = (p: string) => {
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) for (const n of fs.readdirSync(p)) walk(path.join(p, n));
    else if (st.isFile()) {
      files++;
      bytes += st.size;
    }
  };
  for (const p of DEFAULT_INSTALL_PATHS) walk(path.join(installDir, p));
  walk(path.join(projectRoot, ".gitignore"));
  walk(path.join(projectRoot, ".cursor/mcp.json"));
  return { files, bytes };
}

test("backs up every path the upgrade may change, hashed, with modes and links, and passes the phase 1 gate", async () => {
  const p = makeProject();
  const h = harness(p.layout);
  const ev = await h.backup();
  assert.equal(checkGate(gateParts(1, builtinPlugins()), h.state.phases["1"].evidence as PhaseEvidence), { ok: true });
  const dir = ev.backup_path as string;
  assert.ok(isBackupId(path.basename(dir)));
  assert.is(ev.backup_id, path.basename(dir));
  const m = readManifest(dir);
  const expect = countFiles(p.layout.installDir, p.root);
  assert.is(ev.files_backed_up, expect.files);
  assert.is(ev.backup_size_bytes, expect.bytes);
  assert.is(m.file_count, expect.files);
  assert.is(m.total_size, expect.bytes);
  assert.is(m.session_id, h.state.session_id);
  assert.equal(m.missing, []);
  for (const r of DEFAULT_INSTALL_PATHS) assert.ok(`install/${r}` in m.roots, `root install/${r} is in the manifest`);
  assert.is(m.roots["project/.gitignore"], "file");
  assert.is(m.roots["project/.cursor/mcp.json"], "file");
  assert.is(m.roots["install/venv"], "dir");

  // Every file: the manifest hash is the original's and the copy's, the mode is the original's.
  for (const [key, hash] of Object.entries(m.files)) {
    const orig = key.startsWith("install/") ? path.join(p.layout.installDir, key.slice(8)) : path.join(p.root, key.slice(8));
    assert.is(hash, sha256File(orig), key);
    assert.is(sha256File(path.join(dir, key)), hash, `copy of ${key}`);
    const e = m.entries[key];
    assert.is(e[0], "f");
    assert.is(e[1], fs.statSync(orig).mode & 0o7777, `mode of ${key}`);
  }
  assert.is(m.entries["install/scripts/update.sh"][1], 0o755);
  assert.is(m.entries["install/config.json"][1], 0o600);
  // Links are recorded and copied as links, never followed (lib64 -> lib would double the venv).
  assert.equal(m.entries["install/venv/bin/python"], ["l", "python3"]);
  assert.equal(m.entries["install/venv/lib64"], ["l", "lib"]);
  assert.equal(m.entries["install/venv/bin/python3"], ["l", "/usr/bin/python3"]);
  assert.is(fs.readlinkSync(path.join(dir, "install/venv/lib64")), "lib");
  assert.ok(fs.lstatSync(path.join(dir, "install/venv/lib64")).isSymbolicLink());
  assert.equal(m.entries["install/venv/lib/python3.11/site-packages/pkg0/dangling"], ["l", "missing-target"]);
  assert.is(m.entries["install/workflows"][0], "d");
  // Nothing user-owned, nothing of ours.
  for (const key of Object.keys(m.entries)) {
    for (const prot of PROTECTED_PATHS) assert.not.ok(key === `install/${prot}` || key.startsWith(`install/${prot}/`), `${key} must not be backed up`);
    assert.not.ok(key.startsWith("install/.cache"), key);
  }
  // The copy is complete: no marker, and the sidecar checksum matches.
  assert.not.ok(fs.existsSync(path.join(dir, ".in-progress.json")));
  assert.ok(fs.existsSync(path.join(dir, "MANIFEST.sha256")));
  assert.ok(h.state.journal.some((j) => j.step === "backup.created" && j.data?.backup_id === ev.backup_id));
});

test("paths that did not exist are listed, with the parent folders that did not exist either", async () => {
  const p = makeProject({ venv: false });
  fs.rmSync(path.join(p.layout.installDir, "usage"), { recursive: true });
  fs.rmSync(path.join(p.root, ".cursor"), { recursive: true });
  const ev = await makeHarnessBackup(p.layout);
  const m = readManifest(ev.backup_path as string);
  assert.equal(m.missing.sort(), ["install/usage", "install/venv", "project/.cursor/mcp.json"]);
  assert.equal(m.missing_parents["project/.cursor/mcp.json"], ["project/.cursor"]);
  assert.is(m.missing_parents["install/usage"], undefined);
  assert.is(m.roots["install/usage"], "missing");
});

function makeHarnessBackup(layout: Parameters<typeof harness>[0]) {
  return harness(layout).backup();
}

test("a root that is a symbolic link is refused, and no backup folder is left", async () => {
  const p = makeProject({ venv: false });
  const elsewhere = path.join(p.root, "real-venv");
  fs.mkdirSync(elsewhere);
  fs.symlinkSync(elsewhere, p.layout.venvDir);
  const err = await rejects(harness(p.layout).backup());
  assert.is(err.code, "BACKUP_FAILED");
  assert.ok(err.message.includes(`Cannot back up ${p.layout.venvDir}: it is a symbolic link to ${elsewhere}`), err.message);
  assert.ok(err.hint?.includes('exclude: ["venv"]'), err.hint);
  assert.equal(backupDirs(p.layout.backupsDir), []);
});

test("exclude leaves a default path out; a protected path in the options is refused", async () => {
  const p = makeProject({ venv: false });
  const ev = await harness(p.layout, { plugin: { exclude: ["venv", ".cursor/mcp.json"] } }).backup();
  const m = readManifest(ev.backup_path as string);
  assert.not.ok("install/venv" in m.roots);
  assert.not.ok("project/.cursor/mcp.json" in m.roots);
  const err = await rejects(harness(p.layout, { plugin: { include: ["specs/2025-10-01-feature"] } }).backup());
  assert.is(err.code, "CONFIG_INVALID");
  assert.ok(err.message.includes('overlaps the protected path "specs"'), err.message);
  const err2 = await rejects(harness(p.layout, { plugin: { include: ["standards"] } }).backup());
  assert.ok(err2.message.includes('"standards" on its own') || err2.message.includes('protected path "standards/development"'), err2.message);
});

test("an interrupted backup removes its half-made folder and says so", async () => {
  const p = makeProject();
  let h: ReturnType<typeof harness>;
  h = harness(p.layout, {
    onEvent: (e) => {
      if (e.type === "progress" && e.label === "backup:copy" && e.done >= 64) h.abort.abort(new Error("Cannot continue: interrupted by SIGINT"));
    },
  });
  const err = await rejects(h.backup());
  assert.is(err.code, "INTERRUPTED");
  assert.is(err.message, "Plugin \"backup\" failed in hook \"backup\": Cannot finish the backup: interrupted by SIGINT");
  assert.ok(err.hint?.includes("partial backup was removed"));
  assert.equal(backupDirs(p.layout.backupsDir), []);
  // Only the folder's own .gitignore (`*`: backups never show in git status) is left.
  assert.equal(fs.readdirSync(p.layout.backupsDir), [".gitignore"]);
  assert.match(fs.readFileSync(path.join(p.layout.backupsDir, ".gitignore"), "utf8"), /^\*$/m);
});

test("a special file (a fifo) is recorded and left alone, never opened", async () => {
  const p = makeProject({ venv: false });
  const fifo = path.join(p.layout.installDir, "workflows", "pipe");
  // A special file is recorded and left alone (a warning), not read (which would block).
  const { execFileSync } = await import("node:child_process");
  execFileSync("mkfifo", [fifo]);
  const h = harness(p.layout);
  const ev = await h.backup();
  const m = readManifest(ev.backup_path as string);
  assert.equal(m.entries["install/workflows/pipe"], ["o", "fifo"]);
  assert.equal(m.skipped, ["install/workflows/pipe"]);
  assert.ok(h.events.some((e) => e.type === "log" && e.level === "warn" && e.message.includes("is a fifo")));
});

test.run();
