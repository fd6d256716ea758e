/**
 * The upgrader: runs the phases in order, saves state after each, rolls back when phase 2,
 * 3 or 4 fails (or is interrupted), always runs cleanup with the outcome, and never lets a
 * rollback or cleanup error hide the first error. Phase 0 runs in memory: a refused
 * pre-flight leaves the project byte-identical (no lock, no state file).
 */
import { randomUUID } from "node:crypto";
import { createContext } from "./context.ts";
import { EXIT, toUpgradeError, UpgradeError } from "./errors.ts";
import { checkGate, type EvidenceDraft } from "./evidence.ts";
import { createHooks, type Hooks } from "./hooks.ts";
import { type Layout, resolveLayout } from "./layout.ts";
import { Lock, readLock } from "./lock.ts";
import { createLogger, type LogEvent, type Logger } from "./log.ts";
import { type Phase, PHASE_NAMES, PHASES, ROLLBACK_PHASES } from "./phases.ts";
import { applyPlugins } from "./plugin.ts";
import type { ResolvedConfig } from "./config.ts";
import { beginPhase, endPhase, type SessionState, StateStore } from "./state.ts";
import {
  type ContentPlan,
  type Finding,
  Findings,
  type Outcome,
  type PhaseSummary,
  RESULT_SCHEMA_VERSION,
  type RollbackRequest,
  type RunOptions,
  type SessionHandle,
  type UpgradeContext,
  type UpgradeResult,
} from "./types.ts";

export interface LifecycleIO {
  /** Receives every event (the CLI renders them). */
  onEvent?: (event: LogEvent) => void;
  /** Install SIGINT/SIGTERM handlers for the run (the CLI does; a library caller may not want it). */
  handleSignals?: boolean;
}

const emptyPlan = (): ContentPlan => ({ base: { kind: "none" }, entries: [] });

/** What every command needs: hooks with the plugins applied, the layout, a logger, a context. */
export interface Engine {
  hooks: Hooks;
  layout: Layout;
  log: Logger;
  ctx: UpgradeContext;
  abort: AbortController;
  store: StateStore;
  /** The session, once there is one. */
  state: SessionState | null;
  /** Evidence of this run's phases that has no session yet (phase 0). */
  memEvidence: Map<Phase, Record<string, unknown>>;
  findings: Finding[];
}

export async function prepareEngine(resolved: ResolvedConfig, options: RunOptions, io: LifecycleIO): Promise<Engine> {
  const hooks = createHooks();
  applyPlugins(hooks, resolved.plugins);
  const layout = resolveLayout(options.target);
  const abort = new AbortController();
  const findings: Finding[] = [];
  const emit = (event: LogEvent) => {
    if (event.type === "finding") findings.push(event.finding);
    io.onEvent?.(event);
    hooks.log.call(event);
  };
  const log = createLogger(emit);
  const store = new StateStore(layout.stateDir);
  const engine: Engine = {
    hooks,
    layout,
    log,
    abort,
    store,
    state: null,
    memEvidence: new Map(),
    findings,
    ctx: undefined as unknown as UpgradeContext,
  };
  let handle: SessionHandle | null = null;
  const sessionOf = (): SessionHandle | null => {
    const st = engine.state;
    if (!st) return null;
    if (handle?.id === st.session_id) return handle;
    handle = {
      id: st.session_id,
      get state() {
        return engine.state!;
      },
      journal: async (step, data) => {
        engine.state!.journal.push({ at: new Date().toISOString(), phase: engine.state!.current_phase, step, data });
        store.save(engine.state!);
      },
      hasStep: (step) => engine.state!.journal.some((j) => j.step === step),
    };
    return handle;
  };
  engine.ctx = createContext({
    layout,
    options,
    log,
    signal: abort.signal,
    session: sessionOf,
    evidence: (p) => engine.memEvidence.get(p) ?? (engine.state?.completed_phases.includes(p) ? engine.state.phases[String(p)]?.evidence : undefined),
  });
  await hooks.config.promise(resolved);
  await hooks.start.promise(engine.ctx);
  return engine;
}

