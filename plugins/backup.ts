/**
 * The backup plugin: phase 1 backs up every path the upgrade may change and verifies the
 * copy; `rollback` restores a backup exactly (automatic after a failure in phases 2–4, or by
 * hand with `rollback [--to <id>]`); `cleanup` prunes old backups after a completed upgrade.
 * The work itself lives in `plugins/backup/` (snapshot, verify, restore, retention).
 */
import { z } from "zod";
import { parsePluginOptions } from "../core/config.ts";
import { isUpgradeError, toUpgradeError, UpgradeError } from "../core/errors.ts";
import type { Plugin } from "../core/plugin.ts";
import type { SessionState } from "../core/state.ts";
import type { UpgradeContext } from "../core/types.ts";
import { backupState } from "./backup/manifest.ts";
import { restoreSnapshot } from "./backup/restore.ts";
import { backupDirOf, type BackupInfo, listBackups, pruneBackups, type PruneResult, sweepBackups, verifyBackup } from "./backup/retention.ts";
import { describeProblems, type VerifyReport } from "./backup/verify.ts";
import type { Layout } from "../core/layout.ts";
import { resolveRoots } from "./backup/roots.ts";
import { createSnapshot } from "./backup/snapshot.ts";
import { removeTree } from "./backup/fsutil.ts";

export const BackupOptionsSchema = z.strictObject({
  /** More paths to back up, relative to the installation folder (e.g. targets added to the content mapping). */
  include: z.array(z.string().min(1)).default([]),
  /** More paths to back up, relative to the project root. */
  includeProject: z.array(z.string().min(1)).default([]),
  /** Default paths to leave out, as written in the defaults (`venv`, `.cursor/mcp.json`). */
  exclude: z.array(z.string().min(1)).default([]),
  /** Worker threads that copy and hash (default: the cores, at most 4). */
  threads: z.number().int().min(1).max(32).optional(),
  /** Files per worker job. */
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
  files_backed_up: z.number().int().positive(),
  backup_size_bytes: z.number().int().nonnegative(),
  integrity_verified: z.literal(true),
});

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

