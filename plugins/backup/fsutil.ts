/** Small filesystem steps shared by backup, restore and retention. */
import fs from "node:fs";
import path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { pidAlive } from "../../core/proc.ts";
import { fsyncDir } from "../../core/atomic.ts";

export function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw err;
  }
}

/**
 * Removes a folder so that a crash midway never leaves half of it under its own name:
 * it is renamed to a dot-name first (atomic, and invisible to `backups list`), then deleted.
 * A leftover `.trash-*` folder is finished off by the next sweep.
 */
export function removeTree(dir: string): void {
  if (!lstatOrNull(dir)) return;
  const trash = path.join(path.dirname(dir), `.trash-${path.basename(dir)}-${process.pid}-${Date.now()}`);
  fs.renameSync(dir, trash);
  fsyncDir(path.dirname(dir));
  rmForce(trash);
}

/** Where pruned backups wait to be deleted: inside the backups folder (same filesystem, a rename away). */
export const TRASH = ".trash";

/** Moves a folder into the trash (one rename); returns its place there. */
export function moveToTrash(backupsDir: string, dir: string): string {
  const trash = path.join(backupsDir, TRASH);
  fs.mkdirSync(trash, { recursive: true, mode: 0o700 });
  const to = path.join(trash, `${path.basename(dir)}-${process.pid}-${Date.now()}`);
  fs.renameSync(dir, to);
  fsyncDir(backupsDir);
  return to;
}

/**
 * Deletes what the trash holds; `onlyDead`: only what a process that is gone put there (a
 * live one deletes its own after its command). A deletion killed midway leaves the rest in
 * the trash, deleted again by the next sweep. Returns the names deleted.
 */
export function emptyTrash(backupsDir: string, opts: { onlyDead?: boolean } = {}): string[] {
  const trash = path.join(backupsDir, TRASH);
  let names: string[];
  try {
    names = fs.readdirSync(trash);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) {
    const pid = Number(/-(\d+)-\d+$/.exec(n)?.[1]);
    if (opts.onlyDead && pid && pid !== process.pid && pidAlive(pid)) continue;
    rmForce(path.join(trash, n));
    out.push(`${TRASH}/${n}`);
  }
  try {
    fs.rmdirSync(trash);
  } catch { /* another process's entries are still there */ }
  return out;
}

/**
 * Deletes the trash in a detached process that outlives this command: pruning costs the user
 * one rename per backup. If that process is killed, the next sweep finishes the job.
 */
export function emptyTrashDetached(backupsDir: string): boolean {
  const trash = path.join(backupsDir, TRASH);
  let names: string[];
  try {
    names = fs.readdirSync(trash).filter((n) => Number(/-(\d+)-\d+$/.exec(n)?.[1]) === process.pid);
  } catch {
    return false;
  }
  if (!names.length) return false;
  try {
    const script = 'rm -rf -- "$@"; rmdir -- "$0" 2>/dev/null';
    const child = spawn("sh", ["-c", script, trash, ...names.map((n) => path.join(trash, n))], { detached: true, stdio: "ignore" });
    child.on("error", () => {}); // no rm here: the next sweep deletes them
    child.unref();
    return true;
  } catch {
    return false;
  }
}

/** rm -rf that also gets through folders left without write permission. Never follows links. */
export function rmForce(p: string): void {
  const st = lstatOrNull(p);
  if (!st) return;
  if (!st.isDirectory()) {
    // unlink, not rm: rm's retry logic turns an EPERM into a confusing ENOTDIR
    fs.unlinkSync(p);
    return;
  }
  try {
    fs.rmSync(p, { recursive: true, force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Only folders left without write permission can be helped; anything else (an immutable
    // file, a read-only mount) is reported as it is.
    if (code !== "EACCES" && code !== "EPERM") throw err;
    makeWritable(p);
    fs.rmSync(p, { recursive: true, force: true });
  }
}

function makeWritable(p: string): void {
  const st = lstatOrNull(p);
  if (!st?.isDirectory()) return;
  fs.chmodSync(p, (st.mode & 0o777) | 0o700);
  for (const name of fs.readdirSync(p)) makeWritable(path.join(p, name));
}

/**
 * Flushes a filesystem to disk in one call (syncfs, through `sync -f`), instead of one fsync
 * per file: the backup must be on disk before phase 2 replaces the originals, and 100k
 * fsyncs would cost more than the copy. Where `sync -f` is not available each file is
 * fsynced instead. Returns how it was done.
 */
export function syncFilesystem(dir: string, filesIfNoSyncfs: () => Iterable<string>): "syncfs" | "fsync" {
  const r = spawnSync("sync", ["-f", dir], { stdio: "ignore" });
  if (r.status === 0) return "syncfs";
  for (const f of filesIfNoSyncfs()) {
    const fd = fs.openSync(f, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
  return "fsync";
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
