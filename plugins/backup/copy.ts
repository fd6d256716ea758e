/**
 * Copying and hashing single files, on the calling thread. A backup now holds only what the
 * upgrade changes (hundreds of files; a venv of a few thousand when its requirements change).
 * A worker pool did this before; measured side by side at 0.7k, 1.6k and 10k files
 * (bench/backup.ts --compare, 2 cores) it was no faster within the noise and cost ~20 MB
 * more memory, so it went. Synchronous calls, one file at a time: the callers walk their
 * lists in slices and yield between them (`inSlices`), so signals and progress still get
 * through.
 */
import fs from "node:fs";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";

/** A file's bytes and what they were copied with. */
export interface Copied {
  sha: string;
  size: number;
  /** The source's mode, mtime, ctime and inode, read from the open file. */
  mode: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

export interface Hashed {
  sha: string;
  size: number;
  ino: number;
  ctimeMs: number;
}

/** A failure of one file, as a value: the callers collect them and report all at once. */
export interface FileError {
  code: string;
  message: string;
}
export type Outcome<T> = { ok: T; err?: undefined } | { ok?: undefined; err: FileError };

export interface CopyOptions {
  /** Clone (copy-on-write) when the filesystem can; otherwise copy. */
  clone: boolean;
  /** fsync the copy. */
  sync: boolean;
  /** The copy's mode and mtime; absent: a backup copy (see `backupMode`). */
  mode?: number;
  mtimeMs?: number;
}

const BUF = Buffer.allocUnsafe(1 << 20);
const NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;
const NO_CLONE = new Set(["ENOTSUP", "EOPNOTSUPP", "EXDEV", "EINVAL", "ENOSYS"]);

/** A backup copy keeps the source's mode but stays owner-readable and writable, so it can always be read and pruned; the manifest holds the real mode. */
const backupMode = (mode: number) => (mode & 0o7777) | 0o600;

function hashFd(fd: number): { sha: string; size: number } {
  const h = createHash("sha256");
  let size = 0;
  for (let n; (n = fs.readSync(fd, BUF, 0, BUF.length, null)) > 0;) {
    h.update(BUF.subarray(0, n));
    size += n;
  }
  return { sha: h.digest("hex"), size };
}

/** Streams `fd` into a new file `dst`, hashing what it copies (one read of the source). */
function streamCopy(fd: number, dst: string): { out: number; sha: string; size: number } {
  const out = fs.openSync(dst, "wx", 0o600);
  const h = createHash("sha256");
  let size = 0;
  for (let n; (n = fs.readSync(fd, BUF, 0, BUF.length, null)) > 0;) {
    h.update(BUF.subarray(0, n));
    for (let off = 0; off < n;) off += fs.writeSync(out, BUF, off, n - off);
    size += n;
  }
  return { out, sha: h.digest("hex"), size };
}

/** A clone is an instant snapshot, so hashing the clone hashes the original as it was. Null: this file cannot be cloned here. */
function cloneCopy(src: string, dst: string): { out: number; sha: string; size: number } | null {
  try {
    fs.copyFileSync(src, dst, fs.constants.COPYFILE_FICLONE_FORCE | fs.constants.COPYFILE_EXCL);
  } catch (err) {
    if (NO_CLONE.has((err as NodeJS.ErrnoException).code ?? "")) return null; // another filesystem, or no reflink
    throw err;
  }
  const out = fs.openSync(dst, "r+");
  return { out, ...hashFd(out) };
}

const sameFile = (a: fs.Stats, b: fs.Stats) => a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;

/** One attempt; null when the source was written while it was copied (the copy may mix two versions). */
function copyOnce(src: string, dst: string, opts: CopyOptions): Outcome<Copied> | null {
  const fd = fs.openSync(src, fs.constants.O_RDONLY | NOFOLLOW);
  let out = -1;
  try {
    const before = fs.fstatSync(fd);
    if (!before.isFile()) return { err: { code: "ENOTFILE", message: `${src} is not a regular file` } };
    const made = (opts.clone ? cloneCopy(src, dst) : null) ?? streamCopy(fd, dst);
    out = made.out;
    fs.fchmodSync(out, opts.mode ?? backupMode(before.mode));
    fs.futimesSync(out, before.atimeMs / 1000, (opts.mtimeMs ?? before.mtimeMs) / 1000);
    if (opts.sync) fs.fsyncSync(out);
    const replaced = opts.clone && fs.lstatSync(src).ino !== before.ino;
    if (!sameFile(before, fs.fstatSync(fd)) || made.size !== before.size || replaced) {
      fs.closeSync(out);
      out = -1;
      fs.unlinkSync(dst);
      return null;
    }
    return { ok: { sha: made.sha, size: made.size, mode: before.mode & 0o7777, mtimeMs: before.mtimeMs, ctimeMs: before.ctimeMs, ino: before.ino } };
  } finally {
    if (out >= 0) fs.closeSync(out);
    fs.closeSync(fd);
  }
}

/** Copies `src` to the new file `dst` and hashes the bytes copied. Never follows a link. */
export function copyHashed(src: string, dst: string, opts: CopyOptions): Outcome<Copied> {
  try {
    for (let attempt = 1; attempt <= 3; attempt++) {
      const r = copyOnce(src, dst, opts);
      if (r) return r;
    }
    return { err: { code: "ECHANGED", message: `${src} kept changing while it was copied` } };
  } catch (err) {
    return { err: asFileError(err) };
  }
}

/** sha256 and size of a regular file (never a link's target). */
export function hashFile(file: string): Outcome<Hashed> {
  try {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | NOFOLLOW);
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) return { err: { code: "ENOTFILE", message: `${file} is not a regular file` } };
      return { ok: { ...hashFd(fd), ino: st.ino, ctimeMs: st.ctimeMs } };
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    return { err: asFileError(err) };
  }
}

function asFileError(err: unknown): FileError {
  const e = err as NodeJS.ErrnoException;
  return { code: e?.code ?? "EIO", message: e?.message ?? String(err) };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Calls `each` on every item, synchronously within slices of `slice` items and yielding to
 * the event loop between slices (so a SIGINT handler or a progress line can run); stops with
 * the abort reason's error when `signal` fires.
 */
export async function inSlices<T>(
  items: readonly T[],
  each: (item: T, index: number) => void,
  opts: { slice?: number; signal?: AbortSignal; onAbort?: () => unknown; onSlice?: (done: number) => void } = {},
): Promise<void> {
  const slice = opts.slice ?? 64;
  for (let at = 0; at < items.length; at += slice) {
    const end = Math.min(items.length, at + slice);
    for (let i = at; i < end; i++) each(items[i], i);
    opts.onSlice?.(end);
    await turn();
    if (opts.signal?.aborted) throw opts.onAbort ? opts.onAbort() : opts.signal.reason;
  }
}
