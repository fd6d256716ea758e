/**
 * Restores a backup into the live installation, exactly, in three steps:
 *
 * 1. Check and plan, changing nothing: the backup is checked (see verify.ts) while the live
 *    tree is compared with the manifest. A live file whose inode, size, mtime and ctime are
 *    those recorded when it was backed up has not been written since and is left alone
 *    without being read, and a live folder whose inode and ctime have not moved has had no
 *    entry added or removed and is not listed; only what changed (few: what the upgrade
 *    touched) is listed, hashed or copied. That keeps a rollback's cost to a stat per
 *    backed-up path plus the bytes the upgrade actually changed.
 *    (Renaming whole backed-up folders into place would be O(1), but it consumes the backup,
 *    which must stay restorable; and it would still have to check every file of the backup.)
 * 2. Stage: every file to restore is copied from the backup into `.backups/.restore-*`,
 *    hashed on the way and compared with the manifest, with its mode and mtime, then flushed to disk (one syncfs).
 *    A damaged copy stops the rollback here, with nothing live changed.
 * 3. Commit: remove what the upgrade created, create folders, rename staged files over the
 *    live ones (atomic per file), recreate links, then fix modes and folder times.
 *
 * Every step is idempotent: a rollback killed at any point is finished by running it again,
 * because the plan is recomputed from what is on disk (already-restored files compare equal,
 * leftovers of the killed run are not in the manifest and are removed).
 * Symbolic links are never followed; protected paths are never under a root (roots.ts).
 */
import fs from "node:fs";
import path from "node:path";
import { fsyncDir } from "../../core/atomic.ts";
import { isUpgradeError, UpgradeError } from "../../core/errors.ts";
import type { Layout } from "../../core/layout.ts";
import { pidAlive } from "../../core/proc.ts";
import { ctimeOf, type EntryTable, K_DIR, K_FILE, K_LINK, type Manifest, mtimeOf, readManifest } from "./manifest.ts";
import { copyHashed, hashFile, inSlices } from "./copy.ts";
import { RECORD_PATHS } from "../ownership.ts";
import { absOf, linkedParentOf } from "./roots.ts";
import { lstatOrNull, rmForce, syncFilesystem } from "./fsutil.ts";
import { describeProblems, notTaken, verifySnapshot, type VerifyMode, type VerifyProblem } from "./verify.ts";

export interface RestoreOptions {
  /** Files hashed or staged between two turns of the event loop. */
  batchSize?: number;
  /** "stat" (default) or "full": how the backup is checked before anything changes. */
  verify?: VerifyMode;
  onProgress?: (stage: "verify" | "stage" | "commit", done: number, total: number) => void;
  /** Durable progress notes (the session journal). */
  journal?: (step: string, data?: Record<string, unknown>) => Promise<void>;
  /**
   * A folder where every live file the restore replaces, and every path it removes, is kept
   * first (a hard link, a rename: no copy). An automatic rollback has no "before rollback"
   * backup, and a file its user changed while the upgrade ran must not be lost with the
   * upgrade's own output.
   */
  keep?: string;
}

export interface RestoreReport {
  backup_id: string;
  backup_path: string;
  verify_mode: VerifyMode;
  backup_verified: true;
  files_checked: number;
  files_restored: number;
  bytes_restored: number;
  /** "link" when the disk was full: the restored files share their inode with the backup's copies. */
  staged_by?: "copy" | "link";
  symlinks_restored: number;
  dirs_created: number;
  /** Paths the upgrade created (inside backed-up folders, or roots that did not exist), removed. */
  created_removed: number;
  modes_fixed: number;
  /** The first paths changed, for the report. */
  changed_sample: string[];
  /** Live paths kept in `keep` before they were replaced or removed. */
  kept?: { dir: string; paths: number };
  timings: { load_ms: number; check_ms: number; stage_ms: number; commit_ms: number; total_ms: number };
}

const STAGING_PREFIX = ".restore-";

/** What to do, by manifest entry index (removals are live paths the manifest does not have). */
export interface Plan {
  remove: string[];
  mkdir: number[];
  files: number[];
  hashCheck: number[];
  links: number[];
  fixMeta: number[];
  dirMeta: number[];
  touchedDirs: Set<number>;
  removeParents: string[];
  /** Index of each entry's parent folder (-1 for a root). */
  parents: Int32Array;
}

