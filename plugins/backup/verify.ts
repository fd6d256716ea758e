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
import { checkMoved } from "./moved.ts";
import { ctimeOf, K_DIR, K_FILE, K_LINK, type Manifest, MANIFEST, MANIFEST_SUM, MARKER, AFTER, LABEL, REPLACED } from "./manifest.ts";
import { hashFile, inSlices } from "./copy.ts";
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
  /** Files hashed between two turns of the event loop. */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export async function verifySnapshot(dir: string, m: Manifest, mode: VerifyMode, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const t0 = performance.now();
  const t = m.entries;
  const problems: VerifyProblem[] = [];
  const files: number[] = [];
  for (let i = 0; i < t.length; i++) {
    const kind = t.kind(i);
    if (kind === K_FILE) files.push(i);
    else if (kind === K_LINK) {
      let target: string | null = null;
      try {
        target = fs.readlinkSync(path.join(dir, t.keys[i]));
      } catch { /* reported below */ }
      const want = t.text(i);
      if (target === null) problems.push({ path: t.keys[i], problem: "the symbolic link is missing from the backup" });
      else if (target !== want) problems.push({ path: t.keys[i], problem: `the symbolic link points to "${target}", expected "${want}"` });
    } else if (kind === K_DIR && mode === "full") {
      if (!lstatOrNull(path.join(dir, t.keys[i]))?.isDirectory()) problems.push({ path: t.keys[i], problem: "the folder is missing from the backup" });
    }
  }
  const toHash = mode === "full" ? files.filter((i) => !notTaken(dir, m, i)) : changedCopies(dir, m, files, problems);
  await inSlices(toHash, (i) => {
    const key = t.keys[i];
    const r = hashFile(path.join(dir, key));
    if (r.err) {
      problems.push({ path: key, problem: r.err.code === "ENOENT" ? "missing from the backup" : `cannot be read (${r.err.code})` });
    } else if (r.ok.size !== t.size(i)) {
      problems.push({ path: key, problem: `size ${r.ok.size} bytes, expected ${t.size(i)}` });
    } else if (r.ok.sha !== t.shaHex(i)) {
      problems.push({ path: key, problem: `content differs from MANIFEST.json (sha256 ${r.ok.sha.slice(0, 12)}…, expected ${t.shaHex(i).slice(0, 12)}…)` });
    }
  }, { slice: opts.batchSize, onSlice: (done) => opts.onProgress?.(done, toHash.length) });
  if (mode === "full") {
    for (const extra of unexpected(dir, m)) problems.push({ path: extra, problem: "is in the backup folder but not in MANIFEST.json" });
    // Folders the swap moved in are checked against their own record (absent: not moved yet, or put back).
    for (const [key, rec] of Object.entries(m.moved ?? {})) {
      if (lstatOrNull(path.join(dir, key))) problems.push(...checkMoved(key, path.join(dir, key), rec));
    }
  }
  problems.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return {
    backup_id: m.backup_id,
    ok: problems.length === 0,
    mode,
    files_checked: files.length,
    files_hashed: toHash.length,
    problems,
    duration_ms: Math.round(performance.now() - t0),
  };
}

/**
 * The copies a stat cannot vouch for: those whose inode or ctime moved since the backup was
 * verified, and those written within 2 s of their verification, which a same-second write
 * could have changed without moving the ctime second. Missing or odd copies go to `problems`.
 */
function changedCopies(dir: string, m: Manifest, files: number[], problems: VerifyProblem[]): number[] {
  const t = m.entries;
  const racyFrom = ctimeOf(m.verify_started_ms) - 1;
  const out: number[] = [];
  for (const i of files) {
    const key = t.keys[i];
    let st: fs.Stats | null;
    try {
      st = lstatOrNull(path.join(dir, key));
    } catch {
      problems.push({ path: key, problem: "cannot be read" });
      continue;
    }
    if (!st) {
      if (!notTaken(dir, m, i)) problems.push({ path: key, problem: "missing from the backup" });
    }
    else if (!st.isFile()) problems.push({ path: key, problem: "is not a regular file in the backup" });
    else if (st.size !== t.size(i)) problems.push({ path: key, problem: `size ${st.size} bytes, expected ${t.size(i)}` });
    else if (st.ino !== t.copyIno(i) || ctimeOf(st.ctimeMs) !== t.copyCtimeS(i) || t.copyCtimeS(i) >= racyFrom) out.push(i);
  }
  return out;
}

/** True for a file recorded as `taken` that its writer never linked in: it was never replaced, so nothing is missing. */
export function notTaken(dir: string, m: Manifest, i: number): boolean {
  if (!m.taken?.length) return false;
  let set = takenSets.get(m);
  if (!set) takenSets.set(m, (set = new Set(m.taken)));
  const key = m.entries.keys[i];
  return set.has(key) && !lstatOrNull(path.join(dir, key));
}
const takenSets = new WeakMap<Manifest, Set<string>>();

/** Paths in the backup folder that the manifest does not list. */
function unexpected(dir: string, m: Manifest): string[] {
  const out: string[] = [];
  const own = new Set([MANIFEST, MANIFEST_SUM, MARKER, AFTER, LABEL, REPLACED]);
  const roots = Object.keys(m.roots);
  const walk = (key: string | null) => {
    const abs = key ? path.join(dir, key) : dir;
    for (const d of fs.readdirSync(abs, { withFileTypes: true })) {
      if (!key && own.has(d.name)) continue;
      const k = key ? `${key}/${d.name}` : d.name;
      const known = m.entries.indexOf(k) >= 0 || (m.moved !== undefined && k in m.moved);
      // `install` and `project` (and parents of file roots) are the backup's own folders.
      const isContainer = !known && d.isDirectory() && roots.some((r) => r.startsWith(k + "/"));
      if (!known && !isContainer) {
        out.push(k);
        continue;
      }
      if (d.isDirectory() && !(m.moved !== undefined && k in m.moved)) walk(k);
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