function preflightError(errors: Finding[]): UpgradeError {
  // A lock or a conflict alone has its own exit code; anything else is a plain refusal.
  const codes = new Set(errors.map((f) => f.code));
  const code = [...codes].every((c) => c === "LOCK_HELD") ? "LOCK_HELD"
    : [...codes].every((c) => c === "CONFLICTS_UNRESOLVED") ? "CONFLICTS_UNRESOLVED"
    : "PREFLIGHT_FAILED";
  const summary = errors.length === 1 ? errors[0].message : `${errors.length} problems (${errors.map((f) => f.code).join(", ")}), listed above`;
  return new UpgradeError(code, `Pre-flight refused the upgrade: ${summary}`, {
    hint: errors.length === 1 && errors[0].fix ? `${errors[0].fix}; nothing was changed` : "Fix each problem listed, then run the upgrade again; nothing was changed",
    details: { findings: errors },
  });
}

function setupSignals(engine: Engine, enabled: boolean): () => void {
  if (!enabled) return () => {};
  let count = 0;
  const onSignal = (sig: string) => {
    count++;
    if (count === 1) {
      engine.log.warn(`Received ${sig}: stopping after the current step${engine.state ? " and rolling back if needed" : ""}`);
      engine.abort.abort(new UpgradeError("INTERRUPTED", `Cannot continue: interrupted by ${sig}`, {
        hint: "Run the upgrade again when ready",
      }));
      return;
    }
    // A second signal: leave now. The lock stays (its owner will be dead), so the next
    // command reports the interrupted session and offers resume or rollback.
    engine.log.error(`Received ${sig} again: exiting now; run \`agent-os-upgrade rollback\` or \`resume\``);
    process.exit(130);
  };
  const onInt = () => onSignal("SIGINT");
  const onTerm = () => onSignal("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  return () => {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
  };
}

function interruption(engine: Engine): UpgradeError {
  const r = engine.abort.signal.reason;
  return r instanceof Error ? toUpgradeError(r, "INTERRUPTED") : new UpgradeError("INTERRUPTED", "Cannot continue: interrupted");
}

export interface LifecycleRequest {
  resolved: ResolvedConfig;
  options: RunOptions;
  /** Resume this session (or the newest unfinished one when null). Absent: a new upgrade. */
  resume?: { sessionId: string | null };
}

