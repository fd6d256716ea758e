/**
 * The upgrader: runs the phases in order, saves state after each, rolls back when phase 2,
 * 3 or 4 fails (or is interrupted), always runs cleanup with the outcome, and never lets a
 * rollback or cleanup error hide the first error. Phase 0 runs in memory: a refused
 * pre-flight leaves the project byte-identical (no lock, no state file).
 */
import { randomUUID } from "node:crypto";
import { phaseOwners } from "./hooks.ts";
import { type Engine, enforceGate, interruption, type LifecycleIO, planOnce, prepareEngine, setupSignals } from "./engine.ts";
import { EXIT, isUpgradeError, toUpgradeError, UpgradeError } from "./errors.ts";
import { EvidenceBook, type EvidenceDraft, type PhaseEvidence } from "./evidence.ts";
import { DryRunWatch } from "./dry-watch.ts";
import { Lock, lockHeldError, type LockInfo, readLock } from "./lock.ts";
import { type Phase, PHASE_NAMES, PHASES, ROLLBACK_PHASES } from "./phases.ts";
import type { ResolvedConfig } from "./config.ts";
import { releaseRollbackSpace, reserveRollbackSpace, rollbackSession } from "./rollback.ts";
import { beginPhase, endPhase, type SessionState, StateStore } from "./state.ts";
import { resolveLayout } from "./layout.ts";
import { moveBack, moveInstall } from "./relocate.ts";
import { clearOrphanLock, sweepProject } from "./recovery.ts";
import path from "node:path";
import { splitOptions } from "./options-resolve.ts";
import { emptySummary, type Finding, Findings, type Outcome, type PhaseSummary, RESULT_SCHEMA_VERSION, type RunOptions, type UpgradeResult } from "./types.ts";

export { type Engine, type LifecycleIO, prepareEngine } from "./engine.ts";
export { refusedUnchanged, type RollbackCommand, rollbackSession, runManualRollback } from "./rollback.ts";

export interface LifecycleRequest {
  resolved: ResolvedConfig;
  options: RunOptions;
  /** Resume this session (or the newest unfinished one when null). Absent: a new upgrade. */
  resume?: { sessionId: string | null; overrides?: Record<string, unknown> };
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

/** Runs a write of our records; a failed one (disk full, EIO) is named as such, never an INTERNAL error. */
function recording(file: string, write: () => void): void {
  try {
    write();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (isUpgradeError(err) || typeof e?.code !== "string") throw err;
    throw new UpgradeError("STATE_WRITE_FAILED", `Cannot record the upgrade's progress in ${file}: ${e.message}`, {
      hint: e.code === "ENOSPC" ? "The disk is full: free space, then run the upgrade again (phases 2–4 are rolled back)" : "Check the disk and the folder's permissions, then run the upgrade again",
      cause: err,
    });
  }
}

/** One run of the lifecycle: the engine plus what the phases share (summaries, lock, failed phase). */
class Run {
  readonly summaries = new Map<Phase, PhaseSummary>(PHASES.map((p) => [p, { phase: p, name: PHASE_NAMES[p], status: "pending", duration_ms: null }]));
  readonly secondary: UpgradeError[] = [];
  lock: Lock | null = null;
  failedPhase: Phase | undefined;

  constructor(readonly engine: Engine, readonly options: RunOptions) {}

  /** Records the session; a failed write (disk full, EIO) is named as such, never an INTERNAL error. */
  save(): void {
    const { state, store } = this.engine;
    if (!state) return;
    recording(store.fileOf(state.session_id), () => store.save(state));
  }

  /** A save on a failure path: when it fails too (disk full), the record is lost, not the first error. */
  saveQuietly(): void {
    try {
      this.save();
    } catch (err) {
      this.secondary.push(toUpgradeError(err));
    }
  }

  private finishPhase(p: Phase, status: "completed" | "failed", ev: EvidenceBook, t0: number, persist: boolean, byUser = false): void {
    const dt = Math.round(performance.now() - t0);
    if (persist && this.engine.state) {
      endPhase(this.engine.state, p, status, ev.records, dt);
      if (status === "completed") this.save();
      else this.saveQuietly();
    }
    // A phase no plugin works in is not shown as done: nothing was checked, backed up or written there.
    const plugins = phaseOwners(this.engine.hooks, p);
    // A person's Abort at a prompt is their choice, not a failure of the phase.
    const shown = byUser ? "aborted" : status === "completed" && plugins.length === 0 ? "skipped" : status;
    this.summaries.set(p, { phase: p, name: PHASE_NAMES[p], status: shown, duration_ms: dt, plugins });
    const reason = shown === "skipped" ? { reason: "no plugin" } : shown === "aborted" ? { reason: "by you" } : {};
    this.engine.log.emit({ type: "phase-end", phase: p, name: PHASE_NAMES[p], status: shown, duration_ms: dt, ...reason });
    this.engine.hooks.phaseEnd.call(p, { status, duration_ms: dt });
  }

