/**
 * What changed since an upgrade finished: when the upgrade completes, the backup records the
 * digest of every path it would restore or remove (`AFTER.json` beside its manifest); a
 * manual rollback later compares the project with that record, so it can name the files a
 * rollback would discard — in time proportional to what the upgrade touched, not to the
 * install.
 *
 * A folder in the scope (the venv, when requirements changed) holds thousands of files, so
 * the record also keeps each file's stat fingerprint (size, mtime, ctime second, inode) with
 * its hash, and the comparison hashes only files whose fingerprint moved: a program can set
 * mtime but not ctime, so an equal fingerprint means unwritten bytes (git's index trick).
 * Files whose ctime falls within a second of the recording are hashed anyway: a write in that
 * same second would not have moved the ctime second.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { writeJsonAtomic } from "../../core/atomic.ts";

import { AFTER, ctimeOf, mtimeOf } from "./manifest.ts";

export { AFTER };

/** size, mtimeMs, ctimeS, ino, then the file's digest. */
type Known = [number, number, number, number, string];

/** File digests by path, reused while a file's fingerprint has not moved. */
class FileDigests {
  readonly seen: Record<string, Known> = {};
  constructor(private readonly known: Record<string, Known> = {}, private readonly racyFromS = Infinity) {}

  of(abs: string, st: fs.Stats): string {
    const k = this.known[abs];
    const fp = [st.size, mtimeOf(st.mtimeMs), ctimeOf(st.ctimeMs), st.ino] as const;
    const unchanged = k && k[0] === fp[0] && k[1] === fp[1] && k[2] === fp[2] && k[3] === fp[3] && fp[2] < this.racyFromS;
    const digest = unchanged ? k[4] : `file:${(st.mode & 0o777).toString(8)}:${createHash("sha256").update(fs.readFileSync(abs)).digest("hex")}`;
    this.seen[abs] = [...fp, digest];
    return digest;
  }
}

/** A path's content: a file's sha256, a link's target, a folder's digest of its tree; null when absent. */
export function digestPath(abs: string, files: FileDigests = new FileDigests()): string | null {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  if (st.isSymbolicLink()) return `link:${fs.readlinkSync(abs)}`;
  if (st.isFile()) return files.of(abs, st);
  if (!st.isDirectory()) return `other:${st.mode}`;
  const h = createHash("sha256");
  for (const name of fs.readdirSync(abs).sort()) {
    // Byte-code a server writes as it runs is not a change anyone made.
    if (name === "__pycache__" || name.endsWith(".pyc")) continue;
    h.update(`${name}\0${digestPath(path.join(abs, name), files)}\0`);
  }
  return `dir:${h.digest("hex")}`;
}

interface AfterRecord {
  version?: number;
  recorded_at?: string;
  digests?: Record<string, string | null>;
  /** Version 2: the fingerprint and digest of every file under the recorded paths, by path relative to the root. */
  files?: Record<string, Known>;
}

/** Records the digests of `paths` (relative to `root`) in the backup folder, after the upgrade completed. */
export function recordAfter(backupDir: string, root: string, paths: readonly string[]): void {
  const recordedAt = new Date();
  const files = new FileDigests();
  const digests: Record<string, string | null> = {};
  for (const rel of [...new Set(paths)].sort()) digests[rel] = digestPath(path.join(root, rel), files);
  const byRel = Object.fromEntries(Object.entries(files.seen).map(([abs, k]) => [path.relative(root, abs), k]));
  writeJsonAtomic(path.join(backupDir, AFTER), { version: 2, recorded_at: recordedAt.toISOString(), digests, files: byRel });
}

/** The recorded paths whose content differs now; null when the backup has no readable record (an unfinished upgrade, or a lost or damaged one). */
export function changedSince(backupDir: string, root: string): string[] | null {
  let record: AfterRecord;
  try {
    record = JSON.parse(fs.readFileSync(path.join(backupDir, AFTER), "utf8"));
  } catch {
    return null;
  }
  // A record that parses but is not one (truncated by hand, another tool's file) is unknown too.
  const isMap = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isMap(record) || !isMap(record.digests) || (record.files !== undefined && !isMap(record.files))) return null;
  // A version-1 record has no fingerprints: every file is hashed, as before.
  const known = Object.fromEntries(Object.entries(record.files ?? {}).map(([rel, k]) => [path.join(root, rel), k]));
  const recordedS = record.recorded_at ? ctimeOf(Date.parse(record.recorded_at)) : NaN;
  const files = new FileDigests(known, Number.isFinite(recordedS) ? recordedS - 1 : -Infinity);
  const changed: string[] = [];
  for (const [rel, digest] of Object.entries(record.digests ?? {})) {
    if (digestPath(path.join(root, rel), files) !== digest) changed.push(rel);
  }
  return changed;
}
