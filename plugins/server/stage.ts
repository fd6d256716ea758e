/**
 * Staged replacement of a whole folder (`mcp_server/`, `scripts/`): copy the source beside
 * the live folder as `<name>.staged-<id>`, verify every staged file's sha256 against the
 * source, then swap with two renames. No moment shows a half-copied folder, and files the
 * new version no longer has cannot survive (the old folder is moved aside as a whole).
 *
 * The crash window: rename(live → <name>.old-<id>) then rename(staged → live). Between the
 * two, `live` does not exist; a crash there leaves `.old-<id>` and `.staged-<id>` and no live
 * folder. Linux's renameat2(RENAME_EXCHANGE) would close the window, but Node and Deno do
 * not expose it, so `repairSwap` finishes or undoes an interrupted swap from what is on disk.
 *
 * Where the old folder goes is the caller's choice (`old`): beside the live one by default,
 * or into the upgrade's backup (same filesystem), which makes the rename the backup itself.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/** SPEC §2 copy excludes, as globby ignore patterns. */
export const DEFAULT_EXCLUDES: readonly string[] = Object.freeze([
  "**/__pycache__/**",
  "**/*.pyc",
  "**/.DS_Store",
  "**/.pytest_cache/**",
  "**/.mypy_cache/**",
  "**/.agent-os/**",
  "**/.praxis-os/**",
  "**/.cursor/**",
]);

export const stagedPath = (live: string, id: string): string => `${live}.staged-${id}`;
export const oldPath = (live: string, id: string): string => `${live}.old-${id}`;

/** sha256 of a file's bytes, hex. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Uint8Array);
  return hash.digest("hex");
}

/** `{relpath: sha256}` of every file under `dir` (POSIX relpaths, sorted), excludes applied. */
export async function hashTree(dir: string, excludes: readonly string[] = DEFAULT_EXCLUDES): Promise<Record<string, string>> {
  // Loaded here, not at the top: a command that loads the plugins and stages nothing (`backups list` with a config file) skips globby's 70 modules.
  const { globby } = await import("globby");
  const files = (await globby("**/*", { cwd: dir, dot: true, onlyFiles: true, ignore: [...excludes] })).sort();
  const out: Record<string, string> = {};
  for (const rel of files) out[rel] = await sha256File(path.join(dir, rel));
  return out;
}

export interface StageOptions {
  /** The new folder, e.g. `<source>/mcp_server`. */
  source: string;
  /** The live folder it will replace, e.g. `<install>/mcp_server` (need not exist). */
  live: string;
  /** Names the staged and old folders; use the session id so a resumed run finds them. */
  id: string;
  excludes?: readonly string[];
}

export interface StageResult {
  staged: string;
  /** `{relpath: sha256}` of the source, which the staged copy was verified against. */
  files: Record<string, string>;
  bytes: number;
  verified: true;
}

/**
 * Copies the source (minus excludes) to `<live>.staged-<id>` and verifies it; a leftover
 * staged folder from an earlier attempt is replaced. Throws when verification fails, after
 * removing the staged copy.
 */
export async function stageCopy(options: StageOptions): Promise<StageResult> {
  const staged = stagedPath(options.live, options.id);
  const excludes = options.excludes ?? DEFAULT_EXCLUDES;
  const files = await hashTree(options.source, excludes);
  fs.rmSync(staged, { recursive: true, force: true });
  let bytes = 0;
  try {
    for (const rel of Object.keys(files)) {
      const from = path.join(options.source, rel);
      const to = path.join(staged, rel);
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.copyFileSync(from, to);
      const stat = fs.statSync(from);
      fs.chmodSync(to, stat.mode & 0o7777);
      bytes += stat.size;
    }
    const problems = await verifyTree(staged, files);
    if (problems.length > 0) {
      throw new Error(`Cannot use the staged copy of "${options.source}": ${problems.slice(0, 5).join("; ")}`);
    }
  } catch (err) {
    fs.rmSync(staged, { recursive: true, force: true });
    throw err;
  }
  return { staged, files, bytes, verified: true };
}