  /** Runs one phase body, then its gate; records the phase (in the session when `persist`). */
  /**
   * Runs one phase body, then its gate; records the phase (in the session when `persist`).
   * Every write of the phase, the records at its start and end included, is inside its error
   * handling: a state save that fails (disk full) is a failure of the phase, so phases 2–4
   * roll back. Phase 5 ignores an interruption: everything is done, it finishes the cleanup.
   */
  async phase(p: Phase, body: (ev: EvidenceBook) => Promise<void>, persist = true): Promise<PhaseEvidence> {
    const { engine } = this;
    const t0 = performance.now();
    const ev = new EvidenceBook();
    engine.running = { phase: p, records: ev.records };
    try {
      if (persist && engine.state) {
        beginPhase(engine.state, p);
        recording(this.engine.layout.lockFile, () => this.lock?.setPhase(p));
        this.save();
      }
      engine.log.emit({ type: "phase-start", phase: p, name: PHASE_NAMES[p] });
      engine.hooks.phaseStart.call(p);
      await body(ev);
      if (engine.abort.signal.aborted && p !== 5) throw interruption(engine);
      enforceGate(engine, p, ev.records);
      this.finishPhase(p, "completed", ev, t0, persist);
    } catch (err) {
      this.failedPhase = p;
      // A rollback follows: the space set aside for its records is theirs from this record on.
      if (persist && ROLLBACK_PHASES.includes(p)) releaseRollbackSpace(engine.layout);
      const byUser = isUpgradeError(err) && (err.details as { aborted_by_user?: boolean } | undefined)?.aborted_by_user === true;
      this.finishPhase(p, "failed", ev, t0, persist, byUser);
      throw err;
    } finally {
      engine.running = null;
    }
    return ev.records;
  }

  async findingsPhase(run: (findings: Findings) => Promise<void>, fail: (errors: Finding[]) => UpgradeError): Promise<void> {
    const findings = new Findings();
    await run(findings);
    for (const f of findings.items) this.engine.log.emit({ type: "finding", finding: f });
    if (findings.errors.length) throw fail(findings.errors);
  }
}

// The hooks declare a plugin's own record (EvidenceDraft); they receive the book, which every tap sees scoped to its plugin.
const draft = (ev: EvidenceBook) => ev as unknown as EvidenceDraft;

const BODIES: Record<1 | 2 | 3 | 4, (run: Run, ev: EvidenceBook) => Promise<void>> = {
  1: async ({ engine, lock }, ev) => {
    // A migration's folder move comes first: everything after it (backup included) is of the new folder.
    if (moveInstall(engine)) {
      engine.log.info(`Moved ${engine.layout.relocation!.from} to ${engine.layout.relocation!.to}`);
      ev.of("engine").moved_to = engine.layout.installDir;
    }
    ev.of("engine").lock_acquired = lock?.owned() === true;
    // The backup covers what the plan will change: a resumed run builds the plan first.
    if (!engine.plan) await planOnce(engine, new Findings());
    await engine.hooks.backup.promise(engine.ctx, draft(ev));
  },
  2: async ({ engine }, ev) => {
    // Before the first change: what a rollback will have to write, set aside (a full disk must not stop it).
    reserveRollbackSpace(engine.layout);
    // On resume the plan is rebuilt once, from the tree as the interrupted run left it.
    const plan = engine.plan ?? await planOnce(engine, new Findings());
    await engine.hooks.applyContent.promise(plan, engine.ctx, draft(ev));
  },
  3: async ({ engine }, ev) => {
    const { hooks, ctx } = engine;
    await hooks.upgradeServer.promise(ctx, draft(ev));
    if (engine.abort.signal.aborted) throw interruption(engine);
    await hooks.migrate.promise(ctx, draft(ev));
    if (engine.abort.signal.aborted) throw interruption(engine);
    await hooks.restartServer.promise(ctx, draft(ev));
  },
  4: async (run, ev) => {
    await run.findingsPhase((f) => run.engine.hooks.validate.promise(run.engine.ctx, f, draft(ev)), (errors) =>
      new UpgradeError("VALIDATION_FAILED", `Validation failed: ${errors.map((f) => f.message).join("; ")}`, {
        hint: "The upgrade was rolled back; fix the cause (see the validation report) and run it again",
        details: { findings: errors },
      }));
  },
};

/**
 * Pre-flight reads a tree another upgrade may start changing meanwhile (its backup moves
 * folders aside): a refusal, or an error, while another live upgrade now holds the lock is
 * that race, not the tree's fault — the loser says who holds the lock (exit 5), never a
 * misleading "cannot read" with a chmod hint.
 */
async function whileNotRaced(run: Run, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    const st = readLock(run.engine.layout);
    if (st.kind === "held" && st.info.pid !== process.pid) throw lockHeldError(st, run.engine.layout);
    throw err;
  }
}