/** Runs (or resumes) an upgrade. Never throws for a failed upgrade: the result says what happened. */
export async function runLifecycle(req: LifecycleRequest, io: LifecycleIO = {}): Promise<UpgradeResult> {
  let options = req.options;
  let resumeState: SessionState | null = null;
  if (req.resume) {
    const layout0 = resolveLayout(options.target);
    resumeState = findResumable(new StateStore(layout0.stateDir), req.resume.sessionId);
    // The flags that shaped the plan come from the session; output flags from this command.
    const saved = resumeState.options as Partial<RunOptions>;
    options = { ...options, ...saved, json: options.json, interactive: options.interactive, yes: options.yes, target: options.target };
  }
  const engine = await prepareEngine(req.resolved, options, io);
  const { hooks, ctx, store, layout, log } = engine;
  const emit = log.emit;
  const summaries = new Map<Phase, PhaseSummary>(PHASES.map((p) => [p, { phase: p, name: PHASE_NAMES[p], status: "pending", duration_ms: null }]));
  const secondary: UpgradeError[] = [];
  let lock: Lock | null = null;
  let failedPhase: Phase | undefined;
  let plan: ContentPlan | undefined;
  const unhook = setupSignals(engine, io.handleSignals ?? false);

  const save = () => engine.state && store.save(engine.state);

  async function runPhase(p: Phase, body: (ev: EvidenceDraft<Phase>) => Promise<void>, persist = true): Promise<Record<string, unknown>> {
    if (persist && engine.state) {
      beginPhase(engine.state, p);
      lock?.setPhase(p);
      save();
    }
    emit({ type: "phase-start", phase: p, name: PHASE_NAMES[p] });
    hooks.phaseStart.call(p);
    const t0 = performance.now();
    const ev: EvidenceDraft<Phase> = {};
    const finish = (status: "completed" | "failed") => {
      const dt = Math.round(performance.now() - t0);
      if (persist && engine.state) {
        endPhase(engine.state, p, status, ev, dt);
        save();
      }
      summaries.set(p, { phase: p, name: PHASE_NAMES[p], status, duration_ms: dt });
      emit({ type: "phase-end", phase: p, name: PHASE_NAMES[p], status, duration_ms: dt });
      hooks.phaseEnd.call(p, { status, duration_ms: dt });
    };
    try {
      await body(ev);
      if (engine.abort.signal.aborted) throw interruption(engine);
      const gate = checkGate(p, ev);
      if (!gate.ok) {
        throw new UpgradeError("GATE_FAILED", `Cannot complete phase ${p} (${PHASE_NAMES[p]}): its evidence does not show success: ${gate.problems.join("; ")}`, {
          hint: "A plugin did not do its part; the log above says which step failed",
          details: { phase: p, problems: gate.problems },
        });
      }
    } catch (err) {
      failedPhase = p;
      finish("failed");
      throw err;
    }
    finish("completed");
    return ev;
  }

  const phaseBodies: Record<Exclude<Phase, 0 | 5>, (ev: EvidenceDraft<Phase>) => Promise<void>> = {
    1: async (ev) => {
      ev.lock_acquired = lock?.owned() === true;
      await hooks.backup.promise(ctx, ev as EvidenceDraft<1>);
    },
    2: async (ev) => {
      plan = await hooks.planContent.promise(emptyPlan(), ctx);
      ctx.shared.set("plan", plan);
      await hooks.applyContent.promise(plan, ctx, ev as EvidenceDraft<2>);
    },
    3: async (ev) => {
      await hooks.upgradeServer.promise(ctx, ev as EvidenceDraft<3>);
      if (engine.abort.signal.aborted) throw interruption(engine);
      await hooks.migrate.promise(ctx, ev as EvidenceDraft<3>);
      if (engine.abort.signal.aborted) throw interruption(engine);
      await hooks.restartServer.promise(ctx, ev as EvidenceDraft<3>);
    },
    4: async (ev) => {
      const findings = new Findings();
      await hooks.validate.promise(ctx, findings, ev as EvidenceDraft<4>);
      for (const f of findings.items) emit({ type: "finding", finding: f });
      if (findings.errors.length) {
        throw new UpgradeError("VALIDATION_FAILED", `Validation failed: ${findings.errors.map((f) => f.message).join("; ")}`, {
          hint: "The upgrade was rolled back; fix the cause (see the validation report) and run it again",
          details: { findings: findings.errors },
        });
      }
    },
  };

  let outcome: Outcome = { status: "completed" };
  try {
    if (resumeState) {
      engine.state = resumeState;
      const took = await Lock.acquire(layout, resumeState.session_id, { takeOver: "same-session", phase: resumeState.current_phase });
      lock = took.lock;
      if (took.tookOver) log.warn(`Took over the stale lock of session ${took.tookOver.session_id} (pid ${took.tookOver.pid} is no longer running)`);
      resumeState.pid = process.pid;
      save();
      for (const p of resumeState.completed_phases as Phase[]) summaries.set(p, { phase: p, name: PHASE_NAMES[p], status: "completed", duration_ms: resumeState.phases[String(p)]?.duration_ms ?? null });
      if (resumeState.status === "rolling_back") {
        failedPhase = (resumeState.current_phase ?? 2) as Phase;
        throw new UpgradeError("INTERRUPTED", `Cannot resume session ${resumeState.session_id}: it was interrupted while rolling back; finishing the rollback`, {
          hint: "The rollback is being completed",
        });
      }
      log.info(`Resuming session ${resumeState.session_id} at phase ${firstIncomplete(resumeState)}`);
    } else {
      const ev0 = await runPhase(0, async (ev) => {
        const findings = new Findings();
        await hooks.preflight.promise(ctx, findings, ev as EvidenceDraft<0>);
        for (const f of findings.items) emit({ type: "finding", finding: f });
        if (findings.errors.length) throw preflightError(findings.errors);
      }, false);
      engine.memEvidence.set(0, ev0);
      if (options.dryRun) {
        const t0 = performance.now();
        plan = await hooks.planContent.promise(emptyPlan(), ctx);
        log.debug("content planned (dry run)", { ms: Math.round(performance.now() - t0) });
        for (const p of [1, 2, 3, 4, 5] as Phase[]) summaries.set(p, { phase: p, name: PHASE_NAMES[p], status: "skipped", duration_ms: null });
      } else {
        if (engine.abort.signal.aborted) throw interruption(engine);
        const id = randomUUID();
        lock = (await Lock.acquire(layout, id, { takeOver: "none", phase: 1 })).lock;
        engine.state = store.create({
          options: { ...options } as unknown as Record<string, unknown>,
          source: { path: options.source, commit: (ev0.source_commit as string | undefined) ?? null },
          target: { project: layout.projectRoot, install: layout.installDir },
        }, id);
        beginPhase(engine.state, 0);
        endPhase(engine.state, 0, "completed", ev0, summaries.get(0)!.duration_ms ?? 0);
        engine.memEvidence.delete(0);
        save();
      }
    }
    if (!options.dryRun) {
      for (const p of [1, 2, 3, 4] as const) {
        if (engine.state!.completed_phases.includes(p)) continue;
        if (engine.abort.signal.aborted) {
          failedPhase = p;
          throw interruption(engine);
        }
        await runPhase(p, phaseBodies[p]);
      }
    }
  } catch (err) {
    const error = toUpgradeError(err);
    if (engine.state && failedPhase !== undefined && ROLLBACK_PHASES.includes(failedPhase)) {
      outcome = await rollbackSession(engine, { reason: error.message, phase: failedPhase, error, manual: false, evidence: {} });
    } else {
      outcome = { status: error.code === "INTERRUPTED" || error.code === "CONFLICTS_UNRESOLVED" ? "aborted" : "failed", error, phase: failedPhase };
    }
    if (engine.state) {
      if (engine.state.status === "in_progress") engine.state.status = outcome.status;
      engine.state.error ??= error.toJSON();
      save();
    }
  }

  // Cleanup always runs, with the outcome; on success it is phase 5 with its own gate.
  try {
    if (options.dryRun) {
      // A dry run has no phase 5: nothing to release, report or prune.
    } else if (outcome.status === "completed") {
      await runPhase(5, async (ev) => {
        await hooks.cleanup.promise(ctx, outcome, ev as EvidenceDraft<5>);
        ev.lock_released = lock?.release() === true;
      });
      engine.state!.status = "completed";
      engine.state!.current_phase = null;
      save();
    } else {
      await hooks.cleanup.promise(ctx, outcome, {});
    }
  } catch (err) {
    const e = toUpgradeError(err);
    if (outcome.status === "completed") {
      outcome = { status: "failed", error: e, phase: 5 };
      if (engine.state) {
        engine.state.status = "failed";
        engine.state.error = e.toJSON();
        save();
      }
    } else secondary.push(e);
  } finally {
    unhook();
    // A failed rollback keeps the lock: once this process exits the lock is stale, and the
    // next command reports the unfinished session and offers rollback.
    if (lock && !outcome.rollbackError) lock.release();
  }
  if (outcome.rollbackError) secondary.unshift(outcome.rollbackError);

  const result: UpgradeResult = {
    schema_version: RESULT_SCHEMA_VERSION,
    status: outcome.status,
    exit_code: exitCodeOfOutcome(outcome),
    session_id: engine.state?.session_id ?? null,
    dry_run: options.dryRun,
    phases: PHASES.map((p) => summaries.get(p)!),
    findings: engine.findings,
    plan,
    error: outcome.error?.toJSON(),
    secondary_errors: secondary.map((e) => e.toJSON()),
    backup_path: engine.state?.phases["1"]?.evidence.backup_path as string | undefined,
    report_path: engine.state?.phases["5"]?.evidence.report_path as string | undefined,
  };
  try {
    await hooks.done.promise(result);
  } catch (err) {
    result.secondary_errors.push(toUpgradeError(err).toJSON());
  }
  emit({ type: "result", result });
  return result;
}