/** Removes staging folders of rollbacks whose process died. */
export function sweepStaging(backupsDir: string): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(backupsDir);
  } catch {
    return out;
  }
  for (const n of names) {
    const m = /^\.restore-.+-(\d+)$/.exec(n);
    if (m && !pidAlive(Number(m[1]))) {
      rmForce(path.join(backupsDir, n));
      out.push(n);
    }
  }
  return out;
}

export function damagedBackupError(id: string, dir: string, problems: VerifyProblem[]): UpgradeError {
  return new UpgradeError("BACKUP_INVALID", `Cannot restore backup ${id}: ${problems.length} file${problems.length === 1 ? "" : "s"} in it ${problems.length === 1 ? "does" : "do"} not match its MANIFEST.json: ${describeProblems(problems)}; nothing was changed`, {
    hint: `Run \`agent-os-upgrade backups verify ${id}\` for the full list; restore another backup with \`agent-os-upgrade rollback --to <id>\` (\`agent-os-upgrade backups list\`), or repair ${dir} by hand`,
    details: { backup_id: id, problems: problems.slice(0, 200) },
  });
}

export async function restoreSnapshot(layout: Layout, dir: string, opts: RestoreOptions = {}): Promise<RestoreReport> {
  const t0 = performance.now();
  /** Until the commit starts, any failure leaves the installation exactly as it was. */
  let committing = false;
  let staging: string | null = null;
  try {
    const m = readManifest(dir);
    const t = m.entries;
    const id = m.backup_id;
    const verifyMode = opts.verify ?? "stat";
    sweepStaging(layout.backupsDir);
    const tLoaded = performance.now();
    // 1. Check the backup and plan, changing nothing.
    const report = await verifySnapshot(dir, m, verifyMode, { batchSize: opts.batchSize, onProgress: (d, n) => opts.onProgress?.("verify", d, n) });
    if (!report.ok) throw damagedBackupError(id, dir, report.problems);
    const plan = planRestore(layout, m);
    await settleHashChecks(layout, m, plan, opts);
    // Taken files their writer never linked in were never replaced: what is live stays.
    if (m.taken?.length) plan.files = plan.files.filter((i) => !notTaken(dir, m, i));
    await opts.journal?.("backup.rollback:checked", { backup_id: id, files_to_restore: plan.files.length, paths_to_remove: plan.remove.length });
    const tChecked = performance.now();

    // 2. Stage every file to restore, hashed against the manifest on the way.
    const stage = (staging = path.join(layout.backupsDir, `${STAGING_PREFIX}${id}-${process.pid}`));
    const { bytes, linked } = await stageFiles(dir, m, plan.files, stage, opts);
    await opts.journal?.("backup.rollback:staged", { backup_id: id, files: plan.files.length, bytes, linked });
    const tStaged = performance.now();

    // 3. Commit.
    committing = true;
    const counts = commit(layout, m, plan, stage, opts);
    await opts.journal?.("backup.rollback:committed", { backup_id: id, ...counts });
    const tCommitted = performance.now();
    const changed = [...plan.remove.map((k) => `-${k}`), ...plan.files.map((i) => `~${t.keys[i]}`), ...plan.links.map((i) => `~${t.keys[i]}`)];
    return {
      backup_id: id,
      backup_path: dir,
      verify_mode: verifyMode,
      backup_verified: true,
      files_checked: report.files_checked,
      files_restored: plan.files.length,
      bytes_restored: bytes,
      staged_by: linked ? "link" : "copy",
      symlinks_restored: plan.links.length,
      dirs_created: plan.mkdir.length,
      created_removed: plan.remove.length,
      modes_fixed: counts.modes_fixed,
      changed_sample: changed.slice(0, 50),
      ...(opts.keep && counts.kept ? { kept: { dir: opts.keep, paths: counts.kept } } : {}),
      timings: {
        load_ms: Math.round(tLoaded - t0),
        check_ms: Math.round(tChecked - tLoaded),
        stage_ms: Math.round(tStaged - tChecked),
        commit_ms: Math.round(tCommitted - tStaged),
        total_ms: Math.round(performance.now() - t0),
      },
    };
  } catch (err) {
    if (committing) throw err;
    // Tell the caller (and the core, which keeps a finished session's status then) that the
    // refusal changed nothing.
    const e = isUpgradeError(err) ? err : new UpgradeError("ROLLBACK_FAILED", `Cannot roll back: ${(err as Error).message}; nothing was changed`, {
      hint: "Fix the cause named above, then run `agent-os-upgrade rollback` again",
      cause: err,
    });
    e.details = { ...(e.details as Record<string, unknown> | undefined), nothing_changed: true };
    throw e;
  } finally {
    if (staging) rmForce(staging);
  }
}

