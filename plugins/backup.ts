/**
 * The backup plugin: phase 1 backs up what this upgrade will change — the scope the other
 * plugins declare on the scope channel (`backup/scope.ts`), nothing else — and verifies the
 * copy; `rollback` restores a backup exactly (automatic after a failure in phases 2–4, or by
 * hand with `rollback [--to <id>]`, which first undoes every later finished upgrade, newest
 * first: `backup/rollback.ts`); `cleanup` keeps the newest `keepBackups` backups. Costs follow
 * the change, not the installation: folders replaced by a swap are moved into the backup (a
 * rename), the venv is in scope only when phase 3 will change it, and a rollback looks only
 * at backed-up paths. The work itself lives in `plugins/backup/` (scope, snapshot, moved,
 * verify, restore, retention).
 *
 * The factory parses the options and taps the hooks; each tap calls a function of this
 * module over the run's context, the options and the run's state (`BackupRun`, made when the
 * run starts and found by its context), so a plugin object used for several runs carries
 * nothing from one into the next.
 */
import fs from "node:fs";
import path from "node:path";
import { parsePluginOptions } from "../core/config.ts";
import { isUpgradeError, UpgradeError } from "../core/errors.ts";
import type { Layout } from "../core/layout.ts";
import { type Plugin, STAGE } from "../core/plugin.ts";
import type { Outcome, UpgradeContext, UpgradeResult } from "../core/types.ts";
import { BackupEvidence, backupEvidence, type BackupOpts, BackupOptionsSchema, type BackupPluginOptions } from "./backup/evidence.ts";
import { emptyTrashDetached, removeTree } from "./backup/fsutil.ts";
import { type MovedRecord, recordMoved } from "./backup/moved.ts";
import { previewRollback, rollback } from "./backup/rollback.ts";
import { type BackupInfo, listBackups, pruneBackups, type PruneResult, readManifestHead, sweepBackups, verifyBackup } from "./backup/retention.ts";
import { absOf, keyOf, resolveRoots, type Root } from "./backup/roots.ts";
import { backupScope } from "./backup/scope.ts";
import { recordAfter } from "./backup/since.ts";
import { createSnapshot } from "./backup/snapshot.ts";
import { BACKUP_RUN_OPTIONS, backupRunOptions } from "./backup/run-options.ts";
import { describeProblems, type VerifyReport } from "./backup/verify.ts";
import { diskNeeds, treeSize } from "./preflight/disk.ts";

export { BackupEvidence, backupEvidence, BackupOptionsSchema, type BackupPluginOptions } from "./backup/evidence.ts";

/** The `backups list | verify | prune` commands go through the configured backup plugin. */
export interface BackupManager {
  list(layout: Layout): Promise<BackupInfo[]>;
  verify(layout: Layout, id: string): Promise<VerifyReport>;
  prune(layout: Layout, keep: number): Promise<PruneResult>;
  describeProblems(problems: VerifyReport["problems"]): string;
}

