/**
 * Makes a backup: copies every root into `.backups/<id>/`, hashing the bytes as they are
 * copied, verifies the copies, then writes MANIFEST.json last.
 *
 * Which means per path, and why:
 * - Rename-aside (move the original into the backup) is O(1), but it is wrong for every
 *   path here: the content phase three-way-merges into `standards/universal`, `workflows`
 *   and `usage` (it reads the local files), pip installs into the venv in place, the running
 *   server imports from `mcp_server/` until phase 3 swaps it, phase 2 reads the installed
 *   manifest as its merge base, and the logs are appended to. Moving any of them away would
 *   break the upgrade — or, after a crash between the move and the rewrite, leave the
 *   installation without them.
 * - Hard links are O(1) too, but share the inode: pip (and editors) write some files in
 *   place, which would change the "backup" along with the original.
 * - A copy-on-write clone (`COPYFILE_FICLONE_FORCE`: btrfs, XFS with reflink, APFS) shares
 *   blocks until either side is written, so it is as cheap as a link and as safe as a copy.
 *   It is used wherever a probe clone succeeds.
 * - Otherwise a streamed copy, hashed in the same pass (one read of the original).
 * Symbolic links are copied as links and never followed; special files are recorded and left
 * alone. The copies are then re-read and checked against the hashes before the backup counts.
 */
import fs from "node:fs";
import path from "node:path";
import { fsyncDir, scratchPrefix } from "../../core/atomic.ts";
import { UpgradeError } from "../../core/errors.ts";
import type { Layout } from "../../core/layout.ts";
import { claimBackupDir } from "./names.ts";
import {
  clearMarker,
  ctimeOf,
  ENTRY_FORMAT,
  EntryTable,
  K_DIR,
  K_FILE,
  K_LINK,
  type FileEntry,
  type Manifest,
  MANIFEST_FORMAT,
  mtimeOf,
  type RootKind,
  writeManifest,
  writeMarker,
} from "./manifest.ts";
import { copyHashed, hashFile, inSlices } from "./copy.ts";
import { assertNoLinkedParents, type Root } from "./roots.ts";
import { lstatOrNull, removeTree, syncFilesystem } from "./fsutil.ts";
import type { MovedRecord } from "./moved.ts";

export interface SnapshotOptions {
  sessionId: string | null;
  /** Files copied or verified between two turns of the event loop. */
  batchSize?: number;
  /** Flush the backup to disk before returning (default true). */
  sync?: boolean;
  signal?: AbortSignal;
  /** Called after each slice of files is copied, and after each slice is verified. */
  onProgress?: (stage: "copy" | "verify", done: number, total: number) => void;
  onWarning?: (message: string) => void;
  now?: Date;
  /** Folders recorded (hashed) but not copied: the upgrade moves them into the backup (moved.ts). */
  moved?: Record<string, MovedRecord>;
  /** Files recorded from their writer's plan hash and a stat, not copied: the writer links each in before replacing it (scope.ts `taken`). */
  taken?: Array<Root & { sha: string }>;
  /** Roots that are symbolic links are recorded as links (a "before rollback" backup keeps a user's link as it was); otherwise refused. */
  linkRoots?: boolean;
}

export interface SnapshotResult {
  id: string;
  dir: string;
  manifest: Manifest;
  timings: { copy_ms: number; verify_ms: number; sync_ms: number; total_ms: number };
  sync: "syncfs" | "fsync" | "none";
}

interface Problem {
  key: string;
  code: string;
  message: string;
}

function interrupted(signal: AbortSignal): UpgradeError {
  const r = signal.reason;
  const why = r instanceof Error ? r.message.replace(/^Cannot continue: /, "") : "interrupted";
  return new UpgradeError("INTERRUPTED", `Cannot finish the backup: ${why}`, {
    hint: "The partial backup was removed and nothing else was changed; run the upgrade again",
  });
}

/** True when `COPYFILE_FICLONE_FORCE` really clones between two files of this folder. */
function probeClone(dir: string): boolean {
  if (!forceFlagHonoured()) return false;
  const a = path.join(dir, ".clone-probe-a");
  const b = path.join(dir, ".clone-probe-b");
  try {
    fs.writeFileSync(a, "probe");
    fs.copyFileSync(a, b, fs.constants.COPYFILE_FICLONE_FORCE);
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(a, { force: true });
    fs.rmSync(b, { force: true });
  }
}

let honoured: boolean | undefined;
/**
 * Some runtimes accept the flag and silently copy (Deno 2 does). tmpfs can never clone, so a
 * "successful" forced clone there means the flag is ignored: then the streamed copy, which
 * hashes in the same pass, is the better choice.
 */
