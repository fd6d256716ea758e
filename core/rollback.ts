/**
 * Rollback: automatic (called by the upgrader when phase 2, 3 or 4 fails or is interrupted)
 * and manual (`agent-os-upgrade rollback [--to <backup>]`). The restore itself is the
 * `rollback` hook's; this module records it in the session and never throws over the first
 * error.
 */
import { randomUUID } from "node:crypto";
import { type Engine, type LifecycleIO, prepareEngine } from "./engine.ts";
import { EXIT, toUpgradeError, UpgradeError } from "./errors.ts";
import { Lock, type LockInfo, readLock } from "./lock.ts";
import { sweepProject } from "./recovery.ts";
import { isMigration, moveBack } from "./relocate.ts";
import fs from "node:fs";
import path from "node:path";
import { Buffer } from "node:buffer";
import type { Layout } from "./layout.ts";
import { PHASE_NAMES } from "./phases.ts";
import type { ResolvedConfig } from "./config.ts";
import type { SessionState, StateStore } from "./state.ts";
import type { Outcome, RollbackPreview, RollbackRequest, RunOptions } from "./types.ts";

/** A rollback error whose plugin says it changed nothing (`details.nothing_changed`), e.g. a refused damaged backup. */
export function refusedUnchanged(err: UpgradeError): boolean {
  const cause = (err as { cause?: unknown }).cause as UpgradeError | undefined;
  const flag = (e?: UpgradeError) => (e?.details as { nothing_changed?: unknown } | undefined)?.nothing_changed === true;
  return flag(err) || flag(cause);
}

/** Bytes set aside before phase 2 for what a rollback must write (the session's records, the restore's staging folder). */
export const RESERVE_BYTES = 2 * 1048576;
const reserveFile = (layout: Layout) => path.join(layout.cacheDir, "rollback-reserve");

/**
 * Sets space aside before phase 2 changes anything: a disk that fills up in phases 2–4 must
 * not stop the rollback, which restores by renames and links (no new blocks) but still records
 * itself. Written with real bytes (not a sparse file), flushed; freed when a rollback starts.
 */
