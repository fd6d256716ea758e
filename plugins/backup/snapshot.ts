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
 * - Otherwise a streamed copy, hashed in the same pass (one read of the original), in a
 *   worker pool, while the main thread walks the tree and creates folders ahead of it.
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
  K_OTHER,
  type Manifest,
  MANIFEST_FORMAT,
  mtimeOf,
  type RootKind,
  writeManifest,
  writeMarker,
} from "./manifest.ts";
import { type CopyItem, type CopyOk, FilePool, type JobResult } from "./pool.ts";
import { assertNoLinkedParents, type Root } from "./roots.ts";
import { lstatOrNull, removeTree, syncFilesystem } from "./fsutil.ts";
import type { MovedRecord } from "./moved.ts";

export interface SnapshotOptions {
  sessionId: string | null;
  threads?: number;
  /** Files per worker job. */
  batchSize?: number;
  /** Flush the backup to disk before returning (default true). */
  sync?: boolean;
  signal?: AbortSignal;
  /** Called after each batch of files is copied, and after each batch is verified. */
  onProgress?: (stage: "copy" | "verify", done: number, total: number) => void;
  onWarning?: (message: string) => void;
  now?: Date;
  /** Folders recorded (hashed) but not copied: the upgrade moves them into the backup (moved.ts). */
  moved?: Record<string, MovedRecord>;
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

export async function createSnapshot(layout: Layout, roots: Root[], opts: SnapshotOptions): Promise<SnapshotResult> {
  const t0 = performance.now();
  const started = opts.now ?? new Date();
  const batchSize = opts.batchSize ?? 128;
  for (const r of roots) assertNoLinkedParents(layout, r);

  const id = claimBackupDir(layout.backupsDir, started);
  const dir = path.join(layout.backupsDir, id);
  let pool: FilePool | null = null;
  try {
    writeMarker(dir, opts.sessionId);
    const clone = probeClone(dir);
    pool = new FilePool(opts.threads);
    const table = new EntryTable();
    const rootKinds: Record<string, RootKind> = {};
    const missing: string[] = [];
    const missingParentsOf: Record<string, string[]> = {};
    const skipped: string[] = [];
    const problems: Problem[] = [];
    /** Table index of each file, in the order the files were found. */
    const fileIdx: number[] = [];
    const vanished = new Set<number>();

    // Walk and copy: batches go to the pool as the walk finds them; at most a few batches
    // per worker are in flight, which bounds memory and lets an interruption stop quickly.
    const inFlight = new Set<Promise<void>>();
    let batch: CopyItem[] = [];
    let batchIdx: number[] = [];
    let copied = 0;
    const onResults = (idx: number[], results: JobResult<CopyOk>[]) => {
      for (let j = 0; j < idx.length; j++) {
        const r = results[j];
        const i = idx[j];
        if (r.err?.[0] === "ENOENT") {
          // Deleted between the walk and the copy (a server's __pycache__ churn): it is not
          // there any more, so it is not part of what the backup must restore.
          vanished.add(i);
          continue;
        }
        if (r.err) {
          problems.push({ key: table.keys[i], code: r.err[0], message: r.err[1] });
          continue;
        }
        const [sha, size, mode, mtimeMs, ctimeMs, ino] = r.ok;
        table.setSha(i, sha);
        table.setNum(i, 0, mode);
        table.setNum(i, 1, size);
        table.setNum(i, 2, mtimeOf(mtimeMs));
        table.setNum(i, 3, ctimeOf(ctimeMs));
        table.setNum(i, 4, ino);
      }
      copied += idx.length;
      opts.onProgress?.("copy", copied, fileIdx.length);
    };
    const flush = async () => {
      if (!batch.length) return;
      const items = batch;
      const idx = batchIdx;
      batch = [];
      batchIdx = [];
      const p: Promise<void> = pool!.copy(items, { clone, sync: false }).then((rs) => onResults(idx, rs));
      inFlight.add(p);
      p.finally(() => inFlight.delete(p)).catch(() => {});
      while (inFlight.size >= pool!.size * 2) await Promise.race(inFlight);
      if (opts.signal?.aborted) throw interrupted(opts.signal);
    };
    const addFile = async (key: string, src: string) => {
      const i = table.add(key, K_FILE);
      fileIdx.push(i);
      batch.push([src, path.join(dir, key), -1, 0]);
      batchIdx.push(i);
      if (batch.length >= batchSize) await flush();
    };
    const walk = async (key: string, src: string, st: fs.Stats) => {
      fs.mkdirSync(path.join(dir, key), { recursive: true, mode: 0o700 });
      const di = table.add(key, K_DIR);
      table.setNum(di, 0, st.mode & 0o7777);
      table.setNum(di, 2, mtimeOf(st.mtimeMs));
      table.setNum(di, 3, ctimeOf(st.ctimeMs));
      table.setNum(di, 4, st.ino);
      for (const d of fs.readdirSync(src, { withFileTypes: true })) {
        const childKey = `${key}/${d.name}`;
        const child = path.join(src, d.name);
        if (d.isDirectory()) await walk(childKey, child, fs.lstatSync(child));
        else if (d.isFile()) await addFile(childKey, child);
        else if (d.isSymbolicLink()) {
          const target = fs.readlinkSync(child);
          fs.symlinkSync(target, path.join(dir, childKey));
          table.text.set(table.add(childKey, K_LINK), target);
        } else {
          // lstat, not the dirent: Deno's dirents do not tell a fifo from a device.
          const ls = fs.lstatSync(child);
          const kind = ls.isFIFO() ? "fifo" : ls.isSocket() ? "socket" : "device";
          table.text.set(table.add(childKey, K_OTHER), kind);
          skipped.push(childKey);
          opts.onWarning?.(`Not backed up: ${child} is a ${kind}; rollback leaves it as it is`);
        }
      }
    };

    for (const root of roots) {
      const st = lstatOrNull(root.abs);
      if (!st) {
        rootKinds[root.key] = "missing";
        missing.push(root.key);
        const parents = missingParents(layout, root);
        if (parents.length) missingParentsOf[root.key] = parents;
        continue;
      }
      if (st.isSymbolicLink()) {
        throw new UpgradeError("BACKUP_FAILED", `Cannot back up ${root.abs}: it is a symbolic link to ${fs.readlinkSync(root.abs)}`, {
          hint: `The upgrade would change what the link points at, which no backup of the link can restore. Replace the link by a copy of its target, or leave it out with the backup plugin's \`exclude: ["${root.key.slice(root.key.indexOf("/") + 1)}"]\` option`,
        });
      }
      fs.mkdirSync(path.dirname(path.join(dir, root.key)), { recursive: true, mode: 0o700 });
      if (st.isDirectory()) {
        rootKinds[root.key] = "dir";
        await walk(root.key, root.abs, st);
      } else if (st.isFile()) {
        rootKinds[root.key] = "file";
        await addFile(root.key, root.abs);
      } else {
        throw new UpgradeError("BACKUP_FAILED", `Cannot back up ${root.abs}: it is neither a file nor a folder`, {
          hint: "Move it away or exclude it with the backup plugin's `exclude` option",
        });
      }
    }
    await flush();
    await Promise.all(inFlight);
    const tCopied = performance.now();
    if (opts.signal?.aborted) throw interrupted(opts.signal);
    if (problems.length) throw copyFailed(layout, problems);
    const files = vanished.size ? fileIdx.filter((i) => !vanished.has(i)) : fileIdx;

    // Verify: re-read every copy and compare with the hash of the original.
    const verifyStarted = Date.now();
    const bad: Problem[] = [];
    let verified = 0;
    const verifyJobs: Promise<void>[] = [];
    for (let b = 0; b < files.length; b += batchSize) {
      const idx = files.slice(b, b + batchSize);
      verifyJobs.push(pool.hash(idx.map((i) => path.join(dir, table.keys[i]))).then((rs) => {
        rs.forEach((r, j) => {
          const i = idx[j];
          const key = table.keys[i];
          if (r.err) bad.push({ key, code: r.err[0], message: r.err[1] });
          else if (r.ok[0] !== table.shaHex(i) || r.ok[1] !== table.size(i)) {
            bad.push({ key, code: "EVERIFY", message: `the copy does not match the original (sha256 ${r.ok[0].slice(0, 12)}…, expected ${table.shaHex(i).slice(0, 12)}…)` });
          } else {
            table.setNum(i, 5, r.ok[3]);
            table.setNum(i, 6, ctimeOf(r.ok[4]));
          }
        });
        verified += idx.length;
        opts.onProgress?.("verify", verified, files.length);
      }));
      if (verifyJobs.length % (pool.size * 4) === 0) {
        await Promise.all(verifyJobs.slice(-pool.size * 4));
        if (opts.signal?.aborted) throw interrupted(opts.signal);
      }
    }
    await Promise.all(verifyJobs);
    if (opts.signal?.aborted) throw interrupted(opts.signal);
    if (bad.length) {
      throw new UpgradeError("BACKUP_FAILED", `Cannot verify the backup: ${bad.length} cop${bad.length === 1 ? "y does" : "ies do"} not match the original: ${bad.slice(0, 5).map((b) => `${b.key} (${b.message})`).join("; ")}`, {
        hint: "The disk may be failing or something wrote into .agent-os/.backups during the backup; check the disk and run the upgrade again",
        details: { files: bad.slice(0, 100) },
      });
    }
    const tVerified = performance.now();

    // Vanished files are dropped from the table; the rest is put in key order for the manifest.
    let sortedTable = table;
    if (vanished.size) {
      const keep = new EntryTable();
      for (let i = 0; i < table.length; i++) {
        if (vanished.has(i)) continue;
        const j = keep.add(table.keys[i], table.kind[i]);
        keep.num.set(table.num.subarray(i * 7, i * 7 + 7), j * 7);
        keep.sha.set(table.sha.subarray(i * 32, i * 32 + 32), j * 32);
        const tx = table.text.get(i);
        if (tx !== undefined) keep.text.set(j, tx);
      }
      sortedTable = keep;
    }
    sortedTable = sortedTable.sorted();
    let totalSize = 0;
    let dirs = 0;
    let links = 0;
    for (let i = 0; i < sortedTable.length; i++) {
      const k = sortedTable.kind[i];
      if (k === K_FILE) totalSize += sortedTable.size(i);
      else if (k === K_DIR) dirs++;
      else if (k === K_LINK) links++;
    }
    let sync: SnapshotResult["sync"] = "none";
    if (opts.sync !== false) sync = syncFilesystem(dir, () => files.map((i) => path.join(dir, table.keys[i])));
    const tSynced = performance.now();
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      tool: "agent-os-upgrade",
      backup_id: id,
      timestamp: started.toISOString(),
      started_at_ms: started.getTime(),
      verify_started_ms: verifyStarted,
      duration_ms: Math.round(tSynced - t0),
      backup_path: dir,
      session_id: opts.sessionId,
      project_root: layout.projectRoot,
      install_dir: layout.installDir,
      method: clone ? "clone" : "copy",
      roots: rootKinds,
      missing,
      missing_parents: missingParentsOf,
      total_size: totalSize,
      file_count: files.length,
      dir_count: dirs,
      symlink_count: links,
      skipped,
      entry_format: ENTRY_FORMAT,
      moved: opts.moved ?? {},
      entries: sortedTable,
    };
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
    await pool?.close();
    pool = null;
    try {
      removeTree(dir);
    } catch { /* the sweep of the next run removes it (its marker names a dead process) */ }
    throw err;
  } finally {
    await pool?.close();
  }
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
