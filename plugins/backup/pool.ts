/**
 * A small pool of worker threads that copy and hash files. File work is the bulk of a
 * backup, and one thread spends most of its time waiting on syscalls while the other core
 * idles: each worker does synchronous open/read/write/hash on its own batch, so the cores
 * are used and the main thread stays free to walk the tree and create folders ahead of them.
 *
 * The worker is plain JavaScript given as a string (`eval: true`): a `.ts` worker file is
 * not loaded by tsx on Node 20, while an evaluated script runs the same on Node, Deno and
 * the built `dist/`. It only uses `node:` built-ins.
 */
import os from "node:os";
import { Worker } from "node:worker_threads";

const WORKER_SOURCE = String.raw`
"use strict";
const fs = require("node:fs");
const crypto = require("node:crypto");
const { parentPort } = require("node:worker_threads");
const { Buffer } = require("node:buffer");
const BUF = Buffer.allocUnsafe(1 << 20);
const NOFOLLOW = fs.constants.O_NOFOLLOW || 0;
const FICLONE_FORCE = fs.constants.COPYFILE_FICLONE_FORCE;
const EXCL = fs.constants.COPYFILE_EXCL;

function hashFd(fd) {
  const h = crypto.createHash("sha256");
  let size = 0, n;
  while ((n = fs.readSync(fd, BUF, 0, BUF.length, null)) > 0) { h.update(BUF.subarray(0, n)); size += n; }
  return [h.digest("hex"), size];
}
function writeAll(fd, n) { let off = 0; while (off < n) off += fs.writeSync(fd, BUF, off, n - off); }
function same(a, b) { return a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs; }

// mode < 0: a backup copy (the source's mode, kept owner-readable and writable so the backup
// can always be read and pruned; the manifest holds the real mode). mode >= 0: a restore
// copy that gets exactly that mode and mtime.
function copyOne(src, dst, mode, mtimeMs, clone, doSync) {
  for (let attempt = 1; ; attempt++) {
    const fd = fs.openSync(src, fs.constants.O_RDONLY | NOFOLLOW);
    let out = -1;
    try {
      const a = fs.fstatSync(fd);
      if (!a.isFile()) return { err: ["ENOTFILE", src + " is not a regular file"] };
      let sha, size;
      let cloned = false;
      if (clone) {
        // A clone is an instant snapshot; hashing the clone hashes the original as it was.
        // A file on another filesystem (a project file, a mounted venv) cannot be cloned: copy it.
        try {
          fs.copyFileSync(src, dst, FICLONE_FORCE | EXCL);
          cloned = true;
        } catch (e) {
          if (!["ENOTSUP", "EOPNOTSUPP", "EXDEV", "EINVAL", "ENOSYS"].includes(e && e.code)) throw e;
        }
      }
      if (cloned) {
        out = fs.openSync(dst, "r+");
        [sha, size] = hashFd(out);
      } else {
        out = fs.openSync(dst, "wx", 0o600);
        const h = crypto.createHash("sha256");
        size = 0;
        let n;
        while ((n = fs.readSync(fd, BUF, 0, BUF.length, null)) > 0) { h.update(BUF.subarray(0, n)); writeAll(out, n); size += n; }
        sha = h.digest("hex");
      }
      fs.fchmodSync(out, mode < 0 ? ((a.mode & 0o7777) | 0o600) : mode);
      const mt = mode < 0 ? a.mtimeMs : mtimeMs;
      fs.futimesSync(out, a.atimeMs / 1000, mt / 1000);
      if (doSync) fs.fsyncSync(out);
      const b = fs.fstatSync(out);
      const a2 = fs.fstatSync(fd);
      const replaced = cloned && fs.lstatSync(src).ino !== a.ino;
      if (!same(a, a2) || size !== a.size || replaced) {
        // Written to while we copied: the copy may mix two versions. Copy again.
        fs.closeSync(out);
        out = -1;
        fs.unlinkSync(dst);
        if (attempt >= 3) return { err: ["ECHANGED", src + " kept changing while it was copied"] };
        continue;
      }
      return { ok: [sha, size, a.mode & 0o7777, a.mtimeMs, a.ctimeMs, a.ino, b.ino, b.ctimeMs] };
    } finally {
      if (out >= 0) fs.closeSync(out);
      fs.closeSync(fd);
    }
  }
}

function hashOne(file) {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | NOFOLLOW);
  try {
    const a = fs.fstatSync(fd);
    if (!a.isFile()) return { err: ["ENOTFILE", file + " is not a regular file"] };
    const [sha, size] = hashFd(fd);
    return { ok: [sha, size, a.mode & 0o7777, a.ino, a.ctimeMs] };
  } finally {
    fs.closeSync(fd);
  }
}

// lstat of many paths, as a flat Float64Array [type, size, mode, mtimeMs, ctimeMs, ino] per
// path (transferred, not copied): type 0 missing, 1 file, 2 folder, 3 link, 4 other, 5 error.
function statMany(paths) {
  const out = new Float64Array(paths.length * 6);
  for (let i = 0; i < paths.length; i++) {
    let st = null;
    let type = 0;
    try {
      st = fs.lstatSync(paths[i]);
    } catch (e) {
      type = e && (e.code === "ENOENT" || e.code === "ENOTDIR") ? 0 : 5;
    }
    if (st) type = st.isFile() ? 1 : st.isDirectory() ? 2 : st.isSymbolicLink() ? 3 : 4;
    const o = i * 6;
    out[o] = type;
    if (st) {
      out[o + 1] = st.size;
      out[o + 2] = st.mode & 0o7777;
      out[o + 3] = st.mtimeMs;
      out[o + 4] = st.ctimeMs;
      out[o + 5] = st.ino;
    }
  }
  return out;
}

function guard(fn) {
  try { return fn(); } catch (e) { return { err: [e && e.code || "EIO", e && e.message || String(e)] }; }
}

parentPort.on("message", (job) => {
  if (job.op === "stat") {
    // Keys are "install/..." or "project/..." (see roots.ts): resolved here, not in the main thread.
    const bases = job.bases;
    const results = statMany(job.items.map((k) => {
      if (!bases) return job.base + k;
      const slash = k.indexOf("/");
      return bases[k.slice(0, slash)] + k.slice(slash + 1);
    }));
    parentPort.postMessage({ id: job.id, results }, [results.buffer]);
    return;
  }
  let results;
  if (job.op === "copy") results = job.items.map((it) => guard(() => copyOne(it[0], it[1], it[2], it[3], job.clone, job.sync)));
  else results = job.items.map((it) => guard(() => hashOne(it)));
  parentPort.postMessage({ id: job.id, results });
});
`;