/** Phase 0 (checks, then the plan), in memory; then the lock and the session for a real run. */
async function begin(run: Run): Promise<void> {
  const { engine, options } = run;
  const ev0 = await run.phase(0, (ev) => whileNotRaced(run, () => run.findingsPhase(async (findings) => {
      await engine.hooks.preflight.promise(engine.ctx, findings, draft(ev));
      try {
        await planOnce(engine, findings);
      } catch (err) {
        // A plan cannot be built from a tree pre-flight already refused (an unreadable file, a
        // name that cannot be installed): its findings say why, with the fix.
        if (!findings.errors.length) throw err;
        return;
      }
      await engine.hooks.checkPlan.promise(engine.ctx, findings, draft(ev));
    }, preflightError)), false);
  engine.memEvidence.set(0, ev0);
  if (options.dryRun) {
    for (const p of [1, 2, 3, 4, 5] as Phase[]) run.summaries.set(p, { phase: p, name: PHASE_NAMES[p], status: "skipped", duration_ms: null });
    return;
  }
  if (engine.abort.signal.aborted) throw interruption(engine);
  const id = randomUUID();
  run.lock = (await Lock.acquire(engine.layout, id, { takeOver: "none", phase: 1 })).lock;
  reportSwept(engine, sweepProject(engine.layout));
  // The session's first write already holds phase 0: a kill can never leave a session that
  // resume would continue without pre-flight's evidence (the versions the report writes).
  engine.state = engine.store.create({
    options: { ...options } as unknown as Record<string, unknown>,
    // The commit is pre-flight's evidence (phase 0, recorded below); the engine names no plugin's keys.
    source: { path: options.source, commit: null },
    target: { project: engine.layout.projectRoot, install: engine.layout.installDir },
  }, id, (state) => {
    beginPhase(state, 0);
    endPhase(state, 0, "completed", ev0, run.summaries.get(0)!.duration_ms ?? 0);
  });
  engine.memEvidence.delete(0);
}

function reportSwept(engine: Engine, removed: string[]): void {
  if (removed.length) engine.log.info(`Removed ${removed.length} temp file(s) left by an interrupted run: ${removed.map((f) => path.basename(f)).join(", ")}`);
}

/** Takes over the interrupted session: its lock, its completed phases. */
async function reopen(run: Run, state: SessionState): Promise<void> {
  const { engine } = run;
  engine.state = state;
  const took = await Lock.acquire(engine.layout, state.session_id, { takeOver: "same-session", phase: state.current_phase });
  run.lock = took.lock;
  if (took.tookOver) engine.log.warn(`Took over the stale lock of session ${took.tookOver.session_id} (pid ${took.tookOver.pid} is no longer running)`);
  reportSwept(engine, sweepProject(engine.layout));
  state.pid = process.pid;
  run.save();
  for (const p of state.completed_phases as Phase[]) run.summaries.set(p, { phase: p, name: PHASE_NAMES[p], status: "completed", duration_ms: state.phases[String(p)]?.duration_ms ?? null });
  if (state.status === "rolling_back") {
    run.failedPhase = (state.current_phase ?? 2) as Phase;
    throw new UpgradeError("INTERRUPTED", `Cannot resume session ${state.session_id}: it was interrupted while rolling back; finishing the rollback`, {
      hint: "The rollback is being completed",
    });
  }
  engine.log.info(`Resuming session ${state.session_id} at phase ${firstIncomplete(state)}`);
}