export function backupPlugin(options: BackupPluginOptions = {}): BackupPlugin {
  const opts = parsePluginOptions("backup", BackupOptionsSchema, options);
  /** The backup made by this run (never pruned by its own cleanup). */
  let current: string | null = null;

  async function backup(ctx: UpgradeContext, evidence: Record<string, unknown>): Promise<void> {
    if (ctx.dryRun) return;
    const layout = ctx.layout;
    const roots = resolveRoots(layout, opts);
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
      res = await createSnapshot(layout, roots, {
        sessionId: session?.id ?? null,
        threads: opts.threads,
        batchSize: opts.batchSize,
        sync: opts.sync,
        signal: ctx.signal,
        onProgress: (stage, done, total) => ctx.log.progress(`backup:${stage}`, done, total),
        onWarning: (m) => ctx.log.warn(m),
      });
    } catch (err) {
      if (isUpgradeError(err)) throw err;
      const e = err as NodeJS.ErrnoException;
      throw new UpgradeError("BACKUP_FAILED", `Cannot back up the installation: ${e.message}`, {
        hint: e.code === "ENOSPC"
          ? `The disk holding ${layout.backupsDir} is full: free space (\`agent-os-upgrade backups prune\`) and run the upgrade again`
          : "Fix the cause named above and run the upgrade again; nothing was changed",
        cause: err,
      });
    }
    current = res.id;
    const m = res.manifest;
    await session?.journal("backup.created", { backup_id: res.id });
    Object.assign(evidence, {
      backup_path: res.dir,
      backup_id: res.id,
      files_backed_up: m.file_count,
      backup_size_bytes: m.total_size,
      // createSnapshot re-read every copy and compared it with the original's hash, or threw.
      integrity_verified: true,
      method: m.method,
      dirs_backed_up: m.dir_count,
      symlinks_backed_up: m.symlink_count,
      paths_missing: m.missing,
      synced: res.sync,
      timings: res.timings,
    });
    ctx.log.info(`Backed up ${m.file_count} files (${mib(m.total_size)}) to ${res.dir} in ${(res.timings.total_ms / 1000).toFixed(1)} s (${m.method}, verified)`);
  }

  async function rollback(ctx: UpgradeContext, request: { backupId?: string; manual: boolean; evidence: Record<string, unknown> }): Promise<void> {
    const t0 = performance.now();
    const layout = ctx.layout;
    const session = ctx.session;
    let id = request.backupId ?? unfinishedRollback(session?.state) ?? (ctx.evidence(1)?.backup_id as string | undefined) ?? null;
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
    let dir: string;
    try {
      dir = backupDirOf(layout, id);
    } catch (err) {
      const e = toUpgradeError(err);
      e.details = { ...(e.details as Record<string, unknown> | undefined), nothing_changed: true };
      throw e;
    }
    const state = backupState(dir);
    if (state !== "complete") {
      throw new UpgradeError("ROLLBACK_FAILED", `Cannot roll back to backup ${id}: it is ${state === "in-progress" ? "still being written" : "incomplete (its writer stopped before it was verified)"}; nothing was changed`, {
        hint: "Pick a complete backup from `agent-os-upgrade backups list` and run `agent-os-upgrade rollback --to <id>`",
        details: { backup_id: id, nothing_changed: true },
      });
    }
    await session?.journal("backup.rollback:begin", { backup_id: id });
    let report;
    try {
      report = await restoreSnapshot(layout, dir, {
        threads: opts.threads,
        batchSize: opts.batchSize,
        verify: opts.rollbackVerify,
        // No abort signal: a rollback started by an interruption must still run to the end.
        onProgress: (stage, done, total) => ctx.log.progress(`rollback:${stage}`, done, total),
        journal: session ? (step, data) => session.journal(step, data) : undefined,
      });
    } catch (err) {
      const e = toUpgradeError(err);
      if (e.code === "ROLLBACK_FAILED") throw e;
      if (e.code === "BACKUP_INVALID") {
        throw new UpgradeError("ROLLBACK_FAILED", e.message.replace(/^Cannot restore/, "Cannot roll back: cannot restore"), {
          hint: `${e.hint}. The installation is as the interrupted upgrade left it`,
          details: e.details,
          cause: e,
        });
      }
      throw new UpgradeError("ROLLBACK_FAILED", `Cannot finish the rollback from backup ${id}: ${e.message}`, {
        hint: `Fix the cause and run \`agent-os-upgrade rollback --to ${id}\` again: it redoes only what still differs (the backup in ${dir} is unchanged)`,
        cause: e,
      });
    }
    await session?.journal("backup.rollback:done", { backup_id: id });
    const ms = Math.round(performance.now() - t0);
    Object.assign(request.evidence, { restored: true, ...report, duration_ms: ms });
    ctx.log.info(`Restored backup ${id}: ${report.files_restored} files restored, ${report.symlinks_restored} links, ${report.created_removed} created paths removed, ${report.modes_fixed} modes fixed (${report.files_checked} files checked) in ${ms} ms`);
  }

  return {
    name: "backup",
    evidence: { 1: BackupEvidence },
    manage: {
      list: async (layout) => listBackups(layout),
      verify: (layout, id) => verifyBackup(layout, id, { threads: opts.threads }),
      prune: async (layout, keep) => pruneBackups(layout, keep),
      describeProblems: (problems) => describeProblems(problems),
    },
    apply(hooks) {
      hooks.backup.tap(backup);
      hooks.rollback.tap(rollback);
      hooks.cleanup.tap(async (ctx, outcome, evidence) => {
        if (ctx.dryRun) return;
        try {
          sweepBackups(ctx.layout);
          if (outcome.status !== "completed") return;
          const keep = current ?? (ctx.evidence(1)?.backup_id as string | undefined) ?? null;
          const r = pruneBackups(ctx.layout, ctx.options.keepBackups, keep ? [keep] : []);
          evidence.backups_kept = r.kept;
          evidence.backups_pruned = r.removed;
          if (r.removed.length) ctx.log.info(`Pruned ${r.removed.length} old backup${r.removed.length === 1 ? "" : "s"} (keeping ${r.kept.length}): ${r.removed.join(", ")}`);
        } catch (err) {
          // Old backups that could not be removed do not make a finished upgrade fail.
          ctx.log.warn(`Cannot prune old backups: ${(err as Error).message}`, { hint: "Run `agent-os-upgrade backups prune` later" });
        }
      });
    },
  };
}