function forceFlagHonoured(): boolean {
  if (honoured !== undefined) return honoured;
  let dir: string | null = null;
  try {
    if (!fs.statSync("/dev/shm").isDirectory()) return (honoured = true);
    dir = fs.mkdtempSync(scratchPrefix("/dev/shm", "clone"));
    fs.writeFileSync(path.join(dir, "a"), "probe");
    fs.copyFileSync(path.join(dir, "a"), path.join(dir, "b"), fs.constants.COPYFILE_FICLONE_FORCE);
    honoured = false;
  } catch {
    honoured = true; // refused on tmpfs, as it must be (or no tmpfs to ask): trust the flag
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
  return honoured;
}

/** Ancestors of a missing path that are missing too, nearest first, up to (not including) its base. */
function missingParents(layout: Layout, root: Root): string[] {
  const base = root.key.startsWith("install/") ? layout.installDir : layout.projectRoot;
  const out: string[] = [];
  let cur = path.dirname(root.abs);
  let key = root.key.slice(0, root.key.lastIndexOf("/"));
  while (cur !== base && cur.startsWith(base) && !lstatOrNull(cur)) {
    out.push(key);
    cur = path.dirname(cur);
    key = key.slice(0, key.lastIndexOf("/"));
  }
  return out;
}

/** What the walk of the roots found: every entry, and the files still to copy. */
interface Walked {
  table: EntryTable;
  rootKinds: Record<string, RootKind>;
  missing: string[];
  missingParents: Record<string, string[]>;
  skipped: string[];
  /** Each file to copy: its table index and its live path. */
  files: Array<{ i: number; src: string }>;
  /** Keys of the files recorded but not copied (`taken`). */
  taken: Set<string>;
}

export async function createSnapshot(layout: Layout, roots: Root[], opts: SnapshotOptions): Promise<SnapshotResult> {
  const t0 = performance.now();
  const started = opts.now ?? new Date();
  for (const r of roots) assertNoLinkedParents(layout, r);
  const id = claimBackupDir(layout.backupsDir, started);
  const dir = path.join(layout.backupsDir, id);
  try {
    writeMarker(dir, opts.sessionId);
    const clone = probeClone(dir);
    const walked = walkRoots(layout, roots, dir, opts);
    recordTaken(walked, dir, opts.taken ?? []);
    const files = await copyFiles(walked, dir, clone, opts, layout);
    const tCopied = performance.now();
    const verifyStarted = Date.now();
    await verifyCopies(walked.table, files, dir, opts);
    if (opts.signal?.aborted) throw interrupted(opts.signal);
    const tVerified = performance.now();
    const sync: SnapshotResult["sync"] = opts.sync === false ? "none" : syncFilesystem(dir, () => files.map((i) => path.join(dir, walked.table.keys[i])));
    const tSynced = performance.now();
    const manifest = buildManifest(layout, walked, files, {
      id, dir, started, clone, sessionId: opts.sessionId, moved: opts.moved ?? {}, verifyStarted, durationMs: Math.round(tSynced - t0),
    });
    manifest.taken = [...walked.taken].sort();
    manifest.file_count += walked.taken.size;
    writeManifest(dir, manifest);
    clearMarker(dir);
    fsyncDir(layout.backupsDir);
    return {
      id,
      dir,
      manifest,
      sync,
      timings: {
        copy_ms: Math.round(tCopied - t0),
        verify_ms: Math.round(tVerified - tCopied),
        sync_ms: Math.round(tSynced - tVerified),
        total_ms: Math.round(performance.now() - t0),
      },
    };
  } catch (err) {
    // Never leave a half-made backup behind under a backup's name.
    try {
      removeTree(dir);
    } catch { /* the sweep of the next run removes it (its marker names a dead process) */ }
    throw err;
  }
}

/**
 * Records each taken file: its stat now and the hash its writer's plan read (the writer
 * re-checks that hash right before it links the file in). Its folder in the backup is made
 * now, so that the link in phase 2 needs no new space.
 */
function recordTaken(w: Walked, dir: string, taken: Array<Root & { sha: string }>): void {
  for (const f of taken) {
    const st = fs.lstatSync(f.abs);
    fs.mkdirSync(path.dirname(path.join(dir, f.key)), { recursive: true, mode: 0o700 });
    w.rootKinds[f.key] = "file";
    w.table.add(f.key, ["f", st.mode & 0o7777, st.size, mtimeOf(st.mtimeMs), ctimeOf(st.ctimeMs), st.ino, 0, 0], f.sha);
    w.taken.add(f.key);
  }
}

/**
 * Walks every root: records folders, links and special files, creates the folders and links
 * in the backup, and lists the files to copy. Roots that do not exist are recorded as
 * missing (the upgrade may create them; rollback removes them).
 */
function walkRoots(layout: Layout, roots: Root[], dir: string, opts: SnapshotOptions): Walked {
  const w: Walked = { table: new EntryTable(), rootKinds: {}, missing: [], missingParents: {}, skipped: [], files: [], taken: new Set() };
  for (const root of roots) {
    const st = lstatOrNull(root.abs);
    if (!st) {
      w.rootKinds[root.key] = "missing";
      w.missing.push(root.key);
      const parents = missingParents(layout, root);
      if (parents.length) w.missingParents[root.key] = parents;
      continue;
    }
    fs.mkdirSync(path.dirname(path.join(dir, root.key)), { recursive: true, mode: 0o700 });
    if (st.isSymbolicLink() && opts.linkRoots) {
      const target = fs.readlinkSync(root.abs);
      fs.symlinkSync(target, path.join(dir, root.key));
      w.rootKinds[root.key] = "link";
      w.table.add(root.key, ["l", target]);
      continue;
    }
    assertCopyableRoot(root, st);
    w.rootKinds[root.key] = st.isDirectory() ? "dir" : "file";
    if (st.isDirectory()) walkFolder(w, root.key, root.abs, st, dir, opts);
    else w.files.push({ i: w.table.add(root.key, ["f", 0, 0, 0, 0, 0, 0, 0]), src: root.abs });
  }
  return w;
}

function assertCopyableRoot(root: Root, st: fs.Stats): void {
  if (st.isSymbolicLink()) {
    throw new UpgradeError("BACKUP_FAILED", `Cannot back up ${root.abs}: it is a symbolic link to ${fs.readlinkSync(root.abs)}`, {
      hint: `The upgrade would change what the link points at, which no backup of the link can restore. Replace the link by a copy of its target, or leave it out with the backup plugin's \`exclude: ["${root.key.slice(root.key.indexOf("/") + 1)}"]\` option`,
    });
  }
  if (!st.isDirectory() && !st.isFile()) {
    throw new UpgradeError("BACKUP_FAILED", `Cannot back up ${root.abs}: it is neither a file nor a folder`, {
      hint: "Move it away or exclude it with the backup plugin's `exclude` option",
    });
  }
}

function walkFolder(w: Walked, key: string, src: string, st: fs.Stats, dir: string, opts: SnapshotOptions): void {
  fs.mkdirSync(path.join(dir, key), { recursive: true, mode: 0o700 });
  w.table.add(key, ["d", st.mode & 0o7777, mtimeOf(st.mtimeMs), ctimeOf(st.ctimeMs), st.ino]);
  for (const d of fs.readdirSync(src, { withFileTypes: true })) {
    const childKey = `${key}/${d.name}`;
    const child = path.join(src, d.name);
    if (d.isDirectory()) walkFolder(w, childKey, child, fs.lstatSync(child), dir, opts);
    else if (d.isFile()) w.files.push({ i: w.table.add(childKey, ["f", 0, 0, 0, 0, 0, 0, 0]), src: child });
    else if (d.isSymbolicLink()) {
      const target = fs.readlinkSync(child);
      fs.symlinkSync(target, path.join(dir, childKey));
      w.table.add(childKey, ["l", target]);
    } else {
      // lstat, not the dirent: Deno's dirents do not tell a fifo from a device.
      const ls = fs.lstatSync(child);
      const kind = ls.isFIFO() ? "fifo" : ls.isSocket() ? "socket" : "device";
      w.table.add(childKey, ["o", kind]);
      w.skipped.push(childKey);
      opts.onWarning?.(`Not backed up: ${child} is a ${kind}; rollback leaves it as it is`);
    }
  }
}

/**
 * Copies every listed file, hashing the bytes on the way, and records what was copied. A
 * file deleted between the walk and its copy (a server's __pycache__ churn) is no longer
 * part of what the backup must restore: it is dropped. Returns the files kept.
 */
async function copyFiles(w: Walked, dir: string, clone: boolean, opts: SnapshotOptions, layout: Layout): Promise<number[]> {
  const t = w.table;
  const problems: Problem[] = [];
  const vanished = new Set<number>();
  await inSlices(w.files, ({ i, src }) => {
    const r = copyHashed(src, path.join(dir, t.keys[i]), { clone, sync: false });
    if (r.err?.code === "ENOENT") vanished.add(i);
    else if (r.err) problems.push({ key: t.keys[i], ...r.err });
    else {
      t.entries[i] = ["f", r.ok.mode, r.ok.size, mtimeOf(r.ok.mtimeMs), ctimeOf(r.ok.ctimeMs), r.ok.ino, 0, 0];
      t.sha[i] = r.ok.sha;
    }
  }, sliceOptions(opts, (done) => opts.onProgress?.("copy", done, w.files.length)));
  if (problems.length) throw copyFailed(layout, problems);
  // From here on the table is in key order (the manifest's), so indexes change: every file entry left is a kept copy.
  w.table = t.sorted(vanished);
  return w.table.keys.flatMap((_, i) => (w.table.kind(i) === K_FILE && !w.taken.has(w.table.keys[i]) ? [i] : []));
}

/** Re-reads every copy and compares it with the hash of the original; records each copy's inode and ctime. */
async function verifyCopies(t: EntryTable, files: number[], dir: string, opts: SnapshotOptions): Promise<void> {
  const bad: Problem[] = [];
  await inSlices(files, (i) => {
    const key = t.keys[i];
    const r = hashFile(path.join(dir, key));
    if (r.err) bad.push({ key, ...r.err });
    else if (r.ok.sha !== t.shaHex(i) || r.ok.size !== t.size(i)) {
      bad.push({ key, code: "EVERIFY", message: `the copy does not match the original (sha256 ${r.ok.sha.slice(0, 12)}…, expected ${t.shaHex(i).slice(0, 12)}…)` });
    } else {
      const e = t.entries[i] as FileEntry;
      e[6] = r.ok.ino;
      e[7] = ctimeOf(r.ok.ctimeMs);
    }
  }, sliceOptions(opts, (done) => opts.onProgress?.("verify", done, files.length)));
  if (bad.length) {
    throw new UpgradeError("BACKUP_FAILED", `Cannot verify the backup: ${bad.length} cop${bad.length === 1 ? "y does" : "ies do"} not match the original: ${bad.slice(0, 5).map((b) => `${b.key} (${b.message})`).join("; ")}`, {
      hint: "The disk may be failing or something wrote into .agent-os/.backups during the backup; check the disk and run the upgrade again",
      details: { files: bad.slice(0, 100) },
    });
  }
}

function sliceOptions(opts: SnapshotOptions, onSlice: (done: number) => void) {
  return { slice: opts.batchSize, signal: opts.signal, onAbort: () => interrupted(opts.signal!), onSlice };
}

function buildManifest(
  layout: Layout,
  w: Walked,
  files: number[],
  at: { id: string; dir: string; started: Date; clone: boolean; sessionId: string | null; moved: Manifest["moved"]; verifyStarted: number; durationMs: number },
): Manifest {
  const t = w.table;
  let totalSize = 0;
  let dirs = 0;
  let links = 0;
  for (let i = 0; i < t.length; i++) {
    const k = t.kind(i);
    if (k === K_FILE) totalSize += t.size(i);
    else if (k === K_DIR) dirs++;
    else if (k === K_LINK) links++;
  }
  return {
    format: MANIFEST_FORMAT,
    tool: "agent-os-upgrade",
    backup_id: at.id,
    timestamp: at.started.toISOString(),
    started_at_ms: at.started.getTime(),
    verify_started_ms: at.verifyStarted,
    duration_ms: at.durationMs,
    backup_path: at.dir,
    session_id: at.sessionId,
    project_root: layout.projectRoot,
    install_dir: layout.installDir,
    method: at.clone ? "clone" : "copy",
    roots: w.rootKinds,
    missing: w.missing,
    missing_parents: w.missingParents,
    total_size: totalSize,
    file_count: files.length,
    dir_count: dirs,
    symlink_count: links,
    skipped: w.skipped,
    entry_format: ENTRY_FORMAT,
    moved: at.moved,
    entries: t,
  };
}

function copyFailed(layout: Layout, problems: Problem[]): UpgradeError {
  const first = problems[0];
  const where = first.key;
  const space = problems.some((p) => p.code === "ENOSPC");
  const denied = problems.some((p) => p.code === "EACCES" || p.code === "EPERM");
  return new UpgradeError("BACKUP_FAILED", `Cannot back up ${problems.length} file${problems.length === 1 ? "" : "s"}: ${problems.slice(0, 5).map((p) => `${p.key} (${p.message.startsWith(`${p.code}:`) ? p.message : `${p.code}: ${p.message}`})`).join("; ")}`, {
    hint: space
      ? `The disk holding ${layout.backupsDir} is full: free space (old backups: \`agent-os-upgrade backups prune\`) and run the upgrade again; nothing was changed`
      : denied
      ? `Make the named files readable by this user (e.g. chmod u+r), then run the upgrade again`
      : `Fix the problem with ${where} and run the upgrade again; nothing was changed`,
    details: { files: problems.slice(0, 100) },
  });
}
