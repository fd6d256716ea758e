/**
 * Phase 5 report (SPEC §5.6): the summary markdown, one UPDATE_LOG.txt entry, a section in
 * INSTALLATION_SUMMARY.md and the new VERSION.txt. Appends are journalled so that a phase 5
 * re-run after a crash does not append twice. A failed or rolled-back run only writes its
 * summary under .cache/ — the restored files stay byte-identical to the backup.
 *
 * The factory parses the options and taps the hooks; each tap calls a function of this
 * module. What a run gathers (its warnings, the summary to refresh once the run is done)
 * lives in a `ReportRun` made for each run's hooks and reset when the run starts: the engine
 * makes new hooks for every run, so one plugin object may serve several.
 */
import { activeLayout } from "./layouts/detect.ts";
import fs from "node:fs";
import path from "node:path";
import { Buffer } from "node:buffer";
import { z } from "zod";
import { writeFileAtomic } from "../core/atomic.ts";
import { evidenceReader } from "../core/evidence.ts";
import { parsePluginOptions } from "../core/config.ts";
import { type Phase, PHASE_NAMES, PHASES } from "../core/phases.ts";
import { definePlugin, STAGE } from "../core/plugin.ts";
import { runGit } from "./content/gitobj.ts";
import { contentSummaryOf } from "./content/summary.ts";
import { backupEvidence } from "./backup.ts";
import { preflightEvidence } from "./preflight.ts";
import { validationEvidence } from "./validate.ts";
import { emptySummary, type Outcome, type PhaseSummary, type RunSummary, type SessionHandle, type UpgradeContext, type UpgradeResult } from "../core/types.ts";
import type { LogEvent } from "../core/log.ts";
import { backupScope } from "./backup/scope.ts";
import { readVersionFile, updatedVersionText } from "./version-file.ts";
import { REPORT_RUN_OPTIONS, reportRunOptions } from "./report/run-options.ts";

export const ReportOptions = z.strictObject({
  /** Commit `.agent-os/` and `.gitignore` to the project's git after a completed upgrade. */
  gitCommit: z.boolean().default(false),
});
export type ReportOptionsInput = z.input<typeof ReportOptions>;
/** The options once parsed (defaults filled): what the plugin's functions receive. */
type ReportOpts = z.output<typeof ReportOptions>;

const stamp = (d: Date) => d.toISOString().replace(/[:.]/g, "-");

/** The run summary from the session's evidence (also after a resume), read through each owner's reader. */
export function summaryOf(ctx: UpgradeContext, outcome: Outcome, warnings: readonly string[]): RunSummary {
  const s = ctx.session?.state;
  const summary = { ...emptySummary(), warnings: [...warnings] };
  if (!s) return summary;
  return {
    ...summary,
    ...contentSummaryOf(ctx, outcome),
    validation_report: validationEvidence(s)?.validation_report ?? null,
    backup_id: backupEvidence(s)?.backup_id ?? null,
  };
}

export interface SummaryInput {
  outcome: Outcome;
  at: Date;
  summary: RunSummary;
  /** The run's phase table once it is final (the `done` refresh); before that phase 5 is running. */
  phases?: readonly PhaseSummary[];
}

/** The installed version: recorded (pre-flight), else the commit the content plan inferred from the source's history. */
function fromVersion(ctx: UpgradeContext, e0: { from_version?: string | null }): string {
  if (typeof e0.from_version === "string") return e0.from_version;
  const base = ctx.plan?.base as { via?: string; ref?: string; range?: { from: string; to: string; commits: number } } | undefined;
  if (base?.via !== "inferred" || !base.ref) return "unknown";
  // Several commits match the installation equally: all of them are said.
  const r = base.range;
  return r ? `${r.from.slice(0, 12)}..${r.to.slice(0, 12)} (inferred: ${r.commits} commits match equally)` : `${base.ref.slice(0, 12)} (inferred)`;
}