/** Live files whose stat moved but whose size did not: unchanged if their bytes still hash to the manifest's (then only mode and time are fixed). */
async function settleHashChecks(layout: Layout, m: Manifest, plan: Plan, opts: RestoreOptions): Promise<void> {
  const t = m.entries;
  await inSlices(plan.hashCheck, (i) => {
    const r = hashFile(absOf(layout, t.keys[i]));
    if (r.ok && r.ok.sha === t.shaHex(i) && r.ok.size === t.size(i)) plan.fixMeta.push(i);
    else {
      plan.files.push(i);
      if (plan.parents[i] >= 0) plan.touchedDirs.add(plan.parents[i]);
    }
  }, { slice: opts.batchSize });
}

/**
 * Copies each file to restore from the backup into the staging folder (as `<n>`, its place
 * in `files`), with its recorded mode and mtime, hashed on the way, then flushed to disk; a copy whose
 * hash is not the manifest's stops the rollback before anything live changed. Returns the bytes staged.
 * A full disk (ENOSPC) must not stop a rollback: the copies made so far are dropped and every
 * file is staged as a hard link to its backup copy instead, which needs no new blocks.
 */
async function stageFiles(dir: string, m: Manifest, files: number[], stage: string, opts: RestoreOptions): Promise<{ bytes: number; linked: boolean }> {
  if (!files.length) return { bytes: 0, linked: false };
  fs.mkdirSync(stage, { recursive: true, mode: 0o700 });
  let r = await stageEach(dir, m, files, stage, opts, false);
  if (r === "ENOSPC") {
    for (let n = 0; n < files.length; n++) fs.rmSync(path.join(stage, String(n)), { force: true });
    r = await stageEach(dir, m, files, stage, opts, true);
  }
  if (r === "ENOSPC") throw new Error("unreachable: a link needs no space");
  // One flush of the filesystem, not an fsync per file (serial fsyncs dominated staging).
  syncFilesystem(stage, () => files.map((_, n) => path.join(stage, String(n))));
  fsyncDir(stage);
  return r;
}

/** Stages every file by copy, or by link; "ENOSPC" when a copy ran out of space. */
async function stageEach(dir: string, m: Manifest, files: number[], stage: string, opts: RestoreOptions, link: boolean): Promise<{ bytes: number; linked: boolean } | "ENOSPC"> {
  const t = m.entries;
  const bad: VerifyProblem[] = [];
  let bytes = 0;
  let full = false;
  await inSlices(files, (i, n) => {
    if (full) return;
    const key = t.keys[i];
    const r = link ? linkHashed(path.join(dir, key), path.join(stage, String(n)), t.mode(i), t.mtimeMs(i)) : copyHashed(path.join(dir, key), path.join(stage, String(n)), { clone: false, sync: false, mode: t.mode(i), mtimeMs: t.mtimeMs(i) });
    if (r.err?.code === "ENOSPC" && !link) full = true;
    else if (r.err) bad.push({ path: key, problem: r.err.code === "ENOENT" ? "missing from the backup" : `cannot be read (${r.err.code}: ${r.err.message})` });
    else if (r.ok.sha !== t.shaHex(i)) bad.push({ path: key, problem: `content differs from MANIFEST.json (sha256 ${r.ok.sha.slice(0, 12)}…, expected ${t.shaHex(i).slice(0, 12)}…)` });
    else bytes += r.ok.size;
  }, { slice: opts.batchSize, onSlice: (d) => opts.onProgress?.("stage", d, files.length) });
  if (full) return "ENOSPC";
  if (bad.length) throw damagedBackupError(m.backup_id, dir, bad);
  return { bytes, linked: link };
}

