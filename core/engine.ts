/**
 * The engine of one command: hooks with the plugins applied, the layout, a logger, the
 * context, the session store, and the run's content plan once it is built. Every command
 * (upgrade, resume, rollback) starts here.
 */
import { createContext } from "./context.ts";
import { toUpgradeError, UpgradeError } from "./errors.ts";
import { checkGate, gateParts, type PhaseEvidence } from "./evidence.ts";
import { createHooks, type Hooks } from "./hooks.ts";
import { type Layout, resolveLayout } from "./layout.ts";
import { planRelocation } from "./relocate.ts";
import { createLogger, type LogEvent, type Logger } from "./log.ts";
import { type Phase, PHASE_NAMES } from "./phases.ts";
import { applyPlugins, type Plugin, type TapRecorder } from "./plugin.ts";
import type { ResolvedConfig } from "./config.ts";
import { type SessionState, StateStore } from "./state.ts";
import { type ContentPlan, type Finding, Findings, type RunOptions, type SessionHandle, type UpgradeContext } from "./types.ts";

export interface LifecycleIO {
  /** Receives every event (the CLI renders them). */
  onEvent?: (event: LogEvent) => void;
  /** Install SIGINT/SIGTERM handlers for the run (the CLI does; a library caller may not want it). */
  handleSignals?: boolean;
  /** Asks the person at the terminal a yes/no question; absent off a terminal (nothing prompts there). */
  confirm?: (question: string) => Promise<boolean>;
}

export interface Engine {
  hooks: Hooks;
  plugins: readonly Plugin[];
  layout: Layout;
  log: Logger;
  ctx: UpgradeContext;
  abort: AbortController;
  store: StateStore;
  /** The session, once there is one. */
  state: SessionState | null;
  /** Every warning of the run (log lines and findings), for the summary. */
  warnings: string[];
  /** Evidence of this run's phases that has no session yet (phase 0). */
  memEvidence: Map<Phase, PhaseEvidence>;
  /** The phase running now and its evidence so far: a later hook of the phase (checkPlan after preflight) reads what earlier ones recorded. */
  running: { phase: Phase; records: PhaseEvidence } | null;
  /** The content plan, built once per run by `planContent`. */
  plan: ContentPlan | null;
  findings: Finding[];
}

const emptyPlan = (): ContentPlan => ({ base: { kind: "none" }, entries: [] });

function sessionHandle(engine: Engine): () => SessionHandle | null {
  let handle: SessionHandle | null = null;
  return () => {
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
        engine.store.save(engine.state!);
      },
      hasStep: (step) => engine.state!.journal.some((j) => j.step === step),
    };
    return handle;
  };
}

/** `recorder`, when given, is told when each tap runs (a dry run's watch). */
export async function prepareEngine(resolved: ResolvedConfig, options: RunOptions, io: LifecycleIO, recorder?: TapRecorder): Promise<Engine> {
  const hooks = createHooks();
  applyPlugins(hooks, resolved.plugins, recorder);
  const layout = resolveLayout(options.target);
  if (options.migrate) planRelocation(layout);
  const findings: Finding[] = [];
  const warnings: string[] = [];
  const emit = (event: LogEvent) => {
    if (event.type === "finding") findings.push(event.finding);
    if ((event.type === "log" && event.level === "warn") || (event.type === "finding" && event.finding.level === "warning")) {
      warnings.push(event.type === "log" ? event.message : event.finding.message);
    }
    io.onEvent?.(event);
    hooks.log.call(event);
  };
  const engine: Engine = {
    hooks,
    plugins: resolved.plugins,
    layout,
    log: createLogger(emit),
    abort: new AbortController(),
    store: new StateStore(layout.stateDir),
    state: null,
    memEvidence: new Map(),
    running: null,
    plan: null,
    findings,
    warnings,
    ctx: undefined as unknown as UpgradeContext,
  };
  engine.ctx = createContext({
    layout,
    options,
    log: engine.log,
    signal: engine.abort.signal,
    session: sessionHandle(engine),
    evidence: (p) => (engine.running?.phase === p ? engine.running.records : undefined) ?? engine.memEvidence.get(p) ??
      (engine.state?.completed_phases.includes(p) ? engine.state.phases[String(p)]?.evidence as PhaseEvidence | undefined : undefined),
    plan: () => engine.plan,
  });
  for (const p of resolved.disabled ?? []) if (p.whenDisabled) engine.log.warn(`The "${p.name}" plugin is disabled: ${p.whenDisabled}`);
  await hooks.config.promise(resolved);
  await hooks.start.promise(engine.ctx);
  return engine;
}

