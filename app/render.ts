/**
 * Renderers for log events: human lines (one per phase with status and time, findings with
 * their fix, a final summary) and newline-delimited JSON. The switch is exhaustive, so a new
 * event kind fails to compile until both renderers handle it.
 */
import type { LogEvent } from "../core/log.ts";
import { host } from "../core/runtime.ts";
import type { UpgradeResult } from "../core/types.ts";

export interface Sink {
  out(line: string): void;
  err(line: string): void;
}

export const processSink: Sink = {
  out: (l) => host.out(l + "\n"),
  err: (l) => host.err(l + "\n"),
};

export const EVENT_SCHEMA_VERSION = 1;

export function jsonRenderer(sink: Sink = processSink): (e: LogEvent) => void {
  return (e) => {
    if (e.type === "progress") return; // progress is for people; scripts get the phase events
    if (e.type === "log" && e.level === "debug") return;
    sink.out(JSON.stringify(e.type === "result" ? { type: "result", ...e.result } : { v: EVENT_SCHEMA_VERSION, ...e }));
  };
}

const ms = (n: number | null) => (n === null ? "" : n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(1)} s`);

/** Where the progress line goes: replaced in place on a terminal (app/progress.ts), plain lines elsewhere. */
export interface ProgressView {
  /** Shows `line` as the current progress. */
  update(line: string): void;
  /** Removes the progress line before other output. */
  clear(): void;
}

/** Off a terminal: each update is a plain line of its own (the renderer sends at most one a second). */
export const plainProgress = (sink: Sink): ProgressView => ({ update: (line) => sink.err(line), clear: () => {} });

export interface HumanOptions {
  /** Show debug lines (each step, with its time since the start of the run). */
  verbose?: boolean;
  /** On a terminal: progress replaces itself and updates often; off one it is plain lines. */
  tty?: boolean;
  /** Default: plain lines on the sink's err. */
  progress?: ProgressView;
  /** Milliseconds clock (tests). */
  now?: () => number;
  /**
   * The clock time the summary's "completed in" counts from. The CLI passes 0: `performance.now()`
   * counts from the process's start on Node and Deno, so the line is the wall time a person
   * waited, start-up included. Without it (library, demo: several runs in one process), the
   * line is the sum of the phases.
   */
  startedAt?: number;
}

/** A step shows progress only once it has run this long: a short step stays quiet. */
export const PROGRESS_AFTER_MS = 1000;

export function humanRenderer(sink: Sink = processSink, opts: HumanOptions = {}): (e: LogEvent) => void {
  const now = opts.now ?? (() => performance.now());
  const view = opts.progress ?? plainProgress(sink);
  const t0 = now();
  let stepStart = t0;
  let lastShown = -Infinity;
  let shown = false;
  const clearProgress = () => {
    if (shown) view.clear();
    shown = false;
  };
  const showProgress = (e: Extract<LogEvent, { type: "progress" }>) => {
    const t = now();
    const finished = e.done >= e.total;
    if (t - stepStart < PROGRESS_AFTER_MS) return;
    if (!finished && t - lastShown < (opts.tty ? 100 : 1000)) return;
    lastShown = t;
    shown = true;
    view.update(`  ${e.label} ${e.done}/${e.total}${e.total > 0 ? ` (${Math.floor((100 * e.done) / e.total)}%)` : ""}`);
  };
  return (e) => {
    if (e.type !== "progress") clearProgress();
    switch (e.type) {
      case "phase-start":
        stepStart = now();
        if (opts.verbose) sink.out(`  ${elapsed(stepStart - t0)} phase ${e.phase} ${e.name} started`);
        return;
      case "phase-end":
        stepStart = now();
        if (e.status === "skipped" || e.status === "aborted") sink.out(`– phase ${e.phase} ${e.name.padEnd(11)} ${e.status} (${e.reason ?? "not run"})`);
        else sink.out(`${e.status === "completed" ? "✓" : "✗"} phase ${e.phase} ${e.name.padEnd(11)} ${e.status.padEnd(9)} ${ms(e.duration_ms)}`);
        return;
      case "finding":
        sink.out(`  ${e.finding.level === "error" ? "✗" : "!"} ${e.finding.message}`);
        if (e.finding.fix) sink.out(`    fix: ${e.finding.fix}`);
        return;
      case "log":
        if (e.level === "debug") {
          if (opts.verbose) sink.out(`  ${elapsed(now() - t0)} ${e.message}${dataText(e.data)}`);
          return;
        }
        (e.level === "error" || e.level === "warn" ? sink.err : sink.out)(`  ${e.level === "info" ? "" : `${e.level}: `}${e.message}`);
        return;
      case "progress":
        // total 0 is a status line (e.g. pip's output): one updating line on a terminal, plain lines elsewhere.
        if (e.total === 0) {
          if (opts.tty) {
            shown = true;
            view.update(`  ${e.label}`);
          } else sink.out(`  ${e.label}`);
          return;
        }
        showProgress(e);
        return;
      case "result":
        renderResult(e.result, sink, opts.startedAt === undefined ? undefined : Math.round(now() - opts.startedAt));
        return;
    }
  };
}

/** `+1.234s`: the time since the run began, fixed width so the messages line up. */
const elapsed = (t: number) => `+${(t / 1000).toFixed(3).padStart(7)}s`;

function dataText(data: Record<string, unknown> | undefined): string {
  if (!data) return "";
  const parts = Object.entries(data).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  const text = parts.join(" ");
  return parts.length ? ` (${text.length > 300 ? text.slice(0, 299) + "…" : text})` : "";
}

const ACTION_LABELS: Record<string, string> = { merge: "merged", keep_local: "kept local", not_checked: "not checked", conflict: "conflict" };

/** The dry run's plan: every phase's part (content, .gitignore, the server swap, requirements, launch entries), then the diffs. */
function renderPlan(r: UpgradeResult, sink: Sink): void {
  const plan = r.plan;
  if (!plan) return;
  if (r.layout) sink.out(`Layout: source ${r.layout.source ?? "unknown"}, installation ${r.layout.install ?? "unknown"}`);
  if (r.layout?.move) sink.out(`Migration: ${r.layout.move.from} → ${r.layout.move.to} (one rename, first in phase 1; a rollback renames it back), then the changes below`);
  const counts: Record<string, number> = {};
  for (const entry of plan.entries) counts[entry.action] = (counts[entry.action] ?? 0) + 1;
  const label = (a: string, n: number) => `${n} ${a === "conflict" ? `conflict${n === 1 ? "" : "s"}` : ACTION_LABELS[a] ?? a.replace("_", " ")}`;
  // Several commits can match an installation equally (content/infer.ts): the range is the base.
  const range = (plan.base as { range?: { from: string; to: string; commits: number } }).range;
  const ref = range ? ` ${range.from}..${range.to} (${range.commits} commits match equally)` : plan.base.ref ? ` ${plan.base.ref}` : "";
  sink.out(`Plan (base: ${plan.base.kind}${ref}): ${Object.entries(counts).map(([k, v]) => label(k, v)).join(", ") || "nothing to do"}`);
  for (const entry of plan.entries) {
    if (entry.action === "unchanged" || entry.action === "not_checked") continue;
    sink.out(`  ${(ACTION_LABELS[entry.action] ?? entry.action).padEnd(10)} ${entry.target}${entry.reason ? `  (${entry.reason})` : ""}`);
  }
  for (const line of otherPhasesLines(plan)) sink.out(line);
  const diffs = plan.diffs as Record<string, string> | undefined;
  if (diffs) for (const d of Object.values(diffs)) sink.out(d.trimEnd());
}

/** What the plan says of the phases after the content: .gitignore, the server swap, the requirements, the launch entries. */
export function otherPhasesLines(plan: Record<string, unknown>): string[] {
  const lines: string[] = [];
  const gi = plan.gitignore as { file: string; add: string[]; rename?: { lines: string[] } } | undefined;
  if (gi?.rename) lines.push(`  .gitignore ${gi.file}: ${gi.rename.lines.length} line${gi.rename.lines.length === 1 ? "" : "s"} renamed in place (${gi.rename.lines.join(", ")})`);
  if (gi?.add.length) lines.push(`  .gitignore ${gi.file}: +${gi.add.length} line${gi.add.length === 1 ? "" : "s"} (${gi.add.join(", ")})`);
  const swap = plan.server_swap as { added: string[]; removed: string[]; changed: string[] } | undefined;
  if (swap) {
    const n = swap.added.length + swap.removed.length + swap.changed.length;
    lines.push(`Server swap: ${n ? `${swap.changed.length} changed, ${swap.added.length} added, ${swap.removed.length} removed` : "the server code is unchanged"}`);
    for (const [what, list] of [["changed", swap.changed], ["added", swap.added], ["removed", swap.removed]] as const) for (const f of list) lines.push(`  ${what.padEnd(10)} ${f}`);
  }
  const req = plan.requirements as { file: string; install_needed: boolean; diff: string } | undefined;
  if (req) {
    lines.push(`Requirements (${req.file}): ${req.diff ? (req.install_needed ? "changed: pip installs them into the venv in phase 3" : "changed (--skip-deps: not installed)") : "unchanged"}`);
    if (req.diff) lines.push(...req.diff.trimEnd().split("\n").filter((l) => /^[+-](?![+-])/.test(l)).map((l) => `  ${l}`));
  }
  const launch = plan.launch_migrations as Array<{ file: string; agent?: string; server?: string; status: string; reason?: string; before?: string[]; after?: string[]; changes?: string[] }> | undefined;
  for (const m of launch ?? []) {
    const what = m.status === "applied" ? `args ${JSON.stringify(m.before)} → ${JSON.stringify(m.after)}` : m.status === "reported" ? `needs ${JSON.stringify(m.after)} (reported, not written)` : m.reason ?? m.status;
    lines.push(`Launch entry ${m.file}${m.agent ? ` (${m.agent})` : ""}${m.server ? ` "${m.server}"` : ""}: ${m.status === "applied" ? "migrated: " : ""}${what}`);
    for (const c of m.changes ?? []) lines.push(`  ${c}`);
  }
  const mentions = plan.mentions as Array<{ file: string; lines: number; decision: string | null; by: string | null; diff?: string }> | undefined;
  for (const m of mentions ?? []) {
    lines.push(`Names the old installation: ${m.file} (${m.lines} line${m.lines === 1 ? "" : "s"}): ${m.decision ? `${m.decision} (${m.by})` : "needs a decision: theirs (rewrite) or keep"}`);
    if (m.diff) lines.push(...m.diff.trimEnd().split("\n").filter((l) => /^[+-](?![+-])/.test(l)).map((l) => `  ${l}`));
  }
  return lines;
}

/** The run's result as a person reads it; `wallMs`, when given, is the time the headline shows (else the phases' sum). */
export function renderResult(r: UpgradeResult, sink: Sink = processSink, wallMs?: number): void {
  if (r.dry_run) renderPlan(r, sink);
  if (abortedByUser(r)) {
    // The person chose it: no error, no hint, one line.
    sink.out(String(r.error!.message));
    return;
  }
  if (r.error) {
    const e = r.error as { code?: string; message?: string; hint?: string };
    sink.err(`Error [${e.code}]: ${e.message}`);
    if (e.hint) sink.err(`  hint: ${e.hint}`);
  }
  for (const s of r.secondary_errors) {
    const e = s as { code?: string; message?: string; hint?: string };
    sink.err(`Also [${e.code}]: ${e.message}`);
    if (e.hint) sink.err(`  hint: ${e.hint}`);
  }
  const total = wallMs ?? r.phases.reduce((a, p) => a + (p.duration_ms ?? 0), 0);
  const what = r.dry_run ? "Dry run" : "Upgrade";
  const tail = r.session_id ? ` (session ${r.session_id})` : "";
  switch (r.status) {
    case "completed":
      sink.out(`${what} ${r.dry_run ? "finished, nothing was written" : "completed"} in ${ms(total)}${tail}`);
      if (r.validation === "skipped") sink.out("The upgraded MCP server was not validated (--no-validate): check it before relying on it");
      break;
    case "rolled_back":
      sink.out(`${what} failed and was rolled back; the installation is as it was${tail}`);
      break;
    case "aborted":
      sink.out(`${what} stopped before changing anything${tail}`);
      break;
    case "failed":
      // Refused before any session (pre-flight, a lock, undecided conflicts): the same words as a stop.
      sink.out(r.session_id === null && r.exit_code >= 4 && r.exit_code <= 6 ? `${what} refused: nothing was changed`
        : dryRunWrote(r) ? "Dry run failed: it changed the paths listed above" : `${what} failed${tail}`);
      break;
  }
  if (!r.dry_run) for (const line of summaryLines(r)) sink.out(line);
}

/** The engine found the install changed after a dry run (core/dry-watch.ts). */
function dryRunWrote(r: UpgradeResult): boolean {
  return r.dry_run && r.error?.code === "DRY_RUN_WRITE" && Array.isArray((r.error.details as { changed?: unknown } | undefined)?.changed);
}

function abortedByUser(r: UpgradeResult): boolean {
  return r.status === "aborted" && (r.error?.details as { aborted_by_user?: boolean } | undefined)?.aborted_by_user === true;
}

const COUNT_LABELS: Record<string, string> = { kept_local: "kept local", not_checked: "not checked (kept as they are)" };

/** The lines a person acts on after a run: what changed, what was decided, what to finish, where to look, how to undo. */
export function summaryLines(r: UpgradeResult): string[] {
  const s = r.summary;
  if (!s) return [];
  const lines: string[] = [];
  const counts = Object.entries(s.counts).filter(([, n]) => n > 0);
  if (counts.length) lines.push(`  Files: ${counts.map(([k, n]) => `${n} ${COUNT_LABELS[k] ?? k}`).join(", ")}`);
  if (s.decisions.length) {
    lines.push(`  Conflict decisions (${s.decisions.length}):`);
    for (const d of s.decisions) lines.push(`    ${d.target}: ${d.decision} (${d.by}), ${d.result}`);
  }
  if (s.needs_attention.length) {
    lines.push(`  To finish by hand (${s.needs_attention.length}):`);
    for (const a of s.needs_attention) lines.push(`    ${a.path}: ${a.why}; ${a.how}`);
  }
  if (s.warnings.length) {
    lines.push(`  Warnings (${s.warnings.length}):`);
    for (const w of s.warnings) lines.push(`    ${w}`);
  }
  if (r.report_path) lines.push(`  Report: ${r.report_path}`);
  if (s.validation_report) lines.push(`  Validation report: ${s.validation_report}`);
  if (s.backup_id) lines.push(`  Backup: ${s.backup_id}; ${backupHint(r.status, s.backup_id)}`);
  return lines;
}

function backupHint(status: UpgradeResult["status"], id: string): string {
  if (status === "rolled_back") return "restored, the installation is as it was before";
  if (status === "completed") return `to undo this upgrade: agent-os-upgrade rollback (or agent-os-upgrade rollback --to ${id})`;
  return `to restore it: agent-os-upgrade rollback --to ${id}`;
}
