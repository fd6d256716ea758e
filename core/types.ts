/** Shared types of the lifecycle: context, findings, plan, outcome, result. */
import type fsExtra from "fs-extra";
import type { Shell } from "zx";
import type { UpgradeError } from "./errors.ts";
import type { Channels } from "./channel.ts";
import type { Layout } from "./layout.ts";
import type { Logger } from "./log.ts";
import type { RunOptions } from "./options.ts";
import type { Phase } from "./phases.ts";
import type { SessionState } from "./state.ts";

export type ConflictPolicy = "ask" | "keep" | "theirs" | "merge" | "skip" | "abort";
export const CONFLICT_POLICIES = ["ask", "keep", "theirs", "merge", "skip", "abort"] as const;

export type { CoreOptions, RunOptions } from "./options.ts";

export type FsApi = typeof fsExtra;

/** A session as plugins see it: its id, its state, and a journal for resumable steps. */
export interface SessionHandle {
  readonly id: string;
  readonly state: Readonly<SessionState>;
  /** Appends a step to the journal and saves the state durably before returning. */
  journal(step: string, data?: Record<string, unknown>): Promise<void>;
  /** True when this step was journalled by an earlier (interrupted) run of the session. */
  hasStep(step: string): boolean;
}

export interface UpgradeContext {
  readonly layout: Layout;
  readonly options: RunOptions;
  readonly dryRun: boolean;
  /** zx `$` with cwd set to the project root, quiet, and aborted on interruption; in a dry run it runs only read-only commands (core/dry-shell.ts) and refuses others with DRY_RUN_WRITE. */
  readonly $: Shell;
  /** fs-extra; in a dry run every writing method throws DRY_RUN_WRITE. */
  readonly fs: FsApi;
  readonly log: Logger;
  /** Aborted on SIGINT/SIGTERM: long steps check it between units of work. */
  readonly signal: AbortSignal;
  /** The running session; null in a dry run and during pre-flight (which writes nothing). */
  readonly session: SessionHandle | null;
  /** One plugin's evidence of a phase of this run: a completed one, or the running one so far; read another's through its owner's reader. */
  evidence(phase: Phase, plugin: string): Readonly<Record<string, unknown>> | undefined;
  /** The content plan of this run, once `planContent` has built it (in pre-flight, or on resume). */
  readonly plan: ContentPlan | null;
  /** Typed values plugins hand each other within this run (see core/channel.ts). */
  readonly channels: Channels;
}

export interface Finding {
  level: "error" | "warning";
  /** A stable code, e.g. SOURCE_DIRTY, for scripts and the JSON output. */
  code: string;
  message: string;
  /** How to fix it, in one sentence a user can act on. */
  fix?: string;
  plugin?: string;
}

/** Collects findings from parallel taps (pre-flight, validation) so that all are reported at once. */
export class Findings {
  readonly items: Finding[];
  readonly #plugin?: string;

  constructor(items: Finding[] = [], plugin?: string) {
    this.items = items;
    this.#plugin = plugin;
  }

  /** The same collector, with findings attributed to one plugin. */
  scoped(plugin: string): Findings {
    return new Findings(this.items, plugin);
  }

