/**
 * Folder trees for exact comparisons and copies. `snapshotTree` maps every path under a
 * folder to its type, mode and sha256 (or link target; links are never followed), and
 * `diffTrees` lists every difference, so a failing assertion says what changed instead of
 * "objects differ". The demo uses it to prove a rollback exact; the tests use it everywhere.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export type TreeNode = (
  | { type: "dir"; mode: string }
  | { type: "file"; mode: string; sha256: string; size: number }
  | { type: "symlink"; target: string }
  | { type: "other" }
) & { mtimeMs?: number };

/** Relative path ("/"-separated) → node. With `mtime`, the root itself is the entry ".". */
export type Tree = Record<string, TreeNode>;

export interface SnapshotOptions {
  /** Leave out a path (and, for a folder, everything under it). */
  skip?: (rel: string) => boolean;
  /**
   * Also record every entry's mtime, the root's included: then even a temp file created and
   * removed again shows, as its folder's mtime changes.
   */
  mtime?: boolean;
}

const octal = (m: number) => (m & 0o7777).toString(8).padStart(4, "0");

function nodeOf(abs: string, st: fs.Stats, mtime: boolean): TreeNode {
  const time = mtime ? { mtimeMs: st.mtimeMs } : {};
  if (st.isSymbolicLink()) return { type: "symlink", target: fs.readlinkSync(abs), ...time };
  if (st.isDirectory()) return { type: "dir", mode: octal(st.mode), ...time };
  if (st.isFile()) return { type: "file", mode: octal(st.mode), sha256: createHash("sha256").update(fs.readFileSync(abs)).digest("hex"), size: st.size, ...time };
  return { type: "other", ...time };
}

/** Every path under `root` with its type, mode and content hash (or link target). */
export function snapshotTree(root: string, opts: SnapshotOptions = {}): Tree {
  const out: Tree = {};
  const mtime = Boolean(opts.mtime);
  if (mtime) out["."] = nodeOf(root, fs.lstatSync(root), true);
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(rel ? path.join(root, rel) : root).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (opts.skip?.(r)) continue;
      const abs = path.join(root, r);
      const st = fs.lstatSync(abs);
      out[r] = nodeOf(abs, st, mtime);
      if (st.isDirectory()) walk(r);
    }
  };
  walk("");
  return out;
}

/** Every difference between two snapshots: `missing: p`, `changed: p: before -> after`, `created: p`. */
export function diffTrees(before: Tree, after: Tree): string[] {
  const out: string[] = [];
  for (const k of Object.keys(before)) {
    if (!(k in after)) out.push(`missing: ${k}`);
    else if (JSON.stringify(before[k]) !== JSON.stringify(after[k])) out.push(`changed: ${k}: ${JSON.stringify(before[k])} -> ${JSON.stringify(after[k])}`);
  }
  for (const k of Object.keys(after)) if (!(k in before)) out.push(`created: ${k}`);
  return out;
}

const SKIP = new Set(["__pycache__", ".DS_Store", ".mcp_server_state.json"]);

/** Copies a folder tree (files and folders only, modes kept), leaving out byte-code caches and state files. */
export function copyTree(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    if (SKIP.has(entry.name) || entry.name.endsWith(".pyc")) continue;
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) copyTree(src, dst);
    else if (entry.isFile()) {
      fs.copyFileSync(src, dst);
      fs.chmodSync(dst, fs.statSync(src).mode & 0o7777);
    }
  }
}