/** Stages a backup copy as a hard link (no new blocks), hashed, with its recorded mode and mtime (shared with the copy, which keeps them). */
function linkHashed(src: string, dst: string, mode: number, mtimeMs: number): ReturnType<typeof hashFile> {
  try {
    fs.linkSync(src, dst);
    const r = hashFile(dst);
    if (r.err) return r;
    const st = fs.lstatSync(dst);
    if ((st.mode & 0o7777) !== mode) fs.chmodSync(dst, mode);
    if (mtimeOf(st.mtimeMs) !== mtimeMs) fs.utimesSync(dst, st.atime, mtimeMs / 1000);
    return r;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { err: { code: e.code ?? "EIO", message: e.message } };
  }
}

/** Fields per path in the result of `statHere`: type, size, mode, mtimeMs, ctimeMs, ino. */
const STAT_FIELDS = 6;
const StatType = { Missing: 0, File: 1, Dir: 2, Link: 3, Other: 4, Error: 5 } as const;

/**
 * Links that stand where the backup has a folder above a root (a user replaced a content
 * folder by a link after the upgrade): never followed. The restore removes the link (a manual
 * rollback first keeps it in its "before rollback" backup) and recreates the folder.
 */
function linkedParents(layout: Layout, m: Manifest): string[] {
  const out = new Set<string>();
  for (const key of Object.keys(m.roots)) {
    const l = linkedParentOf(layout, { key, abs: absOf(layout, key) });
    if (l) out.add(l.key);
  }
  return [...out];
}

const under = (key: string, dirs: readonly string[]) => dirs.some((d) => key.startsWith(`${d}/`));

/** lstat of every entry's live path, in table order, STAT_FIELDS numbers each; paths under a linked folder are missing (never followed). */
function statHere(layout: Layout, t: EntryTable, linked: readonly string[] = []): Float64Array {
  const out = new Float64Array(t.length * STAT_FIELDS);
  for (let i = 0; i < t.length; i++) {
    const o = i * STAT_FIELDS;
    if (linked.length && under(t.keys[i], linked)) continue;
    let st: fs.Stats | null;
    try {
      st = lstatOrNull(absOf(layout, t.keys[i]));
    } catch {
      out[o] = StatType.Error;
      continue;
    }
    if (!st) continue;
    out[o] = st.isFile() ? StatType.File : st.isDirectory() ? StatType.Dir : st.isSymbolicLink() ? StatType.Link : StatType.Other;
    out[o + 1] = st.size;
    out[o + 2] = st.mode & 0o7777;
    out[o + 3] = st.mtimeMs;
    out[o + 4] = st.ctimeMs;
    out[o + 5] = st.ino;
  }
  return out;
}

/** A walk of the manifest's table against the live stats, filling `plan`. */
interface PlanWalk {
  layout: Layout;
  t: EntryTable;
  /** lstat numbers per entry, STAT_FIELDS each (statHere). */
  live: Float64Array;
  parents: Int32Array;
  /** Children of entry i: child[start[i]] … child[start[i + 1] - 1]. */
  start: Int32Array;
  child: Int32Array;
  /** ctime second from which a file's stat cannot be trusted (see planRestore). */
  racyFrom: number;
  plan: Plan;
}

/** Children of each folder, from the parent of each entry (a counting sort: no per-folder arrays). */
function childrenOf(n: number, parents: Int32Array): { start: Int32Array; child: Int32Array } {
  const start = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) if (parents[i] >= 0) start[parents[i] + 1]++;
  for (let i = 0; i < n; i++) start[i + 1] += start[i];
  const child = new Int32Array(n);
  const fill = start.slice(0, n);
  for (let i = 0; i < n; i++) if (parents[i] >= 0) child[fill[parents[i]]++] = i;
  return { start, child };
}

function touch(w: PlanWalk, i: number): void {
  if (i >= 0) w.plan.touchedDirs.add(i);
}