/** Differences between a folder and the expected `{relpath: sha256}`: missing, extra and changed files. */
export async function verifyTree(dir: string, expected: Record<string, string>): Promise<string[]> {
  const actual = await hashTree(dir, []);
  const problems: string[] = [];
  for (const [rel, hash] of Object.entries(expected)) {
    if (!(rel in actual)) problems.push(`"${rel}" is missing`);
    else if (actual[rel] !== hash) problems.push(`"${rel}" has sha256 ${actual[rel].slice(0, 12)}…, expected ${hash.slice(0, 12)}…`);
  }
  for (const rel of Object.keys(actual)) if (!(rel in expected)) problems.push(`"${rel}" is not in the source`);
  return problems;
}

export interface SwapResult {
  live: string;
  /** Where the previous live folder went; null when there was none. */
  old: string | null;
}

/**
 * Swaps a verified staged folder in: live → `<live>.old-<id>`, staged → live. The old folder
 * is kept for the caller to remove (`removeOld`) once the new one is healthy.
 */
export function swapStaged(live: string, id: string, old: string = oldPath(live, id)): SwapResult {
  const staged = stagedPath(live, id);
  if (!fs.existsSync(staged)) throw new Error(`Cannot swap "${live}": the staged folder "${staged}" does not exist`);
  if (fs.existsSync(old)) throw new Error(`Cannot swap "${live}": "${old}" already exists (an earlier swap with the same id)`);
  const hadLive = fs.existsSync(live);
  if (hadLive) fs.renameSync(live, old);
  // Crash window: here `live` does not exist (see the file comment and repairSwap).
  fs.renameSync(staged, live);
  return { live, old: hadLive ? old : null };
}

/** Removes `<live>.old-<id>` after a successful swap. */
export function removeOld(live: string, id: string): void {
  fs.rmSync(oldPath(live, id), { recursive: true, force: true });
}

/** Puts the old folder back after a swap (e.g. the new server failed): live → removed, old → live. */
export function undoSwap(live: string, id: string, old: string = oldPath(live, id)): void {
  if (!fs.existsSync(old)) throw new Error(`Cannot undo the swap of "${live}": "${old}" does not exist`);
  fs.rmSync(live, { recursive: true, force: true });
  fs.renameSync(old, live);
}

export type RepairAction =
  /** Nothing of this id on disk, or a finished swap whose old folder waits for removeOld. */
  | "none"
  /** Crash between the renames, prefer "forward": the staged folder became live. */
  | "completed"
  /** Crash between the renames, prefer "back": the old folder is live again, staged removed. */
  | "reverted"
  /** Crash before the first rename: the leftover staged folder was removed; live untouched. */
  | "discarded-staged";

/**
 * Repairs an interrupted swap of `live` with this id, deciding from what exists on disk:
 *
 * | live | old-<id> | staged-<id> | state                          | action               |
 * |------|----------|-------------|--------------------------------|----------------------|
 * | no   | yes      | yes         | crashed between the renames    | forward or back      |
 * | no   | yes      | no          | crashed in an undo             | old → live           |
 * | no   | no       | yes         | first install, before rename   | forward, else remove |
 * | yes  | –        | yes         | crashed while staging/verifying| remove staged        |
 * | yes  | yes/no   | no          | swap done (or never started)   | none                 |
 *
 * "forward" is only safe when the staged copy had been verified, which swapStaged's callers
 * guarantee (stageCopy verifies before returning).
 */
export function repairSwap(live: string, id: string, prefer: "forward" | "back" = "back", old: string = oldPath(live, id)): RepairAction {
  const staged = stagedPath(live, id);
  const [hasLive, hasOld, hasStaged] = [live, old, staged].map((p) => fs.existsSync(p));
  if (!hasLive && hasOld && hasStaged) {
    if (prefer === "forward") {
      fs.renameSync(staged, live);
      return "completed";
    }
    fs.renameSync(old, live);
    fs.rmSync(staged, { recursive: true, force: true });
    return "reverted";
  }
  if (!hasLive && hasOld) {
    fs.renameSync(old, live);
    return "reverted";
  }
  if (!hasLive && hasStaged && prefer === "forward") {
    fs.renameSync(staged, live); // a first install (no previous live folder) cut off before its rename
    return "completed";
  }
  if (hasStaged) {
    fs.rmSync(staged, { recursive: true, force: true });
    return "discarded-staged";
  }
  return "none";
}