export function exitCodeOfOutcome(o: Outcome): number {
  if (o.rollbackError) return EXIT.rollbackFailed;
  switch (o.status) {
    case "completed":
      return EXIT.ok;
    case "rolled_back":
      return o.error?.code === "CONFLICTS_UNRESOLVED" ? EXIT.conflicts : EXIT.rolledBack;
    case "aborted":
    case "failed":
      return o.error?.exitCode ?? EXIT.failed;
  }
}

function firstIncomplete(s: SessionState): Phase | null {
  return PHASES.find((p) => !s.completed_phases.includes(p)) ?? null;
}

/** The session to resume: the named one, else the newest unfinished one. */
export function findResumable(store: StateStore, id: string | null): SessionState {
  const state = id ? store.load(id) : undefined;
  if (state) {
    if (state.status !== "in_progress" && state.status !== "rolling_back") {
      throw new UpgradeError("SESSION_STATE", `Cannot resume session ${id}: its status is "${state.status}"`, {
        hint: state.status === "completed" ? "It already finished; nothing to do" : "Start a new upgrade instead",
      });
    }
    return state;
  }
  const all = store.list();
  const broken = all.find((s) => s.error);
  const open = all.find((s) => s.state && (s.state.status === "in_progress" || s.state.status === "rolling_back"));
  if (open?.state) return open.state;
  if (broken?.error) throw broken.error;
  throw new UpgradeError("NO_SESSION", `Cannot resume: no unfinished session in ${store.dir}`, {
    hint: "Start an upgrade with `agent-os-upgrade --source <dir>`",
  });
}

