/**
 * Folders that the upgrade replaces by moving the old one aside (`mcp_server/`, `scripts/`):
 * phase 1 records every entry with its hash (nothing is copied); the server swap then moves
 * the old folder into the backup, which makes the rename the backup, O(1). Rollback checks
 * the moved folder against those hashes and renames it back.
 *
 * Python byte-code (`__pycache__/`, `*.pyc`) is not recorded: a running server writes and
 * removes it at will between phase 1 and the swap; whatever of it was moved comes back too.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fsyncDir } from "../../core/atomic.ts";
import { lstatOrNull, rmForce } from "./fsutil.ts";
import type { VerifyProblem } from "./verify.ts";

/** `["d", mode]` | `["f", mode, size, sha256]` | `["l", target]`, by path inside the folder ("" is the folder). */
export type MovedEntry = ["d", number] | ["f", number, number, string] | ["l", string];

export interface MovedRecord {
  kind: "dir" | "missing";
  entries: Record<string, MovedEntry>;
  bytes: number;
}

const BYTECODE = (name: string) => name === "__pycache__" || name.endsWith(".pyc");

export function sha256Of(file: string): string {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/** Records a folder's entries and hashes (phase 1). */
export function recordMoved(abs: string): MovedRecord {
  const st = lstatOrNull(abs);
  if (!st?.isDirectory()) return { kind: "missing", entries: {}, bytes: 0 };
  const entries: Record<string, MovedEntry> = { "": ["d", st.mode & 0o7777] };
  let bytes = 0;
  const walk = (dir: string, rel: string) => {
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
      if (BYTECODE(d.name)) continue;
      const r = rel ? `${rel}/${d.name}` : d.name;
      const p = path.join(dir, d.name);
      const s = fs.lstatSync(p);
      if (s.isDirectory()) {
        entries[r] = ["d", s.mode & 0o7777];
        walk(p, r);
      } else if (s.isFile()) {
        entries[r] = ["f", s.mode & 0o7777, s.size, sha256Of(p)];
        bytes += s.size;
      } else if (s.isSymbolicLink()) entries[r] = ["l", fs.readlinkSync(p)];
    }
  };
  walk(abs, "");
  return { kind: "dir", entries, bytes };
}

/** Differences between a moved folder and its record (extra byte-code and extra files are allowed: they were there when it was moved). */
export function checkMoved(key: string, dir: string, rec: MovedRecord): VerifyProblem[] {
  const problems: VerifyProblem[] = [];
  for (const [rel, e] of Object.entries(rec.entries)) {
    const p = rel ? path.join(dir, rel) : dir;
    const at = rel ? `${key}/${rel}` : key;
    const st = lstatOrNull(p);
    if (!st) {
      problems.push({ path: at, problem: "missing from the backup" });
      continue;
    }
    if (e[0] === "d") {
      if (!st.isDirectory()) problems.push({ path: at, problem: "is not a folder in the backup" });
    } else if (e[0] === "l") {
      if (!st.isSymbolicLink() || fs.readlinkSync(p) !== e[1]) problems.push({ path: at, problem: `the symbolic link does not point to "${e[1]}"` });
    } else if (!st.isFile()) problems.push({ path: at, problem: "is not a regular file in the backup" });
    else if (st.size !== e[2]) problems.push({ path: at, problem: `size ${st.size} bytes, expected ${e[2]}` });
    else {
      const sha = sha256Of(p);
      if (sha !== e[3]) problems.push({ path: at, problem: `content differs from MANIFEST.json (sha256 ${sha.slice(0, 12)}…, expected ${e[3].slice(0, 12)}…)` });
      else if ((st.mode & 0o7777) !== e[1]) fs.chmodSync(p, e[1]);
    }
  }
  return problems;
}

/**
 * Puts a moved folder back: the live one (the new version) goes to trash first, then one
 * rename. Idempotent: when the backup no longer holds the folder it was put back already
 * (or never moved), and the live folder is the original.
 */
export function putBack(live: string, aside: string, trashDir: string): "restored" | "in-place" {
  if (!lstatOrNull(aside)) return "in-place";
  if (lstatOrNull(live)) {
    const trash = path.join(trashDir, `.trash-${path.basename(live)}-${process.pid}-${Date.now()}`);
    fs.renameSync(live, trash);
    fs.renameSync(aside, live);
    fsyncDir(path.dirname(live));
    rmForce(trash);
  } else {
    fs.renameSync(aside, live);
    fsyncDir(path.dirname(live));
  }
  return "restored";
}