async function runPhases(run: Run): Promise<void> {
  const { engine } = run;
  for (const p of [1, 2, 3, 4] as const) {
    if (engine.state!.completed_phases.includes(p)) continue;
    if (engine.abort.signal.aborted) {
      run.failedPhase = p;
      throw interruption(engine);
    }
    await run.phase(p, (ev) => BODIES[p](run, ev));
  }
  // A signal that lands after phase 4's own check (its records, the way to phase 5) still
  // rolls back: phases 2–4 roll back on a signal, only phase 5 finishes (README).
  if (engine.abort.signal.aborted) {
    run.failedPhase = 4;
    throw interruption(engine);
  }
}

/** The outcome of a failed phase: rollback for phases 2–4, else failed/aborted. */
async function settleFailure(run: Run, err: unknown): Promise<Outcome> {
  const { engine, failedPhase } = run;
  const error = toUpgradeError(err);
  // Phase 1 changes nothing but a migration's folder name: a failure there puts the name back.
  if (failedPhase === 1) {
    try {
      if (moveBack(engine, engine.state)) engine.log.info(`Moved the installation back to ${engine.layout.installDir}`);
    } catch (e) {
      run.secondary.push(toUpgradeError(e));
    }
  }
  const outcome: Outcome = engine.state && failedPhase !== undefined && ROLLBACK_PHASES.includes(failedPhase)
    ? await rollbackSession(engine, { reason: error.message, phase: failedPhase, error, manual: false, evidence: {} })
    : { status: error.code === "INTERRUPTED" || error.code === "CONFLICTS_UNRESOLVED" ? "aborted" : "failed", error, phase: failedPhase };
  if (engine.state) {
    if (engine.state.status === "in_progress") engine.state.status = outcome.status;
    engine.state.error ??= error.toJSON();
    run.saveQuietly();
  }
  return outcome;
}

/** Cleanup always runs, with the outcome; on success it is phase 5 with its own gate. */
async function cleanup(run: Run, outcome: Outcome): Promise<Outcome> {
  const { engine } = run;
  if (run.options.dryRun) return outcome; // a dry run has no phase 5: nothing to release, report or prune
  try {
    if (outcome.status !== "completed") {
      await engine.hooks.cleanup.promise(engine.ctx, outcome, draft(new EvidenceBook()));
      return outcome;
    }
    await run.phase(5, async (ev) => {
      await engine.hooks.cleanup.promise(engine.ctx, outcome, draft(ev));
      ev.of("engine").lock_released = run.lock?.release() === true;
    });
    engine.state!.status = "completed";
    engine.state!.current_phase = null;
    run.save();
    return outcome;
  } catch (err) {
    const e = toUpgradeError(err);
    if (outcome.status !== "completed") {
      run.secondary.push(e);
      return outcome;
    }
    if (engine.state) {
      engine.state.status = "failed";
      engine.state.error = e.toJSON();
      run.saveQuietly();
    }
    return { status: "failed", error: e, phase: 5 };
  }
}

function nothingToResume(run: Run, orphan: LockInfo): UpgradeResult {
  run.engine.log.info(`Released the lock of session ${orphan.session_id}: its upgrade (pid ${orphan.pid}) stopped before it recorded a session, so nothing had changed`);
  const result = resultOf(run, { status: "aborted" });
  run.engine.log.emit({ type: "result", result });
  return result;
}

function resultOf(run: Run, outcome: Outcome): UpgradeResult {
  const { engine, options } = run;
  return {
    schema_version: RESULT_SCHEMA_VERSION,
    status: outcome.status,
    exit_code: exitCodeOfOutcome(outcome),
    session_id: engine.state?.session_id ?? null,
    dry_run: options.dryRun,
    phases: PHASES.map((p) => run.summaries.get(p)!),
    findings: engine.findings,
    plan: engine.plan ?? undefined,
    error: outcome.error?.toJSON(),
    secondary_errors: run.secondary.map((e) => e.toJSON()),
    summary: { ...emptySummary(), warnings: [...engine.warnings] },
  };
}

/** The plugins fill their parts of the result (`summarize`); a failing tap is a secondary error, never the run's. */
function summarize(run: Run, outcome: Outcome, result: UpgradeResult): void {
  try {
    run.engine.hooks.summarize.call(run.engine.ctx, outcome, result);
  } catch (err) {
    result.secondary_errors.push(toUpgradeError(err).toJSON());
  }
}