export function renderSummary(ctx: UpgradeContext, input: SummaryInput): string {
  const { outcome, at, summary, phases } = input;
  const s = ctx.session!.state;
  const e0 = preflightEvidence(s) ?? {};
  const lines = [
    `# Agent OS upgrade — ${outcome.status}`,
    "",
    `- Session: ${s.session_id}`,
    `- When: ${at.toISOString()}`,
    `- From: ${fromVersion(ctx, e0)}`,
    `- To: ${e0.to_version ?? "unknown"} (${e0.source_commit ?? "?"}${e0.source_branch ? ` on ${e0.source_branch}` : ""})`,
    `- Source: ${s.source.path ?? "?"}`,
    `- Installation: ${s.target.install}`,
  ];
  if (summary.backup_id) lines.push(`- Backup: ${summary.backup_id}`);
  if (summary.validation_report) lines.push(`- Validation report: ${summary.validation_report}`);
  lines.push(`- Validation: ${validationLine(validationEvidence(s), s.phases["4"]?.status)}`);
  if (outcome.error) lines.push(`- Error: ${outcome.error.message}`);
  if (s.rollback) lines.push(`- Rollback: ${s.rollback.status} in ${s.rollback.duration_ms ?? "?"} ms`);
  lines.push("", "## Phases", "", "| phase | status | time |", "|---|---|---|");
  for (const p of PHASES) lines.push(phaseRow(p, s.phases[String(p)], phases?.find((x) => x.phase === p)));
  const counts = Object.entries(summary.counts);
  if (counts.length) lines.push("", "## Files", "", ...counts.map(([k, v]) => `- ${k.replace("_", " ")}: ${v}`));
  if (summary.decisions.length) {
    lines.push("", "## Conflict decisions", "", ...summary.decisions.map((d) => `- \`${d.target}\`: ${d.decision} (${d.by}): ${d.result}`));
  }
  if (summary.needs_attention.length) {
    lines.push("", "## Needs attention", "", ...summary.needs_attention.map((a) => `- \`${a.path}\`: ${a.why}; ${a.how}`));
  }
  if (summary.warnings.length) lines.push("", "## Warnings", "", ...summary.warnings.map((w) => `- ${w}`));
  return lines.join("\n") + "\n";
}

interface LogsBegin {
  at: string;
  sizes: { updateLog: number | null; installationSummary: number | null };
}

function sizeOrNull(file: string): number | null {
  try {
    return fs.statSync(file).size;
  } catch {
    return null;
  }
}

/** Writes `file` as its first `before` bytes (none when it did not exist) plus `entry`, atomically. */
function appendOnce(file: string, before: number | null, entry: string): void {
  let mode = 0o644;
  let head: Uint8Array = new Uint8Array();
  if (before !== null) {
    head = fs.readFileSync(file).subarray(0, before);
    mode = fs.statSync(file).mode & 0o777;
  }
  writeFileAtomic(file, Buffer.concat([head, Buffer.from(entry)]), mode);
}

/** One row of the phase table: the final summary when known, else the session's record (phase 5 is then still running). */
function phaseRow(p: Phase, recorded: { status: string; duration_ms?: number | null } | undefined, final: PhaseSummary | undefined): string {
  const status = final ? (final.status === "pending" ? "not run" : final.status) : recorded?.status ?? (p === 5 ? "running" : "not run");
  const ms = final ? final.duration_ms : recorded?.duration_ms;
  return `| ${p} ${PHASE_NAMES[p]} | ${status} | ${ms != null ? `${ms} ms` : "-"} |`;
}

/** How phase 4 checked the server, in words: "not validated" whenever no MCP check ran. */
function validationLine(ev: { validation?: string; tools_registered?: string[] } | undefined, status: string | undefined): string {
  if (ev?.validation === "skipped") return "not validated (--no-validate): the MCP server was not checked";
  if (ev?.validation === "passed") return `passed (${ev.tools_registered?.length ?? 0} tools registered)`;
  if (ev?.validation === "failed") return "failed";
  if (status === "completed") return "not validated (no plugin checked the MCP server)";
  return "not run";
}