  error(code: string, message: string, fix?: string): void {
    this.items.push({ level: "error", code, message, fix, plugin: this.#plugin });
  }

  warn(code: string, message: string, fix?: string): void {
    this.items.push({ level: "warning", code, message, fix, plugin: this.#plugin });
  }

  get errors(): Finding[] {
    return this.items.filter((f) => f.level === "error");
  }

  get warnings(): Finding[] {
    return this.items.filter((f) => f.level === "warning");
  }
}

/** `merge`: changed locally and upstream, and the three-way merge is clean (written, as git would). */
/**
 * `not_checked`: upstream did not change the file since the installed commit and no record of
 * ours says what the local copy holds, so it is kept as it is without being read (a first
 * upgrade; its local hash is unknown, `hashes.local` null).
 */
export type PlanAction = "new" | "update" | "unchanged" | "keep_local" | "not_checked" | "merge" | "conflict" | "delete" | "keep" | "error";
export type Owner = "system" | "shared" | "user";

export interface PlanEntry {
  /** Path relative to the installation folder, with `/` separators. */
  target: string;
  /** Path relative to the source root, when the source has this file. */
  source?: string;
  owner: Owner;
  action: PlanAction;
  hashes: { base: string | null; local: string | null; new: string | null };
  reason?: string;
  /** For conflicts: the decision taken (or to be asked). */
  decision?: Exclude<ConflictPolicy, "ask">;
}

/** The content plan: built by `planContent` taps, rendered by a dry run, executed by `applyContent`. */
export interface ContentPlan {
  base: { kind: "manifest" | "git" | "none"; ref?: string };
  entries: PlanEntry[];
  [extra: string]: unknown;
}

export interface RollbackRequest {
  reason: string;
  /** The phase that failed, or null for a manual rollback. */
  phase: Phase | null;
  error?: UpgradeError;
  /** `rollback --to <backup>`; else the session's own backup. */
  backupId?: string;
  manual: boolean;
  /** Keep the current state as a backup ("before rollback") before restoring, so the rollback can be undone. */
  keepCurrent?: boolean;
  /** Filled by the rollback taps; recorded in the session state. */
  evidence: Record<string, unknown>;
}

/** What a manual rollback would do, as the rollback taps see it before anything is restored. */
export interface RollbackPreview {
  /** The backup that would be restored. */
  backup_id: string | null;
  /** Files that changed since the upgrade being undone: restoring would discard these changes. */
  changed: string[];
  /** Why what changed since is unknown (e.g. a finished upgrade's record of what it left is lost), one reason each: unknown counts as changed. */
  unknown?: string[];
}

export type OutcomeStatus = "completed" | "rolled_back" | "failed" | "aborted";

export interface Outcome {
  status: OutcomeStatus;
  error?: UpgradeError;
  /** Set when a rollback was attempted and failed; never replaces `error`. */
  rollbackError?: UpgradeError;
  /** The phase that failed, if any. */
  phase?: Phase;
}

export interface PhaseSummary {
  phase: Phase;
  name: string;
  status: "completed" | "failed" | "skipped" | "aborted" | "pending";
  duration_ms: number | null;
  /** The plugins that tapped the phase's hooks; none: the phase is "skipped (no plugin)". */
  plugins?: string[];
}

export const RESULT_SCHEMA_VERSION = 1;

/** A file a person must finish by hand after the run, and how. */
export interface AttentionItem {
  /** Relative to the project root, e.g. `.agent-os/workflows/x.md`. */
  path: string;
  /** What happened to it, e.g. "merged with 1 conflict marked". */
  why: string;
  /** What to do, e.g. "edit it, remove the <<<<<<< markers". */
  how: string;
}

/**
 * What a person needs at the end of a run, filled by plugins in their `done` taps (the
 * engine only provides the empty shape): the report plugin summarises the evidence.
 */
export interface RunSummary {
  /** Files by class (new, updated, unchanged, kept_local, conflicts, deleted, errors). */
  counts: Record<string, number>;
  decisions: { target: string; decision: string; by: string; result: string }[];
  needs_attention: AttentionItem[];
  warnings: string[];
  validation_report: string | null;
  /** The backup of this run (`rollback --to <id>`), or null when none was made. */
  backup_id: string | null;
}

export const emptySummary = (): RunSummary => ({ counts: {}, decisions: [], needs_attention: [], warnings: [], validation_report: null, backup_id: null });

export interface UpgradeResult {
  schema_version: typeof RESULT_SCHEMA_VERSION;
  status: OutcomeStatus;
  exit_code: number;
  session_id: string | null;
  dry_run: boolean;
  phases: PhaseSummary[];
  findings: Finding[];
  plan?: ContentPlan;
  error?: Record<string, unknown>;
  /** Rollback and cleanup errors, kept apart from the first error. */
  secondary_errors: Record<string, unknown>[];
  backup_path?: string;
  report_path?: string;
  /** What to act on: counts, decisions, files to finish by hand, warnings, reports, backup. */
  summary: RunSummary;
  /** What phase 4's evidence says of the server's validation ("passed", "failed", "skipped"), when a plugin says it. */
  validation?: string;
  /** The layouts a plugin detected (ids such as "agent-os-enhanced"), when one says. */
  layout?: { source: string | null; install: string | null; move?: { from: string; to: string } };
}
