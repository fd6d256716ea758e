/**
 * Checks a backup against its MANIFEST.json.
 *
 * "full" re-reads and hashes every file (what `backups verify` does). "stat" is what a
 * rollback does before touching anything: every copy must exist with its size, and its inode
 * and ctime must be those recorded when the backup was verified — any write to a file since
 * (a flipped byte included) changes its ctime, and no program can set ctime back. Copies
 * whose fingerprint changed are hashed, so a damaged one is named. What stat cannot see
 * (silent media corruption) is still caught for every file the rollback restores, because
 * those are hashed again while they are staged, before anything live is changed.
 */
import fs from "node:fs";
import path from "node:path";
import { ctimeOf, type FileEntry, type Manifest, MANIFEST, MANIFEST_SUM, MARKER } from "./manifest.ts";
import { FilePool, inBatches } from "./pool.ts";
import { lstatOrNull } from "./fsutil.ts";

export type VerifyMode = "full" | "stat";

export interface VerifyProblem {
  /** The manifest key (`install/venv/bin/pip`). */
  path: string;
  problem: string;
}

export interface VerifyReport {
  backup_id: string;
  ok: boolean;
  mode: VerifyMode;
  files_checked: number;
  files_hashed: number;
  problems: VerifyProblem[];
  duration_ms: number;
}

export interface VerifyOptions {
  pool: FilePool;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export async function verifySnapshot(dir: string, m: Manifest, mode: VerifyMode, opts: VerifyOptions): Promise<VerifyReport> {
  const t0 = performance.now();
  const problems: VerifyProblem[] = [];
  const toHash: string[] = [];
  let checked = 0;
  for (const [key, e] of Object.entries(m.entries)) {
    const p = path.join(dir, key);
    if (e[0] === "f") {
      checked++;
      if (mode === "full") {
        toHash.push(key);
        continue;
      }
      const st = lstatOrNull(p);
      if (!st) problems.push({ path: key, problem: "missing from the backup" });
      else if (!st.isFile()) problems.push({ path: key, problem: "is not a regular file in the backup" });
      else if (st.size !== e[2]) problems.push({ path: key, problem: `size ${st.size} bytes, expected ${e[2]}` });
      else if (st.ino !== e[6] || ctimeOf(st.ctimeMs) !== e[7]) toHash.push(key);
    } else if (e[0] === "l") {
      let target: string | null = null;
      try {
        target = fs.readlinkSync(p);
      } catch { /* reported below */ }
      if (target === null) problems.push({ path: key, problem: "the symbolic link is missing from the backup" });
      else if (target !== e[1]) problems.push({ path: key, problem: `the symbolic link points to "${target}", expected "${e[1]}"` });
    } else if (e[0] === "d" && mode === "full") {
      if (!lstatOrNull(p)?.isDirectory()) problems.push({ path: key, problem: "the folder is missing from the backup" });
    }
  }
  const results = await inBatches(toHash, opts.batchSize ?? 128, (keys) => opts.pool.hash(keys.map((k) => path.join(dir, k))), (done) => opts.onProgress?.(done, toHash.length));
  results.forEach((r, i) => {
    const key = toHash[i];
    const e = m.entries[key] as FileEntry;
    if (r.err) {
      problems.push({ path: key, problem: r.err[0] === "ENOENT" ? "missing from the backup" : `cannot be read (${r.err[0]})` });
    } else if (r.ok[1] !== e[2]) {
      problems.push({ path: key, problem: `size ${r.ok[1]} bytes, expected ${e[2]}` });
    } else if (r.ok[0] !== m.files[key]) {
      problems.push({ path: key, problem: `content differs from MANIFEST.json (sha256 ${r.ok[0].slice(0, 12)}…, expected ${m.files[key].slice(0, 12)}…)` });
    }
  });
  if (mode === "full") {
    for (const extra of unexpected(dir, m)) problems.push({ path: extra, problem: "is in the backup folder but not in MANIFEST.json" });
  }
  problems.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    backup_id: m.backup_id,
    ok: problems.length === 0,
    mode,
    files_checked: checked,
    files_hashed: toHash.length,
    problems,
    duration_ms: Math.round(performance.now() - t0),
  };
}

/** Paths in the backup folder that the manifest does not list. */
function unexpected(dir: string, m: Manifest): string[] {
  const out: string[] = [];
  const own = new Set([MANIFEST, MANIFEST_SUM, MARKER]);
  const walk = (key: string | null) => {
    const abs = key ? path.join(dir, key) : dir;
    for (const d of fs.readdirSync(abs, { withFileTypes: true })) {
      if (!key && own.has(d.name)) continue;
      const k = key ? `${key}/${d.name}` : d.name;
      const known = k in m.entries;
      // `install` and `project` (and parents of file roots) are the backup's own folders.
      const isContainer = !known && d.isDirectory() && Object.keys(m.roots).some((r) => r.startsWith(k + "/"));
      if (!known && !isContainer) {
        out.push(k);
        continue;
      }
      if (d.isDirectory()) walk(k);
    }
  };
  walk(null);
  return out;
}

/** A one-line summary naming the first few bad files. */
export function describeProblems(problems: VerifyProblem[], max = 5): string {
  const shown = problems.slice(0, max).map((p) => `${p.path} (${p.problem})`).join("; ");
  return problems.length > max ? `${shown}; and ${problems.length - max} more` : shown;
}