/** Phase 5's gate, for this plugin: the summary was written. */
export const ReportEvidence = z.looseObject({ report_path: z.string().min(1) });

/** This plugin's phase-5 evidence, for others: the summary's path. */
export const reportEvidence = evidenceReader("report", 5, ReportEvidence);

export function reportPlugin(options: ReportOptionsInput = {}) {
  const opts = parsePluginOptions("report", ReportOptions, options);
  return definePlugin({
    name: "report",
    options: REPORT_RUN_OPTIONS,
    evidence: { 5: ReportEvidence },
    apply(hooks) {
      // These hooks are one run's (the engine makes new ones for each run): so is this state.
      const run: ReportRun = { warnings: [], finished: null };
      hooks.start.tap((ctx) => startRun(ctx, run));
      hooks.log.tap((e) => noteWarning(run, e));
      hooks.cleanup.tap({ stage: STAGE.last }, (ctx, outcome, ev) => writeReport(ctx, opts, run, outcome, ev));
      // A failed or rolled-back run has no phase 5 evidence, but it has its report.
      hooks.summarize.tap((_ctx, _outcome, result) => summarize(run, result));
      // Phase 5 ends after its cleanup taps: the final phase table (and the summary every
      // front end prints) is known only now, so the report is refreshed with it.
      hooks.done.tap((result) => refreshReport(run, result));
    },
  });
}

/** What one run gathers: the warnings logged, and the summary written (refreshed once the run is done). */
interface ReportRun {
  warnings: string[];
  finished: { ctx: UpgradeContext; input: SummaryInput; file: string | null } | null;
}

/** `start`: the run's state reset; what phase 5 writes declared to the backup (see plugins/backup/scope.ts). */
function startRun(ctx: UpgradeContext, run: ReportRun): void {
  backupScope(ctx).add("report", (c) => ({ paths: [c.layout.versionFile, c.layout.updateLog, c.layout.installationSummary] }));
  run.warnings = [];
  run.finished = null;
}

/** `log`: every warning, for the summary's list. */
function noteWarning(run: ReportRun, e: LogEvent): void {
  if (e.type === "log" && e.level === "warn") run.warnings.push(e.message);
  else if (e.type === "finding" && e.finding.level === "warning") run.warnings.push(e.finding.message);
}

/** `cleanup` (phase 5, last): the summary under .cache/; after a completed upgrade, the logs, VERSION.txt and the optional git commit. */
async function writeReport(ctx: UpgradeContext, opts: ReportOpts, run: ReportRun, outcome: Outcome, ev: Record<string, unknown>): Promise<void> {
  const session = ctx.session;
  if (!session || ctx.dryRun) return; // no session: nothing was changed, nothing to report on disk
  const { layout } = ctx;
  // A resumed phase 5 reuses the interrupted one's time, so it writes the same records.
  const begun = session.state.journal.find((j) => j.step === "report:logs-begin")?.data as LogsBegin | undefined;
  const at = begun ? new Date(begun.at) : new Date();
  const summaryFile = path.join(layout.cacheDir, `upgrade-summary-${stamp(at)}.md`);
  const input: SummaryInput = { outcome, at, summary: summaryOf(ctx, outcome, run.warnings) };
  await ctx.fs.ensureDir(layout.cacheDir);
  writeFileAtomic(summaryFile, renderSummary(ctx, input));
  run.finished = { ctx, input, file: summaryFile };
  ev.report_path = summaryFile;
  if (outcome.status !== "completed") return;
  if (!session.hasStep("report:logs")) await writeRecords(ctx, session, begun, at, summaryFile);
  if (opts.gitCommit && !session.hasStep("report:git")) await commitUpgrade(ctx, session);
}