/** Entry i is not live: created again, with all it holds. */
function absent(w: PlanWalk, i: number): void {
  const { t, plan } = w;
  touch(w, w.parents[i]);
  const kind = t.kind(i);
  if (kind === K_DIR) {
    plan.mkdir.push(i);
    for (let c = w.start[i]; c < w.start[i + 1]; c++) absent(w, w.child[c]);
  } else if (kind === K_FILE) plan.files.push(i);
  else if (kind === K_LINK) plan.links.push(i);
}

function removeLive(w: PlanWalk, key: string, parent: number): void {
  w.plan.remove.push(key);
  touch(w, parent);
}

/** A backed-up folder: created if missing; what it holds that the manifest does not is removed (listed only when its ctime moved). */
function planDir(w: PlanWalk, i: number, type: number): void {
  const { t, live, plan } = w;
  const o = i * STAT_FIELDS;
  if (type !== StatType.Dir) {
    if (type !== StatType.Missing) removeLive(w, t.keys[i], w.parents[i]);
    return absent(w, i);
  }
  if (live[o + 2] !== t.mode(i)) plan.dirMeta.push(i);
  // A folder whose ctime has not moved has had no entry added, removed or renamed: no
  // need to list it. Otherwise, whatever it holds that the manifest does not was created.
  const unchanged = live[o + 5] === t.ino(i) && ctimeOf(live[o + 4]) === t.ctimeS(i) && t.ctimeS(i) < w.racyFrom;
  if (!unchanged) {
    const prefix = t.keys[i].length + 1;
    const names = new Set<string>();
    for (let c = w.start[i]; c < w.start[i + 1]; c++) names.add(t.keys[w.child[c]].slice(prefix));
    for (const name of fs.readdirSync(absOf(w.layout, t.keys[i]))) {
      if (!names.has(name)) removeLive(w, `${t.keys[i]}/${name}`, i);
    }
  }
  for (let c = w.start[i]; c < w.start[i + 1]; c++) planEntry(w, w.child[c]);
}

/** A backed-up file: left alone when its stat is the recorded one, hashed when only its size is, else restored. */
function planFile(w: PlanWalk, i: number, type: number): void {
  const { t, live, plan } = w;
  const o = i * STAT_FIELDS;
  if (type === StatType.Missing) return absent(w, i);
  if (type === StatType.Dir) {
    removeLive(w, t.keys[i], w.parents[i]);
    return absent(w, i);
  }
  if (type !== StatType.File) return absent(w, i); // a link or special file: the rename replaces it
  const size = t.size(i);
  const sameStat = live[o + 5] === t.ino(i) && live[o + 1] === size && mtimeOf(live[o + 3]) === t.mtimeMs(i) && ctimeOf(live[o + 4]) === t.ctimeS(i);
  if (sameStat && t.ctimeS(i) < w.racyFrom && live[o + 2] === t.mode(i)) return;
  if (live[o + 1] === size) plan.hashCheck.push(i);
  else absent(w, i);
}

function planEntry(w: PlanWalk, i: number): void {
  const { t } = w;
  const type = w.live[i * STAT_FIELDS];
  if (type === StatType.Error) {
    throw new UpgradeError("ROLLBACK_FAILED", `Cannot roll back: ${absOf(w.layout, t.keys[i])} cannot be read (permission denied?); nothing was changed`, {
      hint: "Make the installation folder readable by this user, then run `agent-os-upgrade rollback` again",
    });
  }
  const kind = t.kind(i);
  if (kind === K_DIR) planDir(w, i, type);
  else if (kind === K_FILE) planFile(w, i, type);
  else if (kind === K_LINK) {
    if (type === StatType.Link && fs.readlinkSync(absOf(w.layout, t.keys[i])) === t.text(i)) return;
    if (type === StatType.Dir) removeLive(w, t.keys[i], w.parents[i]);
    absent(w, i);
  }
  // K_OTHER: a special file we never copied; leave it
}