/** A rollback error whose plugin says it changed nothing (`details.nothing_changed`), e.g. a refused damaged backup. */
export function refusedUnchanged(err: UpgradeError): boolean {
  const cause = (err as { cause?: unknown }).cause as UpgradeError | undefined;
  const flag = (e?: UpgradeError) => (e?.details as { nothing_changed?: unknown } | undefined)?.nothing_changed === true;
  return flag(err) || flag(cause);
}

/** Runs the rollback taps for a session and records the outcome; never throws. */
export async function rollbackSession(engine: Engine, request: RollbackRequest): Promise<Outcome> {
  const { hooks, ctx, log, store } = engine;
  const state = engine.state;
  const t0 = performance.now();
  const statusBefore = state?.status;
  if (state) {
    state.status = "rolling_back";
    state.rollback = { reason: request.reason, started_at: new Date().toISOString(), ended_at: null, duration_ms: null, status: "running", evidence: {} };
    store.save(state);
  }
  log.warn(`Rolling back${request.phase !== null ? ` after phase ${request.phase} (${PHASE_NAMES[request.phase]})` : ""}: ${request.reason}`);
  let rollbackError: UpgradeError | undefined;
  if (hooks.rollback.taps.length === 0) {
    rollbackError = new UpgradeError("ROLLBACK_FAILED", "Cannot roll back: no plugin restores backups (is the backup plugin disabled?)", {
      hint: "Restore .agent-os/ from .agent-os/.backups/<newest>/ by hand, or enable the backup plugin and run `agent-os-upgrade rollback`",
    });
  } else {
    try {
      await hooks.rollback.promise(ctx, request);
    } catch (err) {
      const e = toUpgradeError(err, "ROLLBACK_FAILED");
      rollbackError = e.code === "ROLLBACK_FAILED" ? e : new UpgradeError("ROLLBACK_FAILED", `Cannot finish the rollback: ${e.message}`, {
        hint: e.hint ?? "Run `agent-os-upgrade rollback` again; if it fails again, restore from .agent-os/.backups/ by hand",
        plugin: e.plugin,
        hook: e.hook,
        cause: e,
      });
    }
  }
  const dt = Math.round(performance.now() - t0);
  if (state) {
    state.rollback = { ...state.rollback!, ended_at: new Date().toISOString(), duration_ms: dt, status: rollbackError ? "failed" : "completed", evidence: request.evidence };
    // A manual rollback refused before it changed anything (a damaged backup, say) leaves the
    // session as it was: a completed upgrade is still completed.
    state.status = !rollbackError ? "rolled_back" : request.manual && refusedUnchanged(rollbackError) ? statusBefore! : "failed";
    if (rollbackError) state.error = rollbackError.toJSON();
    store.save(state);
  }
  if (!rollbackError) log.info(`Rolled back in ${dt} ms`);
  return { status: rollbackError ? "failed" : "rolled_back", error: request.error, rollbackError, phase: request.phase ?? undefined };
}

