/**
 * Tree snapshots for exact comparisons: path → {type, mode, sha256 | link target}. Links are
 * never followed. `diffTrees` lists every difference, so a failing assertion says what
 * changed instead of "objects differ".
 */
import fs from "node:fs";
import path from "node:path";
import { createHash } from "node:crypto";

export type Node =
  | { type: "dir"; mode: string }
  | { type: "file"; mode: string; sha256: string; size: number }
  | { type: "symlink"; target: string }
  | { type: "other" };

export type Tree = Record<string, Node>;

const octal = (m: number) => (m & 0o7777).toString(8).padStart(4, "0");

/** Our own records, which an upgrade or a rollback writes on purpose (SPEC §2 "records we own"). */
export function ownRecords(rel: string): boolean {
  return /^\.agent-os\/(\.backups|\.cache\/state|\.upgrade-lock|\.cache\/upgrade-(summary|validation)-)/.test(rel) || rel === ".agent-os/.cache/state";
}

export function snapshotTree(root: string, skip: (rel: string) => boolean = ownRecords): Tree {
  const out: Tree = {};
  const walk = (rel: string) => {
    const abs = rel ? path.join(root, rel) : root;
    for (const name of fs.readdirSync(abs).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (skip(r)) continue;
      const p = path.join(root, r);
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) out[r] = { type: "symlink", target: fs.readlinkSync(p) };
      else if (st.isDirectory()) {
        out[r] = { type: "dir", mode: octal(st.mode) };
        walk(r);
      } else if (st.isFile()) {
        out[r] = { type: "file", mode: octal(st.mode), sha256: createHash("sha256").update(fs.readFileSync(p)).digest("hex"), size: st.size };
      } else out[r] = { type: "other" };
    }
  };
  walk("");
  return out;
}

export function diffTrees(before: Tree, after: Tree): string[] {
  const out: string[] = [];
  for (const k of Object.keys(before)) {
    if (!(k in after)) out.push(`missing: ${k}`);
    else if (JSON.stringify(before[k]) !== JSON.stringify(after[k])) out.push(`changed: ${k}: ${JSON.stringify(before[k])} -> ${JSON.stringify(after[k])}`);
  }
  for (const k of Object.keys(after)) if (!(k in before)) out.push(`created: ${k}`);
  return out;
}