/** Each root of the manifest: a missing one removed if it now exists, else walked from its entry. */
function planRoots(w: PlanWalk, m: Manifest, linked: readonly string[]): void {
  const { t, plan } = w;
  const rootIndex = new Map<string, number>();
  for (let i = 0; i < t.length; i++) if (w.parents[i] < 0) rootIndex.set(t.keys[i], i);
  plan.remove.push(...linked);
  for (const [key, kind] of Object.entries(m.roots)) {
    const abs = absOf(w.layout, key);
    const behindLink = under(key, linked);
    if (!behindLink) sweepRootTemps(abs);
    if (kind === "missing") {
      if (behindLink) continue; // gone with the link
      if (lstatOrNull(abs)) plan.remove.push(key);
      plan.removeParents.push(...(m.missing_parents[key] ?? []));
      continue;
    }
    const i = rootIndex.get(key);
    if (i === undefined) throw new Error(`Cannot plan the restore: root "${key}" has no entry in MANIFEST.json`);
    planEntry(w, i);
  }
}

/**
 * Compares the live tree with the manifest, from stats taken in table order (`live`), plus
 * a readdir of each live folder (to find what the upgrade added) and a readlink of links.
 */
export function planRestore(layout: Layout, m: Manifest, liveStats?: Float64Array): Plan {
  const t = m.entries;
  const linked = linkedParents(layout, m);
  const live = liveStats ?? statHere(layout, t, linked);
  const parents = t.parents();
  const plan: Plan = { remove: [], mkdir: [], files: [], hashCheck: [], links: [], fixMeta: [], dirMeta: [], touchedDirs: new Set(), removeParents: [], parents };
  // Files changed up to 2 s before the backup started share their ctime second with a write
  // that could have landed just after we read them: compare those by content, never by stat.
  const racyFrom = ctimeOf(m.started_at_ms) - 2;
  planRoots({ layout, t, live, parents, ...childrenOf(t.length, parents), racyFrom, plan }, m, linked);
  return plan;
}

/** Temp names this module creates beside a live path (see commit); a killed run may leave them. */
const tempName = (abs: string, tag: "lnk" | "tmp") => path.join(path.dirname(abs), `.${path.basename(abs)}.aou-${process.pid}.${tag}`);

function sweepRootTemps(abs: string): void {
  const dirname = path.dirname(abs);
  const prefix = `.${path.basename(abs)}.aou-`;
  let names: string[];
  try {
    names = fs.readdirSync(dirname);
  } catch {
    return;
  }
  for (const n of names) {
    const mm = n.startsWith(prefix) ? /\.aou-(\d+)\.(lnk|tmp)$/.exec(n) : null;
    if (mm && !pidAlive(Number(mm[1]))) fs.rmSync(path.join(dirname, n), { force: true });
  }
}

type Failure = { key: string; action: string; error: string };

/** One commit's bookkeeping: each change attempted (a failure recorded, the others still made), progress, modes fixed. */
interface Commit {
  layout: Layout;
  t: EntryTable;
  abs(i: number): string;
  attempt(key: string, action: string, fn: () => void): void;
  failures: Failure[];
  modesFixed: number;
  /** Where replaced and removed live paths are kept (RestoreOptions.keep), and how many were. */
  keep?: string;
  kept: number;
}

function startCommit(layout: Layout, m: Manifest, plan: Plan, opts: RestoreOptions): Commit {
  const t = m.entries;
  const total = plan.remove.length + plan.mkdir.length + plan.files.length + plan.links.length + plan.fixMeta.length + plan.dirMeta.length;
  let done = 0;
  const c: Commit = {
    layout,
    t,
    abs: (i) => absOf(layout, t.keys[i]),
    failures: [],
    modesFixed: 0,
    keep: opts.keep,
    kept: 0,
    attempt(key, action, fn) {
      try {
        fn();
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        c.failures.push({ key, action, error: e.code && !e.message.startsWith(e.code) ? `${e.code}: ${e.message}` : e.message });
      }
      done++;
      if (done % 16 === 0 || done === total) opts.onProgress?.("commit", done, total);
    },
  };
  return c;
}