export function reserveRollbackSpace(layout: Layout): void {
  const file = reserveFile(layout);
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (st?.isFile() && st.size === RESERVE_BYTES) return;
  fs.mkdirSync(layout.cacheDir, { recursive: true });
  const fd = fs.openSync(file, "w", 0o600);
  try {
    fs.writeSync(fd, Buffer.alloc(RESERVE_BYTES));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Frees the reserve (before a rollback writes anything, and once an upgrade is over). */
export function releaseRollbackSpace(layout: Layout): void {
  try {
    fs.unlinkSync(reserveFile(layout));
  } catch { /* none */ }
}

/** Runs the rollback taps for a session and records the outcome; never throws. */
export async function rollbackSession(engine: Engine, request: RollbackRequest): Promise<Outcome> {
  const { log } = engine;
  const state = engine.state;
  releaseRollbackSpace(engine.layout);
  const t0 = performance.now();
  const statusBefore = state?.status;
  // The restore matters more than its record: a save that fails (disk full) is logged, and the rollback goes on.
  const saveQuietly = (s: SessionState) => {
    try {
      // engine.store: a migration's rollback moves the folder (and its records) back first.
      engine.store.save(s);
    } catch (err) {
      log.warn(`Cannot record the rollback in ${engine.store.fileOf(s.session_id)}: ${toUpgradeError(err).message}`);
    }
  };
  if (state) {
    state.status = "rolling_back";
    state.rollback = { reason: request.reason, started_at: new Date().toISOString(), ended_at: null, duration_ms: null, status: "running", evidence: {} };
    saveQuietly(state);
  }
  log.warn(`Rolling back${request.phase !== null ? ` after phase ${request.phase} (${PHASE_NAMES[request.phase]})` : ""}: ${request.reason}`);
  // A migration's folder goes back to its old name first; the restore then happens there.
  const rollbackError = moveBackFirst(engine, state) ?? await restoreAll(engine, request);
  const dt = Math.round(performance.now() - t0);
  if (state) {
    state.rollback = { ...state.rollback!, ended_at: new Date().toISOString(), duration_ms: dt, status: rollbackError ? "failed" : "completed", evidence: request.evidence };
    // A manual rollback refused before it changed anything (a damaged backup, say) leaves the
    // session as it was: a completed upgrade is still completed.
    state.status = !rollbackError ? "rolled_back" : request.manual && refusedUnchanged(rollbackError) ? statusBefore! : "failed";
    if (rollbackError) state.error = rollbackError.toJSON();
    saveQuietly(state);
  }
  if (!rollbackError) log.info(`Rolled back in ${dt} ms`);
  return { status: rollbackError ? "failed" : "rolled_back", error: request.error, rollbackError, phase: request.phase ?? undefined };
}

/** Every plugin's restore (the `rollback` hook); the error that stopped it, if any. */
async function restoreAll(engine: Engine, request: RollbackRequest): Promise<UpgradeError | undefined> {
  if (engine.hooks.rollback.taps.length === 0) {
    return new UpgradeError("ROLLBACK_FAILED", "Cannot roll back: no plugin restores backups (is the backup plugin disabled?)", {
      hint: "Restore .agent-os/ from .agent-os/.backups/<newest>/ by hand, or enable the backup plugin and run `agent-os-upgrade rollback`",
    });
  }
  try {
    await engine.hooks.rollback.promise(engine.ctx, request);
    return undefined;
  } catch (err) {
    const e = toUpgradeError(err, "ROLLBACK_FAILED");
    return e.code === "ROLLBACK_FAILED" ? e : new UpgradeError("ROLLBACK_FAILED", `Cannot finish the rollback: ${e.message}`, {
      hint: e.hint ?? "Run `agent-os-upgrade rollback` again; if it fails again, restore from .agent-os/.backups/ by hand",
      plugin: e.plugin,
      hook: e.hook,
      cause: e,
    });
  }
}

/** A migration's folder back at its old name before anything is restored; the error when it cannot be. */
function moveBackFirst(engine: Engine, state: SessionState | null): UpgradeError | undefined {
  try {
    if (moveBack(engine, state)) engine.log.info(`Moved ${engine.layout.relocation!.to} back to ${engine.layout.installDir}`);
    return undefined;
  } catch (err) {
    return toUpgradeError(err, "ROLLBACK_FAILED");
  }
}

/**
 * Why there is nothing to restore, when the interrupted upgrade never reached phase 2 (the
 * first phase that changes the installation): killed before its session existed, or during
 * pre-flight or the backup. Null when there is something to restore.
 */
function hasBackups(dir: string): boolean {
  try {
    return fs.readdirSync(dir).some((n) => !n.startsWith("."));
  } catch {
    return false;
  }
}

function interruptedBeforeChanges(state: SessionState | null, tookOver: LockInfo | null, store: StateStore, backupsDir: string): string | null {
  if (!state) {
    if (tookOver && !fs.existsSync(store.fileOf(tookOver.session_id))) {
      return `Nothing to restore: the upgrade of session ${tookOver.session_id} stopped before it recorded its session, so nothing had changed; released its lock`;
    }
    if (!hasBackups(backupsDir)) return "Nothing to restore: no upgrade has changed this installation (no session, no backup)";
    return null;
  }
  // A session that stopped before phase 2 goes through the rollback taps: they find nothing
  // to restore, say so, and remove what its backup left half-written.
  return null;
}

export interface RollbackCommand {
  resolved: ResolvedConfig;
  options: RunOptions;
  /** `--to <backup>` */
  backupId?: string | null;
  sessionId?: string | null;
}

export interface ManualRollbackResult {
  outcome: Outcome;
  exitCode: number;
  sessionId: string | null;
  /** Set when nothing was done, with the reason (already rolled back). */
  note?: string;
}

/** The session a manual rollback records itself in: the named one, a stale lock's, an unfinished one, else the backup's. */
function sessionToMark(engine: Engine, cmd: RollbackCommand): SessionState | null {
  if (cmd.sessionId) return engine.store.load(cmd.sessionId);
  const ls = readLock(engine.layout);
  const lockSession = ls.kind === "stale" ? ls.info.session_id : null;
  const all = engine.store.list();
  // Else the session that made the backup (`--to`), or the newest one that made any: so that
  // undoing a finished upgrade is recorded in that upgrade's state.
  // Whichever plugin made phase 1's backup records its id as `backup_id` (the one key of
  // phase 1 the engine relies on: `rollback --to <id>` must find its session without the plugin).
  const backupOf = (s: SessionState | undefined) =>
    Object.values((s?.phases["1"]?.evidence ?? {}) as Record<string, { backup_id?: unknown }>).map((r) => r?.backup_id).find((id): id is string => typeof id === "string");
  const pick = all.find((s) => s.state && s.state.session_id === lockSession) ??
    all.find((s) => s.state && ["in_progress", "rolling_back", "failed"].includes(s.state.status)) ??
    all.find((s) => cmd.backupId ? backupOf(s.state) === cmd.backupId : backupOf(s.state) !== undefined);
  return pick?.state ?? null;
}

/**
 * A manual rollback never destroys work silently: files changed since the upgrade it undoes
 * are confirmed on a terminal, or need `--yes` off one. Resolves when it may proceed.
 */
async function confirmDiscard(engine: Engine, cmd: RollbackCommand, request: RollbackRequest, io: LifecycleIO): Promise<void> {
  const preview = await engine.hooks.planRollback.promise({ backup_id: null, changed: [] }, engine.ctx, request);
  const unknown = preview.unknown ?? [];
  if ((!preview.changed.length && !unknown.length) || cmd.options.yes) return;
  const hint = anywayHint(cmd);
  if (unknown.length) return confirmUnknown(engine, preview, unknown, io, hint);
  const n = preview.changed.length;
  const list = preview.changed.slice(0, 20).join(", ") + (n > 20 ? `, … (${n - 20} more)` : "");
  for (const f of preview.changed) engine.log.warn(`changed since the upgrade: ${f}`);
  const question = `${n} file${n === 1 ? "" : "s"} changed since the upgrade (${list}). Roll back anyway? They are kept in a "before rollback" backup first`;
  if (io.confirm && await io.confirm(question)) return;
  throw new UpgradeError("CONFIRMATION_NEEDED", `Cannot roll back without confirmation: ${n} file${n === 1 ? "" : "s"} changed since the upgrade: ${list}`, {
    hint,
    details: { changed: preview.changed, backup_id: preview.backup_id, nothing_changed: true },
  });
}

/** The refusal's way out: the same command the user ran (with its `--to`), plus `--yes`. */
function anywayHint(cmd: RollbackCommand): string {
  const again = `agent-os-upgrade rollback${cmd.backupId ? ` --to ${cmd.backupId}` : ""} --yes`;
  return `Run \`${again}\` to roll back anyway (the current files are first kept in a "before rollback" backup that \`rollback --to <id>\` brings back); nothing was changed`;
}

/** `agent-os-upgrade rollback`: restores a session's backup (or `--to` one) by hand. */
export async function runManualRollback(cmd: RollbackCommand, io: LifecycleIO = {}): Promise<ManualRollbackResult> {
  const engine = await prepareEngine(cmd.resolved, cmd.options, io);
  const { layout, store } = engine;
  const state = sessionToMark(engine, cmd);
  if (state?.status === "rolled_back" && !cmd.backupId) {
    // The command prints the note (once: it is not logged too).
    const note = `Session ${state.session_id} was already rolled back${state.rollback?.ended_at ? ` at ${state.rollback.ended_at}` : ""}; nothing was changed`;
    return { outcome: { status: "rolled_back" }, exitCode: EXIT.ok, sessionId: state.session_id, note };
  }
  const past = pastMigration(cmd, store, state);
  if (past) return { outcome: { status: "aborted", error: past }, exitCode: past.exitCode, sessionId: state?.session_id ?? null };
  const took = await Lock.acquire(layout, state?.session_id ?? randomUUID(), { takeOver: "any" });
  if (took.tookOver) engine.log.warn(`Took over the stale lock of session ${took.tookOver.session_id} (pid ${took.tookOver.pid} is no longer running)`);
  const swept = sweepProject(layout);
  if (swept.length) engine.log.info(`Removed ${swept.length} temp file(s) left by an interrupted run`);
  const untouched = !cmd.backupId && interruptedBeforeChanges(state, took.tookOver, store, layout.backupsDir);
  if (untouched) {
    if (state) {
      state.status = "aborted";
      state.pid = process.pid;
      store.save(state);
    }
    took.lock.release();
    return { outcome: { status: "aborted" }, exitCode: EXIT.ok, sessionId: state?.session_id ?? took.tookOver?.session_id ?? null, note: untouched };
  }
  engine.state = state;
  const statusBefore = state?.status;
  const request: RollbackRequest = {
    reason: cmd.backupId ? `manual rollback to ${cmd.backupId}` : "manual rollback",
    phase: null,
    backupId: cmd.backupId ?? undefined,
    manual: true,
    keepCurrent: true,
    evidence: {},
  };
  try {
    await confirmDiscard(engine, cmd, request, io);
  } catch (err) {
    took.lock.release();
    const e = toUpgradeError(err);
    return { outcome: { status: "aborted", error: e }, exitCode: e.exitCode, sessionId: state?.session_id ?? null };
  }
  if (state) {
    state.pid = process.pid;
    store.save(state);
  }
  const outcome = await rollbackSession(engine, request);
  // After a failed rollback the lock stays only where an unfinished upgrade needs it to be
  // noticed (see runLifecycle); a refusal that changed nothing, or a failed rollback of a
  // finished session, must not block the next command.
  const unfinished = took.tookOver !== null || (statusBefore !== undefined && ["in_progress", "rolling_back", "failed"].includes(statusBefore));
  if (!outcome.rollbackError || refusedUnchanged(outcome.rollbackError) || !unfinished) took.lock.release();
  return { outcome, exitCode: outcome.rollbackError ? EXIT.rollbackFailed : EXIT.ok, sessionId: state?.session_id ?? null };
}

/** `--to` a backup older than a completed migration: refused (its files would be restored into the renamed folder). */
function pastMigration(cmd: RollbackCommand, store: StateStore, state: SessionState | null): UpgradeError | null {
  if (!cmd.backupId || !state || isMigration(state)) return null;
  const m = store.list().find((s) => s.state && s.state.status === "completed" && isMigration(s.state) && s.state.started_at > state.started_at)?.state;
  if (!m) return null;
  return new UpgradeError("PREFLIGHT_FAILED", `Cannot roll back to ${cmd.backupId}: the migration of session ${m.session_id} (.agent-os → .praxis-os) came after it`, {
    hint: "Run `agent-os-upgrade rollback` first (it undoes the migration and renames the folder back), then this command again; nothing was changed",
    details: { nothing_changed: true },
  });
}

/** Unknown counts as changed: a finished upgrade whose record of what it left is lost is confirmed like an edit. */
async function confirmUnknown(engine: Engine, preview: RollbackPreview, unknown: string[], io: LifecycleIO, hint: string): Promise<void> {
  const what = `what changed since the upgrade is unknown: ${unknown.join("; ")}`;
  engine.log.warn(`Changes since the upgrade are unknown: ${unknown.join("; ")}`);
  if (io.confirm && await io.confirm(`What changed since the upgrade is unknown (${unknown.join("; ")}). Roll back anyway? The current files are kept in a "before rollback" backup first`)) return;
  throw new UpgradeError("CONFIRMATION_NEEDED", `Cannot roll back without confirmation: ${what}`, {
    hint,
    details: { changed: preview.changed, unknown, backup_id: preview.backup_id, nothing_changed: true },
  });
}
