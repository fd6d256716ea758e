/**
 * The backup plugin's rollback: which backup a rollback restores (this session's, `--to`'s,
 * else the newest), undoing later finished upgrades first, newest first; the preview a manual
 * rollback confirms (what changed since the upgrade it undoes); the "before rollback" backup
 * that keeps what a manual rollback replaces. Module-level functions over the run's context
 * and the plugin's parsed options: nothing here outlives a call.
 */
import fs from "node:fs";
import path from "node:path";
import { toUpgradeError, UpgradeError } from "../../core/errors.ts";
import type { Layout } from "../../core/layout.ts";
import { type SessionState, StateStore } from "../../core/state.ts";
import type { RollbackPreview, RollbackRequest, UpgradeContext } from "../../core/types.ts";
import { type BackupOpts, backupEvidence } from "./evidence.ts";
import { backupState, LABEL, readManifest, REPLACED } from "./manifest.ts";
import { checkMoved, type MovedRecord, putBack } from "./moved.ts";
import { isBackupId } from "./names.ts";
import { damagedBackupError, restoreSnapshot } from "./restore.ts";
import { backupDirOf, listBackups, sweepBackups } from "./retention.ts";
import { absOf, linkedParentOf, resolveRoots, type Root } from "./roots.ts";
import { AFTER, changedSince } from "./since.ts";
import { createSnapshot } from "./snapshot.ts";

type Later = Array<{ id: string; session_id: string | null }>;

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

/** An error that changed nothing says so (the core keeps a finished session's status then). */
function unchanged(err: unknown): UpgradeError {
  const e = toUpgradeError(err);
  e.details = { ...(e.details as Record<string, unknown> | undefined), nothing_changed: true };
  return e;
}

/** Restores one backup: moved folders checked, copies restored, moved folders put back. */
async function restoreOne(ctx: UpgradeContext, opts: BackupOpts, id: string, keep: boolean): Promise<Record<string, unknown>> {
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
    throw unchanged(err);
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
    // An automatic rollback keeps what it replaces (a manual one made a "before rollback" backup).
    ...(keep ? { keep: path.join(dir, REPLACED) } : {}),
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
function target(ctx: UpgradeContext, request: { backupId?: string }): { id: string; later: Later } | null {
  const session = ctx.session;
  // A session rolls back its own backup (none when it stopped before making one); only
  // without a session does the newest backup stand in.
  const all = listBackups(ctx.layout);
  const id = request.backupId ?? (backupEvidence(ctx)?.backup_id) ??
    (session ? all.find((b) => b.session_id === session.id && b.state === "complete")?.id : all.find((b) => b.state === "complete")?.id);
  return id ? { id, later: laterUpgrades(ctx.layout, id, session?.id ?? null) } : null;
}

/** `planRollback`: files changed since the newest upgrade the rollback undoes finished (its AFTER record). */
export function previewRollback(input: RollbackPreview, ctx: UpgradeContext, request: RollbackRequest): RollbackPreview {
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
async function keepCurrent(ctx: UpgradeContext, opts: BackupOpts, id: string, later: Later, evidence: Record<string, unknown>): Promise<void> {
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

/**
 * The backup this rollback restores: the one named, the one an interrupted rollback was
 * restoring, this session's, else (a manual rollback without a session) the newest. Null when
 * the session stopped before changing anything: then the half-made backup is removed and
 * the evidence says why nothing was restored.
 */
function chooseBackup(ctx: UpgradeContext, request: RollbackRequest, t0: number): string | null {
  const { layout, session } = ctx;
  let id = request.backupId ?? unfinishedRollback(session?.state) ?? (backupEvidence(ctx)?.backup_id) ?? null;
  if (!id && session) {
    id = listBackups(layout).find((b) => b.session_id === session.id && b.state === "complete")?.id ?? null;
    if (!id && !changedAnything(session.state)) {
      const removed = sweepBackups(layout);
      Object.assign(request.evidence, { restored: false, reason: "the upgrade stopped before phase 2: nothing had been changed", removed_partial_backups: removed, duration_ms: Math.round(performance.now() - t0) });
      ctx.log.info("Nothing to restore: the upgrade stopped before changing anything");
      return null;
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
    throw unchanged(err);
  }
  return id;
}

/** Restores each later upgrade's backup (newest first), then `id`'s; each later session is marked rolled back. */
async function restoreThrough(ctx: UpgradeContext, opts: BackupOpts, id: string, later: Later, keep: boolean): Promise<{ undone: Record<string, unknown>[]; last: Record<string, unknown> }> {
  const undone: Record<string, unknown>[] = [];
  let last: Record<string, unknown> = {};
  for (const step of [...later, { id, session_id: null as string | null }]) {
    let report: Record<string, unknown>;
    try {
      report = await restoreOne(ctx, opts, step.id, keep);
    } catch (err) {
      throw rollbackFailure(err, step.id, ctx.layout);
    }
    if (step.session_id) markRolledBack(ctx.layout, step.session_id, `rolled back by \`rollback --to ${id}\``);
    undone.push({ backup_id: step.id, files_restored: report.files_restored, created_removed: report.created_removed, moved: report.moved });
    last = report;
    if (step.id !== id) ctx.log.info(`Undid the later upgrade of backup ${step.id} (${report.files_restored} files restored)`);
  }
  return { undone, last };
}

/** `rollback`: restores the chosen backup exactly, after undoing later finished upgrades; a manual one keeps the current files first. */
export async function rollback(ctx: UpgradeContext, opts: BackupOpts, request: RollbackRequest): Promise<void> {
  const t0 = performance.now();
  const session = ctx.session;
  const id = chooseBackup(ctx, request, t0);
  if (id === null) return;
  // Backups hold only what their upgrade changed: going back past later finished upgrades
  // undoes each of them first, newest first, each from its own backup.
  const later = laterUpgrades(ctx.layout, id, session?.id ?? null);
  if (request.manual && request.keepCurrent) await keepCurrent(ctx, opts, id, later, request.evidence);
  await session?.journal("backup.rollback:begin", { backup_id: id, through: later.map((b) => b.id) });
  const { undone, last } = await restoreThrough(ctx, opts, id, later, !request.manual);
  await session?.journal("backup.rollback:done", { backup_id: id });
  const ms = Math.round(performance.now() - t0);
  Object.assign(request.evidence, { restored: true, ...last, undone, duration_ms: ms });
  const r = last as { files_restored: number; symlinks_restored: number; created_removed: number; modes_fixed: number; files_checked: number };
  ctx.log.info(`Restored backup ${id}: ${r.files_restored} files restored, ${r.symlinks_restored} links, ${r.created_removed} created paths removed, ${r.modes_fixed} modes fixed (${r.files_checked} files checked) in ${ms} ms`);
  const kept = (last as { kept?: { dir: string; paths: number } }).kept;
  if (kept) ctx.log.info(`The ${kept.paths} path${kept.paths === 1 ? "" : "s"} the rollback replaced or removed are kept in ${kept.dir} (with the backup): a change of yours made while the upgrade ran is there`);
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
function laterUpgrades(layout: Layout, id: string, sessionId: string | null): Later {
  const all = listBackups(layout);
  const out: Later = [];
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
