/** Small filesystem steps shared by backup, restore and retention. */
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
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
