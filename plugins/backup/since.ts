/**
 * What changed since an upgrade finished: when the upgrade completes, the backup records the
 * digest of every path it would restore or remove (`AFTER.json` beside its manifest); a
 * manual rollback later compares the project with that record, so it can name the files a
 * rollback would discard — in time proportional to what the upgrade touched, not to the
 * install.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { writeJsonAtomic } from "../../core/atomic.ts";

import { AFTER } from "./manifest.ts";

export { AFTER };

/** A path's content: a file's sha256, a link's target, a folder's digest of its tree; null when absent. */
export function digestPath(abs: string): string | null {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  if (st.isSymbolicLink()) return `link:${fs.readlinkSync(abs)}`;
  if (st.isFile()) return `file:${(st.mode & 0o777).toString(8)}:${createHash("sha256").update(fs.readFileSync(abs)).digest("hex")}`;
  if (!st.isDirectory()) return `other:${st.mode}`;
  const h = createHash("sha256");
  for (const name of fs.readdirSync(abs).sort()) {
    // Byte-code a server writes as it runs is not a change anyone made.
    if (name === "__pycache__" || name.endsWith(".pyc")) continue;
    h.update(`${name}\0${digestPath(path.join(abs, name))}\0`);
  }
  return `dir:${h.digest("hex")}`;
}

/** Records the digests of `paths` (relative to `root`) in the backup folder, after the upgrade completed. */
export function recordAfter(backupDir: string, root: string, paths: readonly string[]): void {
  const digests: Record<string, string | null> = {};
  for (const rel of [...new Set(paths)].sort()) digests[rel] = digestPath(path.join(root, rel));
  writeJsonAtomic(path.join(backupDir, AFTER), { version: 1, recorded_at: new Date().toISOString(), digests });
}

/** The recorded paths whose content differs now; null when the backup has no record (an unfinished upgrade). */
export function changedSince(backupDir: string, root: string): string[] | null {
  let record: { digests?: Record<string, string | null> };
  try {
    record = JSON.parse(fs.readFileSync(path.join(backupDir, AFTER), "utf8"));
  } catch {
    return null;
  }
  const changed: string[] = [];
  for (const [rel, digest] of Object.entries(record.digests ?? {})) {
    if (digestPath(path.join(root, rel)) !== digest) changed.push(rel);
  }
  return changed;
}
