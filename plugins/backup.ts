/**
 * The backup plugin: phase 1 backs up what this upgrade will change — the scope the other
 * plugins declare on the scope channel (`backup/scope.ts`), nothing else — and verifies the
 * copy; `rollback` restores a backup exactly (automatic after a failure in phases 2–4, or by
 * hand with `rollback [--to <id>]`, which first undoes every later finished upgrade, newest
 * first); `cleanup` keeps the newest `keepBackups` backups. Costs follow the change, not the
 * installation: folders replaced by a swap are moved into the backup (a rename), the venv is
 * in scope only when phase 3 will change it, and a rollback looks only at backed-up paths.
 * The work itself lives in `plugins/backup/` (scope, snapshot, moved, verify, restore, retention).
 */
import { z } from "zod";
import { parsePluginOptions } from "../core/config.ts";
import { isUpgradeError, toUpgradeError, UpgradeError } from "../core/errors.ts";
import type { Plugin } from "../core/plugin.ts";
import type { SessionState } from "../core/state.ts";
import type { UpgradeContext } from "../core/types.ts";
import { backupState, readManifest } from "./backup/manifest.ts";
import { restoreSnapshot } from "./backup/restore.ts";
import { backupDirOf, type BackupInfo, listBackups, pruneBackups, type PruneResult, sweepBackups, verifyBackup } from "./backup/retention.ts";
import { describeProblems, type VerifyReport } from "./backup/verify.ts";
import type { Layout } from "../core/layout.ts";
import { absOf, keyOf, linkedParentOf, resolveRoots, type Root } from "./backup/roots.ts";
import fs from "node:fs";
import { STAGE } from "../core/plugin.ts";
import { checkMoved, type MovedRecord, putBack, recordMoved } from "./backup/moved.ts";
import { backupScope } from "./backup/scope.ts";
import { diskNeeds, treeSize } from "./preflight/disk.ts";
import { AFTER, changedSince, recordAfter } from "./backup/since.ts";
import { LABEL } from "./backup/manifest.ts";
import type { RollbackPreview, RollbackRequest } from "../core/types.ts";
import { readManifestHead } from "./backup/retention.ts";
import { StateStore } from "../core/state.ts";
import path from "node:path";
import { damagedBackupError } from "./backup/restore.ts";
import { createSnapshot } from "./backup/snapshot.ts";
import { emptyTrashDetached, removeTree } from "./backup/fsutil.ts";
import { isBackupId } from "./backup/names.ts";
import { BACKUP_RUN_OPTIONS, backupRunOptions } from "./backup/run-options.ts";
import { evidenceReader } from "../core/evidence.ts";

export const BackupOptionsSchema = z.strictObject({
  /** More paths to back up, relative to the installation folder (e.g. targets added to the content mapping). */
  include: z.array(z.string().min(1)).default([]),
  /** More paths to back up, relative to the project root. */
  includeProject: z.array(z.string().min(1)).default([]),
  /** Default paths to leave out, as written in the defaults (`venv`, `.cursor/mcp.json`). */
  exclude: z.array(z.string().min(1)).default([]),
  /** Ignored: backups no longer use worker threads (a scoped backup is too small to pay for them). Accepted so that older configs still load. */
  threads: z.number().int().min(1).max(32).optional(),
  /** Files copied or hashed between two turns of the event loop (signals and progress run between them). */
  batchSize: z.number().int().min(1).max(100000).default(128),
  /** Flush the backup to disk before phase 2 may change anything. */
  sync: z.boolean().default(true),
  /** How a rollback checks the backup first: "stat" (every file's fingerprint, hashing the ones that changed and every file it restores) or "full" (hash everything). */
  rollbackVerify: z.enum(["stat", "full"]).default("stat"),
});

export type BackupPluginOptions = z.input<typeof BackupOptionsSchema>;

/** What phase 1's gate demands of this plugin: a backup that exists and was verified. */
export const BackupEvidence = z.looseObject({
  backup_path: z.string().min(1),
  backup_id: z.string().min(1),
  files_backed_up: z.number().int().nonnegative(),
  backup_size_bytes: z.number().int().nonnegative(),
  integrity_verified: z.literal(true),
});