export interface RollbackCommand {
  resolved: ResolvedConfig;
  options: RunOptions;
  /** `--to <backup>` */
  backupId?: string | null;
  sessionId?: string | null;
}

/** `agent-os-upgrade rollback`: restores a session's backup (or `--to` one) by hand. */
export async function runManualRollback(cmd: RollbackCommand, io: LifecycleIO = {}): Promise<{ outcome: Outcome; exitCode: number; sessionId: string | null }> {
  const engine = await prepareEngine(cmd.resolved, cmd.options, io);
  const { layout, store } = engine;
  // The session to mark: the named one, else the one holding a stale lock, else the newest unfinished one, else the backup's.
  let state: SessionState | null = null;
  if (cmd.sessionId) state = store.load(cmd.sessionId);
  else {
    const ls = readLock(layout);
    const lockSession = ls.kind === "stale" ? ls.info.session_id : null;
    const all = store.list();
    // Else the session that made the backup (`--to`), or the newest one that made any: so that
    // undoing a finished upgrade is recorded in that upgrade's state.
    const backupOf = (s: SessionState | undefined) => s?.phases["1"]?.evidence.backup_id as string | undefined;
    const pick = all.find((s) => s.state && s.state.session_id === lockSession) ??
      all.find((s) => s.state && ["in_progress", "rolling_back", "failed"].includes(s.state.status)) ??
      all.find((s) => cmd.backupId ? backupOf(s.state) === cmd.backupId : backupOf(s.state) !== undefined);
    state = pick?.state ?? null;
  }
  const took = await Lock.acquire(layout, state?.session_id ?? randomUUID(), { takeOver: "any" });
  if (took.tookOver) engine.log.warn(`Took over the stale lock of session ${took.tookOver.session_id} (pid ${took.tookOver.pid} is no longer running)`);
  engine.state = state;
  const statusBefore = state?.status;
  if (state) {
    state.pid = process.pid;
    store.save(state);
  }
  const outcome = await rollbackSession(engine, {
    reason: cmd.backupId ? `manual rollback to ${cmd.backupId}` : "manual rollback",
    phase: null,
    backupId: cmd.backupId ?? undefined,
    manual: true,
    evidence: {},
  });
  // After a failed rollback the lock stays only where an unfinished upgrade needs it to be
  // noticed (see runLifecycle); a refusal that changed nothing, or a failed rollback of a
  // finished session, must not block the next command.
  const unfinished = took.tookOver !== null || (statusBefore !== undefined && ["in_progress", "rolling_back", "failed"].includes(statusBefore));
  if (!outcome.rollbackError || refusedUnchanged(outcome.rollbackError) || !unfinished) took.lock.release();
  return { outcome, exitCode: outcome.rollbackError ? EXIT.rollbackFailed : EXIT.ok, sessionId: state?.session_id ?? null };
}