/** Builds the run's content plan (once); its problems are added to `findings`. */
export async function planOnce(engine: Engine, findings: Findings): Promise<ContentPlan> {
  if (engine.plan) return engine.plan;
  const t0 = performance.now();
  engine.plan = await engine.hooks.planContent.promise(emptyPlan(), engine.ctx, findings);
  engine.log.debug("content planned", { ms: Math.round(performance.now() - t0), entries: engine.plan.entries.length });
  return engine.plan;
}

/** Throws GATE_FAILED unless the phase's evidence passes the engine's and every present plugin's schema. */
export function enforceGate(engine: Engine, p: Phase, evidence: PhaseEvidence): void {
  const gate = checkGate(gateParts(p, engine.plugins), evidence);
  if (gate.ok) return;
  throw new UpgradeError("GATE_FAILED", `Cannot complete phase ${p} (${PHASE_NAMES[p]}): its evidence does not show success: ${gate.problems.join("; ")}`, {
    hint: "A plugin did not do its part; the log above says which step failed",
    details: { phase: p, problems: gate.problems },
  });
}

/**
 * SIGINT, SIGTERM and SIGHUP (a closed terminal) abort the run: phases 2–4 roll back, phase 5
 * finishes its cleanup. A second signal exits at once, saying what the next command will do.
 */
export function setupSignals(engine: Engine, enabled: boolean): () => void {
  if (!enabled) return () => {};
  let count = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      const phase = engine.state?.current_phase ?? null;
      const then = !engine.state ? "" : phase === 5 ? " (the upgrade is done: finishing its cleanup)" : " and rolling back if needed";
      engine.log.warn(`Received ${sig}: stopping after the current step${then}`);
      engine.abort.abort(new UpgradeError("INTERRUPTED", `Cannot continue: interrupted by ${sig}`, {
        hint: "Run the upgrade again when ready",
      }));
      return;
    }
    // A second signal: leave now. The lock stays (its owner will be dead), so the next
    // command reports the interrupted session and offers resume or rollback.
    engine.log.error(`Received ${sig} again: exiting now. ${nextStep(engine)}`);
    process.exit(130);
  };
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const sig of signals) process.on(sig, onSignal);
  return () => {
    for (const sig of signals) process.off(sig, onSignal);
  };
}

/** What `resume` and `rollback` will do with the session this process leaves behind. */
function nextStep(engine: Engine): string {
  const st = engine.state;
  if (!st) return "Nothing was changed; the next command releases the lock";
  const id = st.session_id;
  if (st.status === "rolling_back") return `\`agent-os-upgrade resume\` or \`rollback\` will finish the rollback of session ${id}`;
  if (!st.phases["2"]) return `Nothing was changed yet: \`agent-os-upgrade rollback\` releases the lock of session ${id}, \`resume\` continues it`;
  return `\`agent-os-upgrade rollback\` restores the backup of session ${id}; \`resume\` continues it from phase ${st.current_phase ?? "?"}`;
}

export function interruption(engine: Engine): UpgradeError {
  const r = engine.abort.signal.reason;
  return r instanceof Error ? toUpgradeError(r, "INTERRUPTED") : new UpgradeError("INTERRUPTED", "Cannot continue: interrupted");
}