/** The new version of the installation's records, once per session: UPDATE_LOG, INSTALLATION_SUMMARY and VERSION.txt. */
async function writeRecords(ctx: UpgradeContext, session: SessionHandle, begun: LogsBegin | undefined, at: Date, summaryFile: string): Promise<void> {
  const { layout } = ctx;
  const e0 = preflightEvidence(session.state) ?? {};
  const commit = String(e0.source_commit ?? "");
  const to = String(e0.to_version ?? commit.slice(0, 12));
  // Appends are journalled with the logs' sizes before them: a re-run after a kill cuts
  // each log back to that size and appends again, so no entry is ever written twice.
  const sizes = begun?.sizes ?? { updateLog: sizeOrNull(layout.updateLog), installationSummary: sizeOrNull(layout.installationSummary) };
  if (!begun) await session.journal("report:logs-begin", { at: at.toISOString(), sizes });
  appendOnce(layout.updateLog, sizes.updateLog, `${at.toISOString()} upgraded ${fromVersion(ctx, e0)} -> ${to} (commit ${commit}, session ${session.id})\n`);
  appendOnce(layout.installationSummary, sizes.installationSummary, `\n## Upgrade ${at.toISOString()}\n\n- From ${fromVersion(ctx, e0)} to ${to} (commit ${commit})\n- Summary: ${path.relative(layout.installDir, summaryFile)}\n`);
  // A source fetched by URL is recorded with its ref; the layout installed, always. A CI run
  // left the venv and the server alone: `runtime=pending` (a later run that did not skip them removes it).
  const origin = ctx.options.origin;
  writeFileAtomic(layout.versionFile, updatedVersionText(readVersionFile(layout.versionFile), {
    commit,
    version: to,
    updated: at.toISOString(),
    ...(origin ? { source: origin.url, ref: origin.ref } : {}),
    layout: activeLayout(ctx).id,
    runtime: reportRunOptions(ctx).runtimePending ? "pending" : null,
  }));
  await session.journal("report:logs", { summary: summaryFile });
}

/** `gitCommit`: the installation and .gitignore committed to the project's git, once per session. */
async function commitUpgrade(ctx: UpgradeContext, session: SessionHandle): Promise<void> {
  const { layout } = ctx;
  const e0 = preflightEvidence(session.state) ?? {};
  const to = String(e0.to_version ?? String(e0.source_commit ?? "").slice(0, 12));
  // Through runGit: the project's own hooks, fsmonitor and filters do not run (git-safe.ts).
  // No abort signal: a signal in phase 5 lets the cleanup finish.
  const git = (...args: string[]) => runGit(["-C", layout.projectRoot, ...args]);
  if ((await git("rev-parse", "--is-inside-work-tree")).code === 0) {
    const added = await git("add", "--", path.relative(layout.projectRoot, layout.installDir), ".gitignore");
    const r = added.code !== 0 ? added : await git("commit", "--no-verify", "-m", `Upgrade Agent OS to ${to}`);
    if (r.code !== 0) ctx.log.warn(`git commit of the upgrade did not succeed: ${r.stderr.trim() || r.stdout.toString("utf8").trim()}`);
  } else ctx.log.warn("gitCommit is on but the project is not a git repository; nothing committed");
  await session.journal("report:git");
}

/** `summarize`: the report's path, also for a failed or rolled-back run. */
function summarize(run: ReportRun, result: UpgradeResult): void {
  if (run.finished?.file) result.report_path = run.finished.file;
}

/** `done`: the summary written again with the final phase table and summary. */
function refreshReport(run: ReportRun, result: UpgradeResult): void {
  if (!run.finished) return;
  const { ctx, input, file } = run.finished;
  run.finished = null;
  if (file && fs.existsSync(file)) writeFileAtomic(file, renderSummary(ctx, { ...input, summary: result.summary, phases: result.phases }));
}