export interface BackupPlugin extends Plugin {
  manage: BackupManager;
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

/** This session's backup and the folders and files it takes by move or by link. */
interface SessionBackup {
  id: string;
  dir: string;
  moved: Set<string>;
  taken: Set<string>;
}

/** What one run of the plugin knows: the backup of this session (made by this run, or read back from its manifest on resume). */
interface BackupRun {
  current: SessionBackup | null;
}

/** Each run's state, by its context: made when the run starts, gone with it. */
const runs = new WeakMap<UpgradeContext, BackupRun>();

function runOf(ctx: UpgradeContext): BackupRun {
  let run = runs.get(ctx);
  if (!run) runs.set(ctx, (run = { current: null }));
  return run;
}

const MANAGER: BackupManager = {
  list: async (layout) => listBackups(layout),
  verify: (layout, id) => verifyBackup(layout, id),
  prune: async (layout, keep) => pruneBackups(layout, keep),
  describeProblems: (problems) => describeProblems(problems),
};

export function backupPlugin(options: BackupPluginOptions = {}): BackupPlugin {
  const opts = parsePluginOptions("backup", BackupOptionsSchema, options);
  return {
    name: "backup",
    whenDisabled: "nothing is backed up: a failed upgrade cannot be rolled back",
    evidence: { 1: BackupEvidence },
    options: BACKUP_RUN_OPTIONS,
    manage: MANAGER,
    apply(hooks) {
      hooks.summarize.tap(summarize);
      hooks.start.tap((ctx) => startRun(ctx, opts));
      hooks.backup.tap({ stage: STAGE.last }, (ctx, evidence) => backup(ctx, opts, runOf(ctx), evidence));
      hooks.planRollback.tap(previewRollback);
      hooks.rollback.tap((ctx, request) => rollback(ctx, opts, request));
      // Last of all (after the report wrote VERSION.txt and the logs): what the upgrade left,
      // so that a manual rollback can tell what changed since.
      hooks.cleanup.tap({ stage: STAGE.final }, recordWhatWasLeft);
      hooks.cleanup.tap((ctx, _outcome, evidence) => pruneOldBackups(ctx, runOf(ctx), evidence));
    },
  };
}

/** `summarize`: the backup's path and id in the run's result. */
function summarize(ctx: UpgradeContext, _outcome: Outcome, result: UpgradeResult): void {
  const ev = ctx.session ? backupEvidence(ctx.session.state) : undefined;
  if (ev?.backup_path) result.backup_path = ev.backup_path;
  result.summary.backup_id = ev?.backup_id ?? null;
}

/** `start`: a fresh state for the run; the disk phase 1 needs; where taken files and moved folders go. */
function startRun(ctx: UpgradeContext, opts: BackupOpts): void {
  runs.set(ctx, { current: null });
  // What phase 1 will copy: the declared scope as it is now (folders moved aside cost a rename, nothing).
  diskNeeds(ctx).add("backup", async (c) => {
    const scope = await backupScope(c).collect(c);
    const roots = resolveRoots(c.layout, scope.paths.keys(), opts);
    // Taken files cost a link, not their bytes.
    return { what: "backup", bytes: roots.reduce((n, r) => n + (scope.taken.has(r.abs) ? 0 : treeSize(r.abs)), 0) };
  });
  // A file declared `taken`, about to be replaced or deleted: hard-linked into this session's backup.
  backupScope(ctx).setTake((abs) => {
    const b = sessionBackup(ctx);
    const key = keyOf(ctx.layout, abs);
    return b?.taken.has(key) ? takeFile(abs, path.join(b.dir, key)) : false;
  });
  // Where the swap moves a folder declared with `moveAside`: into this session's backup.
  backupScope(ctx).setAside((abs) => {
    const b = sessionBackup(ctx);
    const key = keyOf(ctx.layout, abs);
    return b?.moved.has(key) ? path.join(b.dir, key) : null;
  });
  // The installed manifest and .gitignore are written by content, but also by whoever
  // records an install: the options' `include`s cover any others.
}

/** This session's backup and the folders it takes by move (from the run's state, else from its manifest on resume). */
function sessionBackup(ctx: UpgradeContext): SessionBackup | null {
  const run = runOf(ctx);
  if (run.current) return run.current;
  // By id under this project, not the recorded absolute path: a project copied or moved
  // mid-session must use its own backup (seen: resume on a copy moved the original's
  // mcp_server/ out of the original project's backup).
  const id = backupEvidence(ctx)?.backup_id;
  if (!id) return null;
  const dir = path.join(ctx.layout.backupsDir, id);
  const head = readManifestHead(dir);
  run.current = { id: path.basename(dir), dir, moved: new Set(Object.keys(head?.moved ?? {})), taken: new Set(head?.taken ?? []) };
  return run.current;
}

/** The folders to move aside that exist (recorded, moved later) and the scope's other paths. */
function splitScope(layout: Layout, paths: Iterable<string>, moveAside: Iterable<string>, covered: (key: string) => boolean) {
  const moved: Record<string, MovedRecord> = {};
  const copy = [...paths];
  for (const abs of moveAside) {
    const key = keyOf(layout, abs);
    if (covered(key)) continue; // a copied root holds it already
    const rec = recordMoved(abs);
    if (rec.kind === "missing") copy.push(abs); // created by the upgrade: rollback removes it
    else moved[key] = rec;
  }
  return { moved, copy };
}

type Scope = Awaited<ReturnType<ReturnType<typeof backupScope>["collect"]>>;

/** What phase 1 copies (`roots`), records to be moved in by the swap (`moved`) and takes by link in phase 2 (`taken`). */
interface BackupPlan {
  scope: Scope;
  roots: Root[];
  moved: Record<string, MovedRecord>;
  taken: Array<Root & { sha: string }>;
}

/** The declared scope resolved into roots: folders moved aside recorded, files taken by link left out of the copy. */
async function planBackup(ctx: UpgradeContext, opts: BackupOpts): Promise<BackupPlan> {
  const layout = ctx.layout;
  const scope = await backupScope(ctx).collect(ctx);
  const roots = resolveRoots(layout, scope.paths.keys(), opts);
  const rootKeys = new Set(roots.map((r) => r.key));
  const covered = (key: string) => {
    for (let i = key.indexOf("/", key.indexOf("/") + 1); i > 0; i = key.indexOf("/", i + 1)) if (rootKeys.has(key.slice(0, i))) return true;
    return rootKeys.has(key);
  };
  const { moved, copy } = splitScope(layout, scope.paths.keys(), scope.moveAside.keys(), covered);
  const resolved = copy.length === scope.paths.size ? roots : resolveRoots(layout, copy, opts);
  // Files the writer replaces by rename (or deletes) are taken by a link in phase 2, not copied now.
  const taken = takenFiles(resolved, scope.taken);
  const allRoots = taken.length ? resolved.filter((r) => !scope.taken.has(r.abs) || !taken.some((t) => t.key === r.key)) : resolved;
  return { scope, roots: allRoots, moved, taken };
}

/**
 * Phase 1 re-run by `resume`: an earlier backup of this session predates whatever happened
 * since, and phase 2 never started, so a fresh one replaces it.
 */
function dropEarlierBackups(ctx: UpgradeContext): void {
  const session = ctx.session;
  if (!session) return;
  for (const b of listBackups(ctx.layout)) {
    if (b.session_id === session.id && b.state !== "in-progress") removeTree(b.path);
  }
}

/** The snapshot itself; a failure that is not ours already is named as the backup's (a full disk with its way out). */
async function snapshot(ctx: UpgradeContext, opts: BackupOpts, plan: BackupPlan) {
  try {
    return await createSnapshot(ctx.layout, plan.roots, {
      sessionId: ctx.session?.id ?? null,
      batchSize: opts.batchSize,
      sync: opts.sync,
      signal: ctx.signal,
      moved: plan.moved,
      taken: plan.taken,
      onProgress: (stage, done, total) => ctx.log.progress(`backup:${stage}`, done, total),
      onWarning: (m) => ctx.log.warn(m),
    });
  } catch (err) {
    if (isUpgradeError(err)) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new UpgradeError("BACKUP_FAILED", `Cannot back up the installation: ${e.message}`, {
      hint: e.code === "ENOSPC"
        ? `The disk holding ${ctx.layout.backupsDir} is full: free space (old backups: \`agent-os-upgrade backups prune\`) and run the upgrade again; nothing was changed`
        : "Fix the cause named above and run the upgrade again; nothing was changed",
      cause: err,
    });
  }
}

/** `backup` (phase 1): the declared scope backed up and verified; the run's state then names this backup. */
async function backup(ctx: UpgradeContext, opts: BackupOpts, run: BackupRun, evidence: Record<string, unknown>): Promise<void> {
  if (ctx.dryRun) return;
  const plan = await planBackup(ctx, opts);
  sweepBackups(ctx.layout);
  dropEarlierBackups(ctx);
  const res = await snapshot(ctx, opts, plan);
  run.current = { id: res.id, dir: res.dir, moved: new Set(Object.keys(plan.moved)), taken: new Set(plan.taken.map((t) => t.key)) };
  await ctx.session?.journal("backup.created", { backup_id: res.id });
  const m = res.manifest;
  const movedFiles = Object.values(plan.moved).reduce((n, r) => n + Object.values(r.entries).filter((e) => e[0] === "f").length, 0);
  Object.assign(evidence, {
    backup_path: res.dir,
    backup_id: res.id,
    files_backed_up: m.file_count,
    files_taken_by_link: plan.taken.length,
    backup_size_bytes: m.total_size,
    // createSnapshot re-read every copy and compared it with the original's hash, or threw.
    integrity_verified: true,
    method: m.method,
    dirs_backed_up: m.dir_count,
    symlinks_backed_up: m.symlink_count,
    paths_missing: m.missing,
    roots: plan.roots.length,
    moved_aside: Object.keys(plan.moved),
    moved_files_recorded: movedFiles,
    scope_by: Object.fromEntries([...plan.scope.paths, ...plan.scope.moveAside].map(([p, by]) => [keyOf(ctx.layout, p), by.join(",")])),
    synced: res.sync,
    timings: res.timings,
  });
  const movedNote = movedFiles ? `; ${Object.keys(plan.moved).join(", ")} recorded (${movedFiles} files), moved in by the swap` : "";
  ctx.log.info(`Backed up ${m.file_count} files (${mib(m.total_size)}) to ${res.dir} in ${(res.timings.total_ms / 1000).toFixed(1)} s (${m.method}, verified)${movedNote}`);
}

/** `cleanup`, final stage, after a completed upgrade: what it left, recorded in its backup (AFTER.json). */
function recordWhatWasLeft(ctx: UpgradeContext, outcome: Outcome): void {
  if (ctx.dryRun || outcome.status !== "completed") return;
  const b = sessionBackup(ctx);
  const scope = backupEvidence(ctx)?.scope_by as Record<string, string> | undefined;
  if (!b || !scope) return;
  recordAfter(b.dir, ctx.layout.projectRoot, Object.keys(scope).map((k) => path.relative(ctx.layout.projectRoot, absOf(ctx.layout, k))));
}

/** `cleanup`: backups beyond `keepBackups` pruned (this session's kept), their deletion off the user's wait. */
function pruneOldBackups(ctx: UpgradeContext, run: BackupRun, evidence: Record<string, unknown>): void {
  if (ctx.dryRun) return;
  try {
    sweepBackups(ctx.layout);
    // Every outcome counts: failed and rolled-back runs leave backups too.
    const keep = run.current?.id ?? (backupEvidence(ctx)?.backup_id) ?? null;
    // Off the user's wait: each expired backup is renamed into the trash here, and deleted
    // by a detached process once this command is done (or by the next command's sweep).
    const r = pruneBackups(ctx.layout, backupRunOptions(ctx).keepBackups, keep ? [keep] : [], { defer: true });
    evidence.backups_kept = r.kept;
    evidence.backups_pruned = r.removed;
    evidence.backups_pruned_bytes = r.freed_bytes;
    if (r.removed.length) {
      evidence.trash_deleted_by = emptyTrashDetached(ctx.layout.backupsDir) ? "detached process" : "next command";
      ctx.log.info(`Pruned ${r.removed.length} old backup${r.removed.length === 1 ? "" : "s"} (keeping ${r.kept.length}, ${mib(r.freed_bytes)} freed as this command ends): ${r.removed.join(", ")}`);
    }
  } catch (err) {
    // Old backups that could not be removed do not make a finished upgrade fail.
    ctx.log.warn(`Cannot prune old backups: ${(err as Error).message}`, { hint: "Run `agent-os-upgrade backups prune` later" });
  }
}

/** The roots that are files a writer declared `taken` and that exist as regular files now, with the hash its plan read. */
function takenFiles(roots: Root[], taken: ReadonlyMap<string, string>): Array<Root & { sha: string }> {
  if (!taken.size) return [];
  return roots.flatMap((r) => {
    const sha = taken.get(r.abs);
    return sha && fs.lstatSync(r.abs, { throwIfNoEntry: false })?.isFile() ? [{ ...r, sha }] : [];
  });
}

/**
 * Links a taken file into the backup just before its writer replaces or deletes it. Already
 * there (a resumed phase 2): the first link holds the bytes the backup recorded; keep it.
 */
function takeFile(abs: string, dst: string): boolean {
  if (fs.lstatSync(dst, { throwIfNoEntry: false })) return true;
  fs.linkSync(abs, dst);
  return true;
}