/** Renames the staged copy over the live file (atomic); across filesystems, a flushed copy beside it, then the rename. */
function restoreFile(c: Commit, i: number, staged: string): void {
  const target = c.abs(i);
  if (!lstatOrNull(path.dirname(target))) mkdirLikeAncestor(path.dirname(target));
  try {
    fs.renameSync(staged, target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
    // Another filesystem (a mounted venv, a project on another disk): copy beside, then rename.
    const tmp = tempName(target, "tmp");
    fs.copyFileSync(staged, tmp);
    fs.chmodSync(tmp, c.t.mode(i));
    fs.utimesSync(tmp, new Date(), c.t.mtimeMs(i) / 1000);
    const fd = fs.openSync(tmp, "r");
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, target);
  }
}

/**
 * Keeps a live path in `c.keep` before the restore replaces (`link`: a hard link to a file) or
 * removes (`move`: the path renamed there) it; true when it is gone from its place. A
 * re-run after a kill finds its own earlier keep and replaces it.
 */
function keepLive(c: Commit, key: string, how: "link" | "move"): boolean {
  // Our own records (a pending manifest, caches) are no one's work: not kept.
  if (!c.keep || isRecord(key)) return false;
  const live = absOf(c.layout, key);
  const st = lstatOrNull(live);
  if (!st || (how === "link" && !st.isFile())) return false;
  const kept = path.join(c.keep, key);
  fs.mkdirSync(path.dirname(kept), { recursive: true });
  rmForce(kept);
  try {
    if (how === "link") fs.linkSync(live, kept);
    else fs.renameSync(live, kept);
  } catch (err) {
    // Another filesystem (a project file outside the installation's disk): a copy.
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
    fs.cpSync(live, kept, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  }
  c.kept++;
  return how === "move" && !lstatOrNull(live);
}

/** A key inside the installation's own records (`install/.upgrade/…`, `install/.cache/…`). */
const isRecord = (key: string): boolean => key.startsWith("install/") && RECORD_PATHS.includes(key.slice("install/".length).split("/")[0]);

/** Removals, folders (parents first: a parent's key is shorter than any of its children's), files, links. */
function commitPaths(c: Commit, plan: Plan, staging: string): void {
  const { t } = c;
  for (const key of plan.remove) c.attempt(key, "remove", () => (keepLive(c, key, "move") || rmForce(absOf(c.layout, key))));
  for (const i of [...plan.mkdir].sort((a, b) => t.keys[a].length - t.keys[b].length)) {
    c.attempt(t.keys[i], "create folder", () => {
      if (!lstatOrNull(c.abs(i))?.isDirectory()) fs.mkdirSync(c.abs(i), { recursive: true, mode: 0o700 });
    });
  }
  plan.files.forEach((i, n) => c.attempt(t.keys[i], "restore file", () => {
    keepLive(c, t.keys[i], "link");
    restoreFile(c, i, path.join(staging, String(n)));
  }));
  for (const i of plan.links) {
    c.attempt(t.keys[i], "restore link", () => {
      const tmp = tempName(c.abs(i), "lnk");
      fs.rmSync(tmp, { force: true });
      fs.symlinkSync(t.text(i), tmp);
      fs.renameSync(tmp, c.abs(i));
    });
  }
}

/** Files whose bytes are right but whose mode or time moved. */
function commitFileMeta(c: Commit, plan: Plan): void {
  const { t } = c;
  for (const i of plan.fixMeta) {
    c.attempt(t.keys[i], "restore mode and time", () => {
      const st = fs.lstatSync(c.abs(i));
      if ((st.mode & 0o7777) !== t.mode(i)) {
        fs.chmodSync(c.abs(i), t.mode(i));
        c.modesFixed++;
      }
      if (mtimeOf(st.mtimeMs) !== t.mtimeMs(i)) fs.utimesSync(c.abs(i), st.atime, t.mtimeMs(i) / 1000);
    });
  }
}

/**
 * Folder modes and times last, deepest (longest key) first: a read-only folder must get its
 * files first, and every change above moved its parent's mtime.
 */
function commitDirMeta(c: Commit, plan: Plan): void {
  const { t } = c;
  const dirMeta = new Set(plan.dirMeta);
  const dirs = new Set([...plan.dirMeta, ...plan.mkdir, ...plan.touchedDirs]);
  for (const i of [...dirs].sort((a, b) => t.keys[b].length - t.keys[a].length)) {
    if (t.kind(i) !== K_DIR) continue;
    const fix = () => {
      const st = lstatOrNull(c.abs(i));
      if (!st?.isDirectory()) return;
      if ((st.mode & 0o7777) !== t.mode(i)) {
        fs.chmodSync(c.abs(i), t.mode(i));
        c.modesFixed++;
      }
      fs.utimesSync(c.abs(i), new Date(), t.mtimeMs(i) / 1000);
    };
    if (dirMeta.has(i)) c.attempt(t.keys[i], "restore folder mode", fix);
    else {
      try {
        fix();
      } catch (err) {
        c.failures.push({ key: t.keys[i], action: "restore folder mode", error: (err as Error).message });
      }
    }
  }
}

/** Folders that did not exist before the upgrade and were created only to hold a new file. */
function removeCreatedParents(c: Commit, plan: Plan): void {
  for (const key of plan.removeParents) {
    try {
      fs.rmdirSync(absOf(c.layout, key));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTEMPTY" && code !== "EEXIST") c.failures.push({ key, action: "remove created folder", error: (err as Error).message });
    }
  }
}

/** Every folder whose entries changed, flushed. */
function flushParents(c: Commit, plan: Plan): void {
  const parents = new Set([...plan.files.map(c.abs), ...plan.links.map(c.abs), ...plan.remove.map((k) => absOf(c.layout, k))].map((p) => path.dirname(p)));
  for (const p of parents) {
    try {
      fsyncDir(p);
    } catch { /* a folder that is gone needs no flush */ }
  }
}

function commit(layout: Layout, m: Manifest, plan: Plan, staging: string, opts: RestoreOptions): { modes_fixed: number; kept: number } {
  const c = startCommit(layout, m, plan, opts);
  commitPaths(c, plan, staging);
  commitFileMeta(c, plan);
  commitDirMeta(c, plan);
  removeCreatedParents(c, plan);
  flushParents(c, plan);
  if (c.failures.length) throw commitFailed(layout, m, c.failures);
  return { modes_fixed: c.modesFixed, kept: c.kept };
}

function commitFailed(layout: Layout, m: Manifest, failures: Failure[]): UpgradeError {
  const dir = m.backup_path;
  const lines = failures.slice(0, 5).map((f) => `${f.action} ${absOf(layout, f.key)} (${f.error})`);
  const manual = failures.slice(0, 3).map((f) =>
    f.action === "remove" ? `rm -rf ${JSON.stringify(absOf(layout, f.key))}` : `cp -a ${JSON.stringify(path.join(dir, f.key))} ${JSON.stringify(absOf(layout, f.key))}`
  );
  return new UpgradeError("ROLLBACK_FAILED", `Cannot finish the rollback: ${failures.length} change${failures.length === 1 ? "" : "s"} could not be made: ${lines.join("; ")}${failures.length > 5 ? `; and ${failures.length - 5} more` : ""}. Everything else was restored`, {
    hint: `Fix the cause (permissions, disk space) and run \`agent-os-upgrade rollback --to ${m.backup_id}\` again: it redoes only what still differs. By hand: ${manual.join("; ")}${failures.length > 3 ? "; and likewise for the rest listed in details.remaining" : ""} (the modes and links to restore are in ${path.join(dir, "MANIFEST.json")})`,
    details: { backup_id: m.backup_id, remaining: failures.slice(0, 500), nothing_changed: false },
  });
}

/**
 * Recreates folders an upgrade removed that the backup holds no record of (it records what
 * the upgrade changes, not every parent): with the mode of the nearest folder that still
 * exists, the best witness of what they were.
 */
function mkdirLikeAncestor(dir: string): void {
  let up = path.dirname(dir);
  while (!lstatOrNull(up) && path.dirname(up) !== up) up = path.dirname(up);
  const mode = (lstatOrNull(up)?.mode ?? 0o755) & 0o7777;
  const missing: string[] = [];
  for (let d = dir; !lstatOrNull(d); d = path.dirname(d)) missing.unshift(d);
  for (const d of missing) {
    fs.mkdirSync(d);
    fs.chmodSync(d, mode);
  }
}