/**
 * The options of a resumed run: the flags that shaped the plan come from the session (the
 * plugins' options and the source); output flags from this command; `resume`'s own flags win.
 */
function resumeOptions(options: RunOptions, state: SessionState, overrides: Record<string, unknown> = {}): RunOptions {
  const saved = state.options as Partial<RunOptions> & Record<string, unknown>;
  // A session saved before options moved to their plugins holds them flat, beside the core's.
  const savedPlugin = saved.plugin ?? splitOptions(saved).given;
  return {
    ...options,
    source: saved.source ?? options.source,
    origin: saved.origin ?? options.origin ?? null,
    // A migration stays one: its folder moves (or moved) whatever command resumes it.
    ...(saved.migrate === true ? { migrate: true } : {}),
    dryRun: false,
    plugin: { ...options.plugin, ...savedPlugin, ...overrides },
  };
}

/** Runs (or resumes) an upgrade. Never throws for a failed upgrade: the result says what happened. */
export async function runLifecycle(req: LifecycleRequest, io: LifecycleIO = {}): Promise<UpgradeResult> {
  let resumeState: SessionState | null = null;
  let orphan: LockInfo | null = null;
  if (req.resume) {
    const layout = resolveLayout(req.options.target);
    const store = new StateStore(layout.stateDir);
    try {
      resumeState = findResumable(store, req.resume.sessionId);
    } catch (err) {
      // Nothing to resume, but maybe debris to clear: a lock whose owner died before its
      // session existed, temp files of a run killed before it took the lock.
      orphan = isUpgradeError(err) && err.code === "NO_SESSION" && !req.resume.sessionId ? await clearOrphanLock(layout, store) : null;
      if (readLock(layout).kind !== "held") sweepProject(layout);
      if (!orphan) throw err;
    }
  }
  const options = resumeState ? resumeOptions(req.options, resumeState, req.resume?.overrides) : req.options;
  // A dry run is proven, not claimed: the install is compared before its first plugin runs and after its last hook.
  const watch = options.dryRun ? new DryRunWatch(resolveLayout(options.target)) : null;
  const engine = await prepareEngine(req.resolved, options, io, watch ?? undefined);
  const run = new Run(engine, options);
  if (orphan) return nothingToResume(run, orphan);
  const unhook = setupSignals(engine, io.handleSignals ?? false);
  let outcome: Outcome = { status: "completed" };
  try {
    if (resumeState) await reopen(run, resumeState);
    else await begin(run);
    if (!options.dryRun) await runPhases(run);
  } catch (err) {
    outcome = await settleFailure(run, err);
  }
  try {
    outcome = await cleanup(run, outcome);
  } finally {
    unhook();
    // A failed rollback keeps the lock: once this process exits the lock is stale, and the
    // next command reports the unfinished session and offers rollback.
    if (run.lock && !outcome.rollbackError) {
      releaseRollbackSpace(engine.layout);
      run.lock.release();
    }
  }
  if (outcome.rollbackError) run.secondary.unshift(outcome.rollbackError);
  const result = resultOf(run, outcome);
  summarize(run, outcome, result);
  try {
    await engine.hooks.done.promise(result);
  } catch (err) {
    result.secondary_errors.push(toUpgradeError(err).toJSON());
  }
  if (watch) proveDryRun(watch, result, engine);
  engine.log.emit({ type: "result", result });
  return result;
}

/**
 * A dry run that changed the install fails (exit 1) with the paths and the plugins that ran
 * then; its own error (a refusal, exit 4) becomes a secondary one: "nothing was written" would be false.
 */
function proveDryRun(watch: DryRunWatch, result: UpgradeResult, engine: Engine): void {
  const wrote = watch.check();
  engine.log.debug(`dry run compared ${watch.paths} paths before and after`, { walks_ms: watch.walksMs });
  if (!wrote) return;
  if (result.error) result.secondary_errors.unshift(result.error);
  result.error = wrote.toJSON();
  result.status = "failed";
  result.exit_code = wrote.exitCode;
}

export function exitCodeOfOutcome(o: Outcome): number {
  if (o.rollbackError) return EXIT.rollbackFailed;
  switch (o.status) {
    case "completed":
      return EXIT.ok;
    case "rolled_back":
      return o.error?.code === "CONFLICTS_UNRESOLVED" ? EXIT.conflicts : EXIT.rolledBack;
    case "aborted":
      return o.error ? o.error.exitCode : EXIT.ok; // aborted with no error: there was nothing to do
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
