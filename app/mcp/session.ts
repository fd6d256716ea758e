/**
 * What the tools report about the project, read from the records on disk (the lock and the
 * session files), never from memory: a new MCP server after a reload knows exactly what the
 * killed one knew. `statusOf` says which of six states the project is in and what to call
 * next; `summaryOf` turns a session file into the `result` the tools return.
 */
import { type Layout } from "../../core/layout.ts";
import { readLock, type LockStatus } from "../../core/lock.ts";
import { PHASE_NAMES, PHASES, type Phase } from "../../core/phases.ts";
import { pidAlive } from "../../core/proc.ts";
import { type SessionState, StateStore } from "../../core/state.ts";
import { evidenceOf } from "../../core/evidence.ts";
import { backupEvidence } from "../../plugins/backup.ts";
import { preflightEvidence } from "../../plugins/preflight.ts";
import { reportEvidence } from "../../plugins/report.ts";
import { serverEvidence } from "../../plugins/server.ts";
import { validationEvidence } from "../../plugins/validate.ts";

export const STATES = ["idle", "running", "interrupted", "completed", "rolled_back", "failed"] as const;
export type ProjectState = (typeof STATES)[number];

/** The lock as the tools show it: flat and snake_case. */
export interface LockView {
  kind: LockStatus["kind"];
  session_id?: string;
  pid?: number;
  phase?: number | null;
  since?: string;
  file?: string;
  reason?: string;
}

export function lockView(s: LockStatus): LockView {
  switch (s.kind) {
    case "absent":
      return { kind: "absent" };
    case "held":
    case "stale":
      return { kind: s.kind, session_id: s.info.session_id, pid: s.info.pid, phase: s.info.phase, since: s.info.started_at };
    case "foreign":
      return { kind: "foreign", file: s.file, reason: s.reason };
  }
}

export interface Status {
  state: ProjectState;
  session_id?: string;
  phase?: number;
  phase_name?: string;
  /** The session file's own status (e.g. `aborted`, `rolling_back`), when there is a session. */
  session_status?: string;
  lock: LockView;
  error?: ErrorView;
  next: string;
}

