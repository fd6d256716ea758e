/**
 * Renderers for log events: human lines (one per phase with status and time, findings with
 * their fix, a final summary) and newline-delimited JSON. The switch is exhaustive, so a new
 * event kind fails to compile until both renderers handle it.
 */
import type { LogEvent } from "../core/log.ts";
import type { UpgradeResult } from "../core/types.ts";

export interface Sink {
  out(line: string): void;
  err(line: string): void;
}

export const processSink: Sink = {
  out: (l) => process.stdout.write(l + "\n"),
  err: (l) => process.stderr.write(l + "\n"),
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

export function humanRenderer(sink: Sink = processSink, opts: { verbose?: boolean; tty?: boolean } = {}): (e: LogEvent) => void {
  let progressShown = false;
  const clearProgress = () => {
    if (progressShown && opts.tty) process.stderr.write("\r\x1b[2K");
    progressShown = false;
  };
  return (e) => {
    if (e.type !== "progress") clearProgress();
    switch (e.type) {
      case "phase-start":
        return;
      case "phase-end":
        sink.out(`${e.status === "completed" ? "✓" : "✗"} phase ${e.phase} ${e.name.padEnd(11)} ${e.status.padEnd(9)} ${ms(e.duration_ms)}`);
        return;
      case "finding":
        sink.out(`  ${e.finding.level === "error" ? "✗" : "!"} ${e.finding.message}`);
        if (e.finding.fix) sink.out(`    fix: ${e.finding.fix}`);
        return;
      case "log":
        if (e.level === "debug" && !opts.verbose) return;
        (e.level === "error" || e.level === "warn" ? sink.err : sink.out)(`  ${e.level === "info" || e.level === "debug" ? "" : `${e.level}: `}${e.message}`);
        return;
      case "progress":
        if (!opts.tty) return;
        progressShown = true;
        process.stderr.write(`\r\x1b[2K  ${e.label} ${e.done}/${e.total}`);
        return;
      case "result":
        renderResult(e.result, sink);
        return;
    }
  };
}

function renderPlan(r: UpgradeResult, sink: Sink): void {
  const plan = r.plan;
  if (!plan) return;
  const counts: Record<string, number> = {};
  for (const entry of plan.entries) counts[entry.action] = (counts[entry.action] ?? 0) + 1;
  sink.out(`Plan (base: ${plan.base.kind}${plan.base.ref ? ` ${plan.base.ref}` : ""}): ${Object.entries(counts).map(([k, v]) => `${v} ${k.replace("_", " ")}`).join(", ") || "nothing to do"}`);
  for (const entry of plan.entries) {
    if (entry.action === "unchanged") continue;
    sink.out(`  ${entry.action.padEnd(10)} ${entry.target}${entry.reason ? `  (${entry.reason})` : ""}`);
  }
  const diffs = plan.diffs as Record<string, string> | undefined;
  if (diffs) for (const d of Object.values(diffs)) sink.out(d.trimEnd());
}

export function renderResult(r: UpgradeResult, sink: Sink = processSink): void {
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
  const total = r.phases.reduce((a, p) => a + (p.duration_ms ?? 0), 0);
  const what = r.dry_run ? "Dry run" : "Upgrade";
  const tail = r.session_id ? ` (session ${r.session_id})` : "";
  switch (r.status) {
    case "completed":
      sink.out(`${what} ${r.dry_run ? "finished, nothing was written" : "completed"} in ${ms(total)}${tail}`);
      break;
    case "rolled_back":
      sink.out(`${what} failed and was rolled back; the installation is as it was${tail}`);
      break;
    case "aborted":
      sink.out(`${what} stopped before changing anything${tail}`);
      break;
    case "failed":
      sink.out(`${what} failed${tail}`);
      break;
  }
  if (!r.dry_run) for (const line of summaryLines(r)) sink.out(line);
}

function abortedByUser(r: UpgradeResult): boolean {
  return r.status === "aborted" && (r.error?.details as { aborted_by_user?: boolean } | undefined)?.aborted_by_user === true;
}

const COUNT_LABELS: Record<string, string> = { kept_local: "kept local" };

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