/** This plugin's phase-1 evidence, for others (the report, the MCP summary): the backup's id and path. */
export const backupEvidence = evidenceReader("backup", 1, BackupEvidence);

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

/** The rollback of this session that was cut off (its backup id), if any: a re-run finishes that one. */
function unfinishedRollback(state: Readonly<SessionState> | undefined): string | null {
  if (!state) return null;
  let open: string | null = null;
  for (const j of state.journal) {
    if (j.step === "backup.rollback:begin") open = String(j.data?.backup_id ?? "") || null;
    else if (j.step === "backup.rollback:done") open = null;
  }
  return open;
}

/** True once phase 2 has started: before that the upgrade has changed nothing. */
function changedAnything(state: Readonly<SessionState>): boolean {
  return ["2", "3", "4", "5"].some((p) => state.phases[p] !== undefined);
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

export function backupPlugin(options: BackupPluginOptions = {}): BackupPlugin {
  const opts = parsePluginOptions("backup", BackupOptionsSchema, options);
  /** The backup made by this run (never pruned by its own cleanup). */
  let current: { id: string; dir: string; moved: Set<string>; taken: Set<string> } | null = null;

  /** This session's backup and the folders it takes by move (from memory, else from its manifest on resume). */
  function sessionBackup(ctx: UpgradeContext): { dir: string; moved: Set<string>; taken: Set<string> } | null {
    if (current) return current;
    // By id under this project, not the recorded absolute path: a project copied or moved
    // mid-session must use its own backup (seen: resume on a copy moved the original's
    // mcp_server/ out of the original project's backup).
    const id = backupEvidence(ctx)?.backup_id;
    if (!id) return null;
    const dir = path.join(ctx.layout.backupsDir, id);
    const head = readManifestHead(dir);
    current = { id: path.basename(dir), dir, moved: new Set(Object.keys(head?.moved ?? {})), taken: new Set(head?.taken ?? []) };
    return current;
  }

  async function backup(ctx: UpgradeContext, evidence: Record<string, unknown>): Promise<void> {
    if (ctx.dryRun) return;
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
    sweepBackups(layout);
    // Phase 1 re-run by `resume`: an earlier backup of this session predates whatever
    // happened since, and phase 2 never started, so a fresh one replaces it.
    const session = ctx.session;
    if (session) {
      for (const b of listBackups(layout)) {
        if (b.session_id === session.id && b.state !== "in-progress") removeTree(b.path);
      }
    }
    let res;
    try {
      res = await createSnapshot(layout, allRoots, {
        sessionId: session?.id ?? null,
        batchSize: opts.batchSize,
        sync: opts.sync,
        signal: ctx.signal,
        moved,
        taken,
        onProgress: (stage, done, total) => ctx.log.progress(`backup:${stage}`, done, total),
        onWarning: (m) => ctx.log.warn(m),
      });
    } catch (err) {
      if (isUpgradeError(err)) throw err;
      const e = err as NodeJS.ErrnoException;
      throw new UpgradeError("BACKUP_FAILED", `Cannot back up the installation: ${e.message}`, {
        hint: e.code === "ENOSPC"
          ? `The disk holding ${layout.backupsDir} is full: free space (old backups: \`agent-os-upgrade backups prune\`) and run the upgrade again; nothing was changed`
          : "Fix the cause named above and run the upgrade again; nothing was changed",
        cause: err,
      });
    }
    current = { id: res.id, dir: res.dir, moved: new Set(Object.keys(moved)), taken: new Set(taken.map((t) => t.key)) };
    const m = res.manifest;
    await session?.journal("backup.created", { backup_id: res.id });
    const movedFiles = Object.values(moved).reduce((n, r) => n + Object.values(r.entries).filter((e) => e[0] === "f").length, 0);
    Object.assign(evidence, {
      backup_path: res.dir,
      backup_id: res.id,
      files_backed_up: m.file_count,
      files_taken_by_link: taken.length,
      backup_size_bytes: m.total_size,
      // createSnapshot re-read every copy and compared it with the original's hash, or threw.
      integrity_verified: true,
      method: m.method,
      dirs_backed_up: m.dir_count,
      symlinks_backed_up: m.symlink_count,
      paths_missing: m.missing,
      roots: allRoots.length,
      moved_aside: Object.keys(moved),
      moved_files_recorded: movedFiles,
      scope_by: Object.fromEntries([...scope.paths, ...scope.moveAside].map(([p, by]) => [keyOf(layout, p), by.join(",")])),
      synced: res.sync,
      timings: res.timings,
    });
    ctx.log.info(`Backed up ${m.file_count} files (${mib(m.total_size)}) to ${res.dir} in ${(res.timings.total_ms / 1000).toFixed(1)} s (${m.method}, verified)${movedFiles ? `; ${Object.keys(moved).join(", ")} recorded (${movedFiles} files), moved in by the swap` : ""}`);
  }

  /** Restores one backup: moved folders checked, copies restored, moved folders put back. */
  async function restoreOne(ctx: UpgradeContext, id: string): Promise<Record<string, unknown>> {
    const layout = ctx.layout;
    const dir = backupDirOf(layout, id);
    const state = backupState(dir);
    if (state !== "complete") {
      throw new UpgradeError("ROLLBACK_FAILED", `Cannot roll back to backup ${id}: it is ${state === "in-progress" ? "still being written" : "incomplete (its writer stopped before it was verified)"}; nothing was changed`, {
        hint: "Pick a complete backup from `agent-os-upgrade backups list` and run `agent-os-upgrade rollback --to <id>`",
        details: { backup_id: id, nothing_changed: true },
      });
    }
    let moved: Record<string, MovedRecord>;
    try {
      moved = readManifest(dir).moved; // checked against MANIFEST.sha256 before it is trusted
    } catch (err) {
      const e = toUpgradeError(err);
      e.details = { ...(e.details as Record<string, unknown> | undefined), nothing_changed: true };
      throw e;
    }
    const problems = Object.entries(moved).flatMap(([key, rec]) => {
      const aside = path.join(dir, key);
      return backupLstat(aside) ? checkMoved(key, aside, rec) : [];
    });
    if (problems.length) throw damagedBackupError(id, dir, problems);
    const report = await restoreSnapshot(layout, dir, {
      batchSize: opts.batchSize,
      verify: opts.rollbackVerify,
      // No abort signal: a rollback started by an interruption must still run to the end.
      onProgress: (stage, done, total) => ctx.log.progress(`rollback:${stage}`, done, total),
      journal: ctx.session ? (step, data) => ctx.session!.journal(step, data) : undefined,
    });
    const putBackDone = Object.keys(moved).map((key) => ({ key, action: putBack(absOf(layout, key), path.join(dir, key), layout.backupsDir) }));
    return { ...report, moved: putBackDone };
  }

  /** The paths a backup's rollback would restore or remove, as recorded when its upgrade completed (else as its manifest scopes them, when that record is lost). */
  function recordedPaths(layout: Layout, id: string, lost: readonly string[]): string[] {
    const dir = backupDirOf(layout, id);
    try {
      const digests = JSON.parse(fs.readFileSync(path.join(dir, AFTER), "utf8")).digests;
      if (typeof digests === "object" && digests !== null && !Array.isArray(digests)) return Object.keys(digests);
    } catch { /* no record: below */ }
    if (!lost.includes(id)) return [];
    const m = readManifest(dir);
    return [...Object.keys(m.roots), ...Object.keys(m.moved)].map((k) => path.relative(layout.projectRoot, absOf(layout, k)));
  }

  /** The backup a manual rollback would restore, and the later ones it would undo first (newest first). */
  function target(ctx: UpgradeContext, request: { backupId?: string }): { id: string; later: Array<{ id: string; session_id: string | null }> } | null {
    const session = ctx.session;
    // A session rolls back its own backup (none when it stopped before making one); only
    // without a session does the newest backup stand in.
    const all = listBackups(ctx.layout);
    const id = request.backupId ?? (backupEvidence(ctx)?.backup_id) ??
      (session ? all.find((b) => b.session_id === session.id && b.state === "complete")?.id : all.find((b) => b.state === "complete")?.id);
    return id ? { id, later: laterUpgrades(ctx.layout, id, session?.id ?? null) } : null;
  }

  /** Files changed since the newest upgrade the rollback undoes finished (its AFTER record). */
  async function preview(input: RollbackPreview, ctx: UpgradeContext, request: RollbackRequest): Promise<RollbackPreview> {
    if (request.backupId) refuseUnknownBackup(ctx.layout, request.backupId);
    const t = target(ctx, request);
    if (!t) return input;
    const newest = t.later[0]?.id ?? t.id;
    let changed: string[] | null = null;
    try {
      changed = changedSince(backupDirOf(ctx.layout, newest), ctx.layout.projectRoot);
    } catch { /* no such backup: the rollback itself says so */ }
    if (changed !== null || !recordLost(ctx.layout, newest)) return { ...input, backup_id: t.id, changed: [...input.changed, ...(changed ?? [])] };
    // Read again by keepCurrent (after the session is marked rolling back): it keeps the backup's whole scope.
    request.evidence.record_lost = [newest];
    const unknown = [`backup ${newest} has no readable record of what its upgrade left (${AFTER} is missing or damaged)`];
    return { backup_id: t.id, changed: input.changed, unknown: [...(input.unknown ?? []), ...unknown] };
  }

  /** Keeps what a manual rollback is about to replace as a backup of its own ("before rollback"), so it can be undone. */
  async function keepCurrent(ctx: UpgradeContext, id: string, later: Array<{ id: string }>, evidence: Record<string, unknown>): Promise<void> {
    const layout = ctx.layout;
    const keys = new Set<string>();
    const lost = (evidence.record_lost as string[] | undefined) ?? [];
    for (const b of [...later, { id }]) for (const k of recordedPaths(layout, b.id, lost)) keys.add(k);
    if (!keys.size) return; // an unfinished upgrade recorded nothing after itself: its state is what the backup replaces
    const roots = keptRoots(layout, resolveRoots(layout, [...keys].map((k) => path.join(layout.projectRoot, k)), opts));
    const res = await createSnapshot(layout, roots, { sessionId: null, batchSize: opts.batchSize, sync: opts.sync, linkRoots: true, onWarning: (m) => ctx.log.warn(m) });
    fs.writeFileSync(path.join(res.dir, LABEL), `before rollback to ${id}\n`);
    evidence.before_rollback_backup = res.id;
    ctx.log.info(`Kept the current files in backup ${res.id} (before rollback): \`agent-os-upgrade rollback --to ${res.id}\` brings them back`);
  }

  async function rollback(ctx: UpgradeContext, request: RollbackRequest): Promise<void> {
    const t0 = performance.now();
    const layout = ctx.layout;
    const session = ctx.session;
    let id = request.backupId ?? unfinishedRollback(session?.state) ?? (backupEvidence(ctx)?.backup_id) ?? null;
    if (!id && session) {
      id = listBackups(layout).find((b) => b.session_id === session.id && b.state === "complete")?.id ?? null;
      if (!id && !changedAnything(session.state)) {
        // Stopped during (or before) the backup: nothing was changed, so there is nothing to
        // restore; the half-made backup is removed.
        const removed = sweepBackups(layout);
        Object.assign(request.evidence, { restored: false, reason: "the upgrade stopped before phase 2: nothing had been changed", removed_partial_backups: removed, duration_ms: Math.round(performance.now() - t0) });
        ctx.log.info("Nothing to restore: the upgrade stopped before changing anything");
        return;
      }
    }
    if (!id && !session && request.manual) {
      id = listBackups(layout).find((b) => b.state === "complete")?.id ?? null;
      if (id) ctx.log.info(`No session to roll back: restoring the newest backup, ${id}`);
    }
    if (!id) {
      throw new UpgradeError("ROLLBACK_FAILED", `Cannot roll back: no backup${session ? ` of session ${session.id}` : ""} was found in ${layout.backupsDir}`, {
        hint: "Run `agent-os-upgrade backups list` and pass one with `agent-os-upgrade rollback --to <id>`",
        details: { nothing_changed: true },
      });
    }
    try {
      backupDirOf(layout, id);
    } catch (err) {
      const e = toUpgradeError(err);
      e.details = { ...(e.details as Record<string, unknown> | undefined), nothing_changed: true };
      throw e;
    }
    // Backups hold only what their upgrade changed: going back past later finished upgrades
    // undoes each of them first, newest first, each from its own backup.
    const later = laterUpgrades(layout, id, session?.id ?? null);
    if (request.manual && request.keepCurrent) await keepCurrent(ctx, id, later, request.evidence);
    await session?.journal("backup.rollback:begin", { backup_id: id, through: later.map((b) => b.id) });
    const reports: Record<string, unknown>[] = [];
    let lastReport: Record<string, unknown> = {};
    for (const step of [...later, { id, session_id: null as string | null }]) {
      let report: Record<string, unknown>;
      try {
        report = await restoreOne(ctx, step.id);
      } catch (err) {
        throw rollbackFailure(err, step.id, layout);
      }
      if (step.session_id) markRolledBack(layout, step.session_id, `rolled back by \`rollback --to ${id}\``);
      reports.push({ backup_id: step.id, files_restored: report.files_restored, created_removed: report.created_removed, moved: report.moved });
      lastReport = report;
      if (step.id !== id) ctx.log.info(`Undid the later upgrade of backup ${step.id} (${report.files_restored} files restored)`);
    }
    await session?.journal("backup.rollback:done", { backup_id: id });
    const ms = Math.round(performance.now() - t0);
    Object.assign(request.evidence, { restored: true, ...lastReport, undone: reports, duration_ms: ms });
    const r = lastReport as { files_restored: number; symlinks_restored: number; created_removed: number; modes_fixed: number; files_checked: number };
    ctx.log.info(`Restored backup ${id}: ${r.files_restored} files restored, ${r.symlinks_restored} links, ${r.created_removed} created paths removed, ${r.modes_fixed} modes fixed (${r.files_checked} files checked) in ${ms} ms`);
  }

  return {
    name: "backup",
    whenDisabled: "nothing is backed up: a failed upgrade cannot be rolled back",
    evidence: { 1: BackupEvidence },
    options: BACKUP_RUN_OPTIONS,
    manage: {
      list: async (layout) => listBackups(layout),
      verify: (layout, id) => verifyBackup(layout, id),
      prune: async (layout, keep) => pruneBackups(layout, keep),
      describeProblems: (problems) => describeProblems(problems),
    },
    apply(hooks) {
      hooks.summarize.tap((ctx, _outcome, result) => {
        const ev = ctx.session ? backupEvidence(ctx.session.state) : undefined;
        if (ev?.backup_path) result.backup_path = ev.backup_path;
        result.summary.backup_id = ev?.backup_id ?? null;
      });
      hooks.start.tap((ctx) => {
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
      });
      hooks.backup.tap({ stage: STAGE.last }, backup);
      hooks.planRollback.tap(preview);
      hooks.rollback.tap(rollback);
      // Last of all (after the report wrote VERSION.txt and the logs): what the upgrade left,
      // so that a manual rollback can tell what changed since.
      hooks.cleanup.tap({ stage: STAGE.final }, async (ctx, outcome) => {
        if (ctx.dryRun || outcome.status !== "completed") return;
        const b = sessionBackup(ctx);
        const scope = backupEvidence(ctx)?.scope_by as Record<string, string> | undefined;
        if (!b || !scope) return;
        recordAfter(b.dir, ctx.layout.projectRoot, Object.keys(scope).map((k) => path.relative(ctx.layout.projectRoot, absOf(ctx.layout, k))));
      });
      hooks.cleanup.tap(async (ctx, _outcome, evidence) => {
        if (ctx.dryRun) return;
        try {
          sweepBackups(ctx.layout);
          // Every outcome counts: failed and rolled-back runs leave backups too.
          const keep = current?.id ?? (backupEvidence(ctx)?.backup_id) ?? null;
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
      });
    },
  };
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

/**
 * What a "before rollback" backup keeps: the roots, where a user put a link in place of a
 * file or of a folder above one, the link itself (kept as a link, restored as it was by
 * undoing the rollback; the rollback never follows it).
 */
function keptRoots(layout: Layout, roots: Root[]): Root[] {
  const out = new Map<string, Root>();
  for (const r of roots) {
    const lifted = linkedParentOf(layout, r) ?? r;
    out.set(lifted.key, lifted);
  }
  const keys = [...out.keys()];
  return [...out.values()].filter((r) => !keys.some((k) => r.key.startsWith(`${k}/`)));
}

function backupLstat(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Complete backups newer than `id` whose upgrade finished and was not undone, newest first (the current session's own excluded). */
function laterUpgrades(layout: Layout, id: string, sessionId: string | null): Array<{ id: string; session_id: string | null }> {
  const all = listBackups(layout);
  const out: Array<{ id: string; session_id: string | null }> = [];
  for (const b of all) {
    if (b.id === id) break;
    if (b.state === "complete" && b.session_status === "completed" && b.session_id !== sessionId) out.push({ id: b.id, session_id: b.session_id });
  }
  return out;
}

/** `rollback --to <id>` of a backup that is not there (a typo, pruned, a path): refused before anything starts (exit 2). */
function refuseUnknownBackup(layout: Layout, id: string): void {
  const hint = "Run `agent-os-upgrade backups list` to see the backups of this project, then `agent-os-upgrade rollback --to <id>`; nothing was changed";
  const refuse = (why: string) => new UpgradeError("USAGE", `Cannot roll back to backup "${id}": ${why}`, { hint, plugin: "backup", hook: "planRollback", details: { backup_id: id, nothing_changed: true } });
  if (!isBackupId(id)) throw refuse("a backup id looks like 2025-10-11-143022 or 2025-10-11-143022-1");
  if (!fs.existsSync(path.join(layout.backupsDir, id))) throw refuse(`there is no such backup in ${layout.backupsDir}`);
}

/**
 * A finished upgrade's backup without a readable record of what the upgrade left (AFTER.json
 * deleted or damaged): what changed since is unknown, and unknown counts as changed. An
 * unfinished upgrade never wrote one (its state is what the backup replaces).
 */
function recordLost(layout: Layout, id: string): boolean {
  const b = listBackups(layout).find((x) => x.id === id);
  if (!b || b.state !== "complete" || !["completed", "missing"].includes(b.session_status ?? "")) return false;
  return changedSince(b.path, layout.projectRoot) === null;
}

function markRolledBack(layout: Layout, sessionId: string, reason: string): void {
  const store = new StateStore(layout.stateDir);
  const s = store.list().find((x) => x.id === sessionId)?.state;
  if (!s || s.status !== "completed") return;
  s.status = "rolled_back";
  s.rollback = { reason, started_at: new Date().toISOString(), ended_at: new Date().toISOString(), duration_ms: 0, status: "completed", evidence: {} };
  store.save(s);
}

function rollbackFailure(err: unknown, id: string, layout: Layout): UpgradeError {
  const e = toUpgradeError(err);
  if (e.code === "ROLLBACK_FAILED") return e;
  if (e.code === "BACKUP_INVALID") {
    return new UpgradeError("ROLLBACK_FAILED", e.message.replace(/^Cannot restore/, "Cannot roll back: cannot restore"), {
      hint: `${e.hint}. The installation is as the interrupted upgrade left it`,
      details: e.details,
      cause: e,
    });
  }
  return new UpgradeError("ROLLBACK_FAILED", `Cannot finish the rollback from backup ${id}: ${e.message}`, {
    hint: `Fix the cause and run \`agent-os-upgrade rollback --to ${id}\` again: it redoes only what still differs (the backup in ${path.join(layout.backupsDir, id)} is unchanged)`,
    cause: e,
  });
}