/** [sha256, size, mode, mtimeMs, ctimeMs, ino, copyIno, copyCtimeMs] of a copied file. */
export type CopyOk = [string, number, number, number, number, number, number, number];
/** [sha256, size, mode, ino, ctimeMs] of a hashed file. */
export type HashOk = [string, number, number, number, number];
export type JobResult<T> = { ok: T; err?: undefined } | { ok?: undefined; err: [code: string, message: string] };

/** Fields per path in the result of `stat` (type: 0 missing, 1 file, 2 folder, 3 link, 4 other, 5 error). */
export const STAT_FIELDS = 6;
export const StatType = { Missing: 0, File: 1, Dir: 2, Link: 3, Other: 4, Error: 5 } as const;

/** [source, destination, mode (-1: a backup copy), mtimeMs] */
export type CopyItem = [string, string, number, number];

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

export function defaultThreads(): number {
  const n = typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(4, n));
}

export class FilePool {
  readonly #workers: Worker[] = [];
  readonly #idle: Worker[] = [];
  readonly #queue: Array<{ job: Record<string, unknown>; p: Pending }> = [];
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #failed: unknown = null;

  constructor(threads: number = defaultThreads()) {
    for (let i = 0; i < Math.max(1, threads); i++) {
      // Small heaps: a worker holds one batch at a time, and its garbage would otherwise be
      // collected lazily, which costs tens of MB per worker at 100k files for nothing.
      const w = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 48 } });
      w.on("message", (msg: { id: number; results: unknown }) => {
        const p = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        this.#idle.push(w);
        this.#pump();
        p?.resolve(msg.results);
      });
      w.on("error", (err) => this.#fail(err));
      this.#workers.push(w);
      this.#idle.push(w);
    }
  }

  get size(): number {
    return this.#workers.length;
  }

  #fail(err: unknown): void {
    this.#failed = err;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    for (const q of this.#queue.splice(0)) q.p.reject(err);
  }

  #pump(): void {
    while (this.#idle.length && this.#queue.length) {
      const w = this.#idle.pop()!;
      const { job, p } = this.#queue.shift()!;
      const id = this.#nextId++;
      this.#pending.set(id, p);
      w.postMessage({ ...job, id });
    }
  }

  #run<T>(job: Record<string, unknown>): Promise<T> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ job, p: { resolve: resolve as (v: unknown) => void, reject } });
      this.#pump();
    });
  }

  /** Copies files while hashing the bytes copied; `clone` uses copy-on-write clones instead. */
  copy(items: CopyItem[], opts: { clone: boolean; sync: boolean }): Promise<JobResult<CopyOk>[]> {
    return this.#run({ op: "copy", items, clone: opts.clone, sync: opts.sync });
  }

  hash(files: string[]): Promise<JobResult<HashOk>[]> {
    return this.#run({ op: "hash", items: files });
  }

  /** lstat of `base + key` for each key — or, with `bases`, of `bases[namespace] + rest` — see STAT_FIELDS. */
  stat(base: string | Record<string, string>, keys: string[]): Promise<Float64Array> {
    return this.#run(typeof base === "string" ? { op: "stat", base, items: keys } : { op: "stat", bases: base, items: keys });
  }

  /** Jobs queued or running. */
  get busy(): number {
    return this.#queue.length + this.#pending.size;
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}

/** Runs a list through the pool in batches, at most `inFlight` batches at once, results in order. */
export async function inBatches<I, R>(
  items: I[],
  batchSize: number,
  run: (batch: I[]) => Promise<R[]>,
  onBatch?: (done: number) => void,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  const jobs: Promise<void>[] = [];
  let done = 0;
  for (let i = 0; i < items.length; i += batchSize) {
    const at = i;
    jobs.push(run(items.slice(at, at + batchSize)).then((rs) => {
      for (let j = 0; j < rs.length; j++) out[at + j] = rs[j];
      done += rs.length;
      onBatch?.(done);
    }));
  }
  await Promise.all(jobs);
  return out;
}

/** lstat of every `base + key`, spread over the pool; STAT_FIELDS numbers per key, in order. */
export async function statAll(pool: FilePool, base: string | Record<string, string>, keys: string[], batchSize = 2048): Promise<Float64Array> {
  const out = new Float64Array(keys.length * STAT_FIELDS);
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < keys.length; i += batchSize) {
    const at = i;
    jobs.push(pool.stat(base, keys.slice(at, at + batchSize)).then((r) => out.set(r, at * STAT_FIELDS)));
  }
  await Promise.all(jobs);
  return out;
}