export interface ErrorView {
  code: string;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

export function errorView(e: unknown): ErrorView | undefined {
  if (!e || typeof e !== "object") return undefined;
  const o = e as { code?: unknown; message?: unknown; hint?: unknown };
  return {
    code: typeof o.code === "string" ? o.code : "INTERNAL",
    message: typeof o.message === "string" ? o.message : String(e),
    ...(typeof o.hint === "string" ? { hint: o.hint } : {}),
  };
}

const unfinished = (s: SessionState) => s.status === "in_progress" || s.status === "rolling_back";

/** The session a status is about: the named one, else the lock's, else the newest. */
function pickSession(store: StateStore, lock: LockStatus, id: string | null): SessionState | null {
  if (id) return store.load(id);
  const all = store.list().filter((x) => x.state).map((x) => x.state!);
  const lockSession = lock.kind === "held" || lock.kind === "stale" ? lock.info.session_id : null;
  return all.find((s) => s.session_id === lockSession) ?? all[0] ?? null;
}

/** Where the project stands, and what to call next. */
export function statusOf(layout: Layout, sessionId: string | null = null): Status {
  const lock = readLock(layout);
  const lv = lockView(lock);
  const s = pickSession(new StateStore(layout.stateDir), lock, sessionId);
  const lockIsOurs = s && (lock.kind === "held" || lock.kind === "stale") && lock.info.session_id === s.session_id;
  const base = s
    ? {
      session_id: s.session_id,
      session_status: s.status,
      ...(s.current_phase !== null ? { phase: s.current_phase, phase_name: PHASE_NAMES[s.current_phase as Phase] } : {}),
      ...(s.error ? { error: errorView(s.error) } : {}),
    }
    : {};
  if (lock.kind === "held" && (!s || lockIsOurs || !sessionId)) {
    const id = lock.info.session_id;
    const phase = s && lockIsOurs ? s.current_phase : lock.info.phase;
    return {
      ...base,
      state: "running",
      session_id: id,
      ...(phase !== null && phase !== undefined ? { phase, phase_name: PHASE_NAMES[phase as Phase] } : {}),
      lock: lv,
      next: `An upgrade is running (session ${id}${phase !== null && phase !== undefined ? `, phase ${phase} ${PHASE_NAMES[phase as Phase]}` : ""}): call upgrade_continue to wait for its end, or upgrade_status again later.`,
    };
  }
  if (!s) {
    if (lock.kind === "stale") {
      return { state: "interrupted", session_id: lock.info.session_id, lock: lv, next: `An upgrade was killed before it recorded its session (nothing was changed yet): call upgrade_rollback to clear its lock, then upgrade_start.` };
    }
    return {
      state: "idle",
      lock: lv,
      next: lock.kind === "foreign"
        ? `A lock this tool did not write blocks upgrades (${lv.file}: ${lv.reason}); ask the user to remove it if no upgrade is running.`
        : "No upgrade has run here yet: call upgrade_plan with the Agent OS source checkout to see what an upgrade would change.",
    };
  }
  if (unfinished(s)) {
    // The lock is gone or stale, or (without a lock) the session's own process is dead.
    if (lock.kind !== "held" && pidAlive(s.pid)) {
      return { ...base, state: "running", lock: lv, next: `Session ${s.session_id} is still being worked on by process ${s.pid}: call upgrade_continue to wait for its end.` };
    }
    return {
      ...base,
      state: "interrupted",
      lock: lv,
      next: s.status === "rolling_back"
        ? `Session ${s.session_id} was interrupted while rolling back: call upgrade_continue (or upgrade_rollback) to finish the rollback.`
        : `Session ${s.session_id} was interrupted${s.current_phase !== null ? ` in phase ${s.current_phase} (${PHASE_NAMES[s.current_phase as Phase]})` : ""}: call upgrade_continue to finish it, or upgrade_rollback to undo it.`,
    };
  }
  switch (s.status) {
    case "completed":
      return { ...base, state: "completed", lock: lv, next: `The last upgrade (session ${s.session_id}) completed: report it to the user; call upgrade_rollback only if they want to undo it.` };
    case "rolled_back":
      return { ...base, state: "rolled_back", lock: lv, next: `The last upgrade (session ${s.session_id}) was rolled back${s.rollback?.reason ? ` (${s.rollback.reason})` : ""}; the installation is as it was before: fix the cause, then call upgrade_start again.` };
    case "aborted":
      return { ...base, state: "failed", lock: lv, next: `The last upgrade (session ${s.session_id}) stopped before changing the installation${s.error ? ` (${errorView(s.error)!.message})` : ""}: fix the cause, then call upgrade_start again.` };
    default:
      return {
        ...base,
        state: "failed",
        lock: lv,
        next: s.rollback?.status === "failed"
          ? `The last upgrade (session ${s.session_id}) failed and its rollback did not finish: call upgrade_rollback to restore the backup.`
          : `The last upgrade (session ${s.session_id}) failed${s.error ? ` (${errorView(s.error)!.message})` : ""}: tell the user; upgrade_rollback restores the backup taken before it.`,
      };
  }
}

/** What a finished (or stopped) session did, for the `result` of upgrade_start / continue / rollback. */
export interface Summary {
  session_id: string;
  session_status: string;
  phases: Array<{ phase: number; name: string; status: string; duration_ms: number | null }>;
  from?: string | null;
  to?: string | null;
  backup_id?: string;
  content?: {
    counts?: Record<string, number>;
    files_written?: number;
    files_deleted?: number;
    decisions: Array<{ path: string; decision: string; by: string; result: string }>;
    needs_attention: unknown[];
  };
  server?: { restart?: string; message?: string };
  /** The tools the upgraded server registered (phase 4's evidence). */
  tools?: string[];
  report_path?: string;
  rollback?: { status: string; reason: string };
  error?: ErrorView;
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

export function summaryOf(s: SessionState): Summary {
  // Each owner's record, through the reader it exports (a plugin left out leaves nothing).
  const e0: Record<string, unknown> = preflightEvidence(s) ?? {};
  const e1: Record<string, unknown> = backupEvidence(s) ?? {};
  const e2: Record<string, unknown> = evidenceOf(s, 2, "content") ?? {};
  const e3: Record<string, unknown> = serverEvidence(s) ?? {};
  const e4: Record<string, unknown> = validationEvidence(s) ?? {};
  const e5: Record<string, unknown> = reportEvidence(s) ?? {};
  const out: Summary = {
    session_id: s.session_id,
    session_status: s.status,
    phases: PHASES.map((p) => {
      const r = s.phases[String(p)];
      return { phase: p, name: PHASE_NAMES[p], status: r?.status ?? "pending", duration_ms: r?.duration_ms ?? null };
    }),
    from: str(e0.from_commit) ?? null,
    to: str(e0.source_commit) ?? s.source.commit,
  };
  if (str(e1.backup_id)) out.backup_id = str(e1.backup_id);
  if (s.phases["2"]) {
    const decisions = Array.isArray(e2.decisions) ? e2.decisions as Array<Record<string, unknown>> : [];
    out.content = {
      counts: e2.plan_counts as Record<string, number> | undefined,
      files_written: e2.files_written as number | undefined,
      files_deleted: e2.files_deleted as number | undefined,
      decisions: decisions.map((d) => ({ path: String(d.target), decision: String(d.decision), by: String(d.by), result: String(d.result ?? "") })),
      needs_attention: Array.isArray(e2.needs_attention) ? e2.needs_attention : [],
    };
  }
  const restart = e3.restart as { status?: unknown; message?: unknown } | undefined;
  if (restart) out.server = { restart: str(restart.status), ...(str(restart.message) ? { message: str(restart.message) } : {}) };
  if (Array.isArray(e4.tools_registered)) out.tools = (e4.tools_registered as unknown[]).map(String);
  if (str(e5.report_path)) out.report_path = str(e5.report_path);
  if (s.rollback) out.rollback = { status: s.rollback.status, reason: s.rollback.reason };
  if (s.error) out.error = errorView(s.error);
  return out;
}

/** The session file, or null when it does not exist or cannot be read. */
export function loadSession(layout: Layout, id: string): SessionState | null {
  try {
    return new StateStore(layout.stateDir).load(id);
  } catch {
    return null;
  }
}
