/**
 * The lifecycle, in one place. The tapable class of each hook says what a tap's return
 * value means: Series taps run one after another and return nothing; Parallel taps run
 * together and report through a Findings collector; Waterfall taps return the value the
 * next tap receives; Sync hooks are for reporting and must not block.
 */
import { AsyncParallelHook, AsyncSeriesHook, AsyncSeriesWaterfallHook, SyncHook } from "tapable";
import type { EvidenceDraft } from "./evidence.ts";
import type { LogEvent } from "./log.ts";
import type { Phase } from "./phases.ts";
import type { ResolvedConfig } from "./config.ts";
import type {
  ContentPlan,
  Findings,
  Outcome,
  RollbackPreview,
  RollbackRequest,
  UpgradeContext,
  UpgradeResult,
} from "./types.ts";

export function createHooks() {
  return Object.freeze({
    /** Waterfall, first: each tap may return a changed config. Then `start`. */
    config: new AsyncSeriesWaterfallHook<[ResolvedConfig]>(["config"]),
    /** Series: the run begins (context ready, nothing written). Then `preflight`. */
    start: new AsyncSeriesHook<[UpgradeContext]>(["ctx"]),
    /** Parallel, phase 0: checks add findings and evidence; writes nothing. Then `planContent`. */
    preflight: new AsyncParallelHook<[UpgradeContext, Findings, EvidenceDraft<0>]>(["ctx", "findings", "evidence"]),
    /**
     * Waterfall, once per run: phase 0 after the checks (also for a dry run), or first thing on
     * resume. Each tap returns the plan (extend it: `{ ...plan, … }`); problems go to findings.
     * The engine keeps the result (`ctx.plan`) for every later step. Then `checkPlan`.
     */
    planContent: new AsyncSeriesWaterfallHook<[ContentPlan, UpgradeContext, Findings]>(["plan", "ctx", "findings"]),
    /** Parallel, phase 0 once the plan is built (`ctx.plan`): checks that need it, e.g. the disk space; writes nothing. Then `backup`. */
    checkPlan: new AsyncParallelHook<[UpgradeContext, Findings, EvidenceDraft<0>]>(["ctx", "findings", "evidence"]),
    /** Series, phase 1: the lock is held; back up everything the upgrade may change. Then `applyContent`. */
    backup: new AsyncSeriesHook<[UpgradeContext, EvidenceDraft<1>]>(["ctx", "evidence"]),
    /** Series, phase 2: execute the plan built by `planContent`. Then `upgradeServer`. */
    applyContent: new AsyncSeriesHook<[ContentPlan, UpgradeContext, EvidenceDraft<2>]>(["plan", "ctx", "evidence"]),
    /** Series, phase 3: server code, Python deps, restart. Then `migrate`. */
    upgradeServer: new AsyncSeriesHook<[UpgradeContext, EvidenceDraft<3>]>(["ctx", "evidence"]),
    /** Series, phase 3 after `upgradeServer`: adapt project files to the new server. Then `restartServer`. */
    migrate: new AsyncSeriesHook<[UpgradeContext, EvidenceDraft<3>]>(["ctx", "evidence"]),
    /** Series, phase 3 last: restart the server (or ask the IDE to reload it) with the migrated launch. Then `validate`. */
    restartServer: new AsyncSeriesHook<[UpgradeContext, EvidenceDraft<3>]>(["ctx", "evidence"]),
    /** Parallel, phase 4: checks add findings and evidence. Then `cleanup`. */
    validate: new AsyncParallelHook<[UpgradeContext, Findings, EvidenceDraft<4>]>(["ctx", "findings", "evidence"]),
    /** Waterfall, manual rollback only, before `rollback`: taps name the backup and the files changed since the upgrade it undoes. */
    planRollback: new AsyncSeriesWaterfallHook<[RollbackPreview, UpgradeContext, RollbackRequest]>(["preview", "ctx", "request"]),
    /** Series, only when phase 2–4 failed or was interrupted (or by hand): restore the backup. Then `cleanup`. */
    rollback: new AsyncSeriesHook<[UpgradeContext, RollbackRequest]>(["ctx", "request"]),
    /** Series, phase 5 and always last: receives the outcome; prune, report, log. Then `done`. */
    cleanup: new AsyncSeriesHook<[UpgradeContext, Outcome, EvidenceDraft<5>]>(["ctx", "outcome", "evidence"]),
    /**
     * Sync, after cleanup (lock released), before `done`: each plugin fills its part of the
     * result and its summary (the backup's id, the report's path, the validation word, the
     * content's counts); the engine gives the shape and the warnings, and names no plugin's keys.
     */
    summarize: new SyncHook<[UpgradeContext, Outcome, UpgradeResult]>(["ctx", "outcome", "result"]),
    /** Series, after everything (lock released): the final result. */
    done: new AsyncSeriesHook<[UpgradeResult]>(["result"]),
    /** Sync, reporting: a phase begins. */
    phaseStart: new SyncHook<[Phase]>(["phase"]),
    /** Sync, reporting: a phase ended (status and duration). */
    phaseEnd: new SyncHook<[Phase, { status: "completed" | "failed"; duration_ms: number }]>(["phase", "info"]),
    /** Sync, reporting: every log event of the run. */
    log: new SyncHook<[LogEvent]>(["event"]),
  });
}

export type Hooks = ReturnType<typeof createHooks>;
export type HookName = keyof Hooks;
