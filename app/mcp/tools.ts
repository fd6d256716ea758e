/**
 * The MCP tools: one declaration per tool (zod input and output schemas, whether it only
 * reads) and one handler each. Handlers compute everything from the engine and the records
 * on disk; no tool accepts evidence from the assistant, so a phase completes only through
 * its gate in the engine.
 *
 * Reads (upgrade_plan, upgrade_status, backups_list) run in this process. Writes
 * (upgrade_start, upgrade_continue, upgrade_rollback) run the CLI as a detached child (see
 * runner.ts), so that they survive this server.
 */
import path from "node:path";
import { z } from "zod";
import type { ResolvedConfig } from "../../core/config.ts";
import { toUpgradeError } from "../../core/errors.ts";
import type { Layout } from "../../core/layout.ts";
import type { LogEvent } from "../../core/log.ts";
import type { OwnedOption } from "../../core/options.ts";
import { runOptionsOf } from "../../core/options-resolve.ts";
import type { UpgradeResult } from "../../core/types.ts";
import { flagsOfParams, givenByParams, optionParams, PathArg } from "./options.ts";
import { runLifecycle } from "../../core/upgrader.ts";
import { listBackups } from "../../plugins/backup/retention.ts";
import { loadConfig } from "../options.ts";
import { otherPhasesLines } from "../render.ts";
import { type CliEvent, type CliRun, runCliDetached } from "./runner.ts";
import { errorView, loadSession, STATES, type Status, statusOf, summaryOf } from "./session.ts";
import { waitWhileRunning } from "./watch.ts";
import { CheckInput, CheckOutput, checkProject, checkText } from "./check-tool.ts";

/** What every handler needs: where the project is. */
export interface ToolContext {
  layout: Layout;
  /** The project root, as `--target` gave it. */
  target: string;
  /** Where the server logs (stderr). */
  log: (line: string) => void;
}

/** Progress of one call: a message per step, sent only when the client asked (progress token). */
export type Progress = (message: string) => void;

export interface ToolDef<I extends z.ZodRawShape, O extends z.ZodRawShape> {
  name: string;
  title: string;
  description: string;
  /** Read tools are the only ones `--read-only` registers. */
  readOnly: boolean;
  input: I;
  output: O;
  handle(args: z.infer<z.ZodObject<I>>, ctx: ToolContext, call: { progress: Progress; signal: AbortSignal }): Promise<{ data: z.infer<z.ZodObject<O>>; text: string }>;
}

const declare = <I extends z.ZodRawShape, O extends z.ZodRawShape>(def: ToolDef<I, O>) => def;

// ---------------------------------------------------------------- shared schemas

const POLICY = z.enum(["keep", "theirs", "merge", "skip", "abort"]);

const ErrorSchema = z.object({ code: z.string(), message: z.string(), hint: z.string().optional(), details: z.record(z.string(), z.unknown()).optional() });

const CountsSchema = z.object({
  new: z.number(),
  updated: z.number(),
  unchanged: z.number(),
  kept_local: z.number(),
  not_checked: z.number().optional().describe("A first upgrade: files upstream did not change since the installed commit, kept as they are without being read (whether the user edited them is not checked)"),
  merged: z.number().optional().describe("Files changed on both sides whose three-way merge is clean: merged, as git would, without a question"),
  conflicts: z.number(),
  deleted: z.number(),
  errors: z.number(),
});

const ViewSchema = z.object({
  yours: z.string().describe("Unified diff base → the user's file: the user's own change"),
  upstream: z.string().describe("Unified diff base → upstream's file: what the upgrade brings"),
  merged: z.string().nullable().describe("What merge would write, with <<<<<<< local / ======= / >>>>>>> upstream markers where it cannot merge; null when merge cannot apply"),
  hunks: z.number().describe("Conflict hunks left with markers in merged"),
});

const ConflictSchema = z.object({
  path: z.string().describe("The path inside the installation folder, as the plan lists it"),
  reason: z.string(),
  decision: POLICY.optional().describe("Set when a config rule or on_conflict already decides it"),
  three_way: ViewSchema.optional().describe("The three-way view: the user's change, upstream's change, and the merge"),
  diff: z.string().optional().describe("The same view as one text (with diff: true)"),
});

const FindingSchema = z.object({ level: z.enum(["error", "warning"]), code: z.string(), message: z.string(), fix: z.string().optional() });

const LockSchema = z.object({
  kind: z.enum(["absent", "held", "stale", "foreign"]),
  session_id: z.string().optional(),
  pid: z.number().optional(),
  phase: z.number().nullable().optional(),
  since: z.string().optional(),
  file: z.string().optional(),
  reason: z.string().optional(),
});

const SummarySchema = z.object({
  session_id: z.string().nullable(),
  session_status: z.string().optional(),
  exit_code: z.number().nullable().optional(),
  phases: z.array(z.object({ phase: z.number(), name: z.string(), status: z.string(), duration_ms: z.number().nullable(), plugins: z.array(z.string()).optional().describe("The plugins that worked in the phase; none: skipped (no plugin)") })),
  from: z.string().nullable().optional(),
  to: z.string().nullable().optional(),
  backup_id: z.string().optional(),
  content: z.object({
    counts: z.record(z.string(), z.number()).optional(),
    files_written: z.number().optional(),
    files_deleted: z.number().optional(),
    decisions: z.array(z.object({ path: z.string(), decision: z.string(), by: z.string(), result: z.string() })),
    needs_attention: z.array(z.unknown()),
  }).optional(),
  server: z.object({ restart: z.string().optional(), message: z.string().optional() }).optional(),
  tools: z.array(z.string()).optional().describe("Tools the upgraded Agent OS server registered (validated in phase 4)"),
  validation: z.string().optional().describe("Phase 4's check of the upgraded server: passed, failed, or skipped (no_validate: the server was NOT checked)"),
  layout: z.string().optional().describe("The installation folder: .agent-os or .praxis-os"),
  from_via: z.string().optional().describe("How from was found (installed-manifest, from, version-file, inferred)"),
  report_path: z.string().optional(),
  rollback: z.object({ status: z.string(), reason: z.string() }).optional(),
  error: ErrorSchema.optional(),
  secondary_errors: z.array(ErrorSchema).optional(),
  findings: z.array(FindingSchema).optional(),
});
type SummaryOut = z.infer<typeof SummarySchema>;

const RUN_STATUS = z.enum(["completed", "needs_decision", "rolled_back", "failed", "refused"]);

const RunOutput = {
  status: RUN_STATUS,
  session_id: z.string().optional(),
  conflicts: z.array(ConflictSchema).optional().describe("With needs_decision: every conflict that has no decision yet"),
  result: SummarySchema.optional(),
  error: ErrorSchema.optional(),
  next: z.string().describe("What to do next, in one sentence"),
};
type RunOut = z.infer<z.ZodObject<typeof RunOutput>>;

// ---------------------------------------------------------------- helpers

/** The project's config, as the CLI loads it (the same aliases, the same built-ins). */
const loadResolved = (layout: Layout): Promise<ResolvedConfig> => loadConfig(layout.projectRoot, { target: layout.projectRoot });

/** A message for an event of the CLI or the engine, or null for events not worth a notification. */
function describeEvent(e: CliEvent | LogEvent): string | null {
  const ev = e as Record<string, unknown>;
  switch (ev.type) {
    case "phase-start":
      return `phase ${ev.phase} ${ev.name}: started`;
    case "phase-end":
      return `phase ${ev.phase} ${ev.name}: ${ev.status}${typeof ev.duration_ms === "number" ? ` in ${ev.duration_ms} ms` : ""}`;
    case "log":
      return ev.level === "debug" ? null : String(ev.message);
    case "finding": {
      const f = ev.finding as { level: string; message: string };
      return `${f.level}: ${f.message}`;
    }
    case "progress":
      return `${ev.label} ${ev.done}/${ev.total}`;
    default:
      return null;
  }
}

/** Forwards events as progress, at most one `progress` (file count) message per 500 ms. */
function eventForwarder(progress: Progress): (e: CliEvent | LogEvent) => void {
  let lastCount = 0;
  return (e) => {
    if ((e as { type?: string }).type === "progress") {
      const now = Date.now();
      if (now - lastCount < 500) return;
      lastCount = now;
    }
    const m = describeEvent(e);
    if (m) progress(m);
  };
}

function failText(e: { code?: unknown; message?: unknown; hint?: unknown }, findings: Array<{ level: string; message: string; fix?: string }> = []): string {
  const lines = [`Error [${e.code}]: ${e.message}`];
  if (typeof e.hint === "string") lines.push(`hint: ${e.hint}`);
  for (const f of findings) if (f.level === "error") lines.push(`- ${f.message}${f.fix ? ` (fix: ${f.fix})` : ""}`);
  return lines.join("\n");
}

/** A dry run in this process: the plan, exactly as the real run would build it (the CLI's resolver, the config). Writes nothing. */
async function dryRun(ctx: ToolContext, args: { source: string } & Record<string, unknown>, progress: Progress): Promise<UpgradeResult> {
  const resolved = await loadResolved(ctx.layout);
  // yes: false — a plan shows what the user still decides (a migration's files that name the old folder).
  const core = { source: path.resolve(ctx.layout.projectRoot, args.source), target: ctx.target, dryRun: true, yes: false, json: true, interactive: false, ...(args.migrate === true ? { migrate: true } : {}) };
  const options = runOptionsOf(resolved, core, givenByParams(args), "mcp");
  return await runLifecycle({ resolved, options }, { onEvent: eventForwarder(progress) });
}

interface PlanEntryLike {
  target: string;
  action: string;
  reason?: string;
  decision?: string;
}

function conflictsOf(result: UpgradeResult, withDiff: boolean): z.infer<typeof ConflictSchema>[] {
  const diffs = (result.plan?.diffs ?? {}) as Record<string, string>;
  const views = (result.plan?.views ?? {}) as Record<string, z.infer<typeof ViewSchema>>;
  return ((result.plan?.entries ?? []) as PlanEntryLike[]).filter((e) => e.action === "conflict").map((e) => ({
    path: e.target,
    reason: e.reason ?? "conflict",
    ...(e.decision ? { decision: e.decision as z.infer<typeof POLICY> } : {}),
    ...(views[e.target] ? { three_way: views[e.target] } : {}),
    ...(withDiff && diffs[e.target] ? { diff: diffs[e.target] } : {}),
  }));
}

/** A conflict as text: its three-way view in full (the model reads only the text). */
function conflictText(c: z.infer<typeof ConflictSchema>): string {
  const head = `conflict: ${c.path} (${c.reason})${c.decision ? ` → ${c.decision}` : ""}`;
  const v = c.three_way;
  if (!v) return c.diff ? `${head}\n${c.diff.trimEnd()}` : head;
  const merged = v.merged === null ? "(merge cannot apply here: choose keep or theirs)" : v.merged.trimEnd();
  return [
    head,
    "  your change (base → yours):",
    v.yours.trimEnd(),
    "  upstream's change (base → upstream):",
    v.upstream.trimEnd(),
    `  merged (what merge writes${v.hunks ? `; ${v.hunks} conflict${v.hunks === 1 ? "" : "s"} marked` : ", clean"}):`,
    merged,
  ].join("\n");
}

/** Findings as text, each with its fix. */
const findingLines = (list: readonly z.infer<typeof FindingSchema>[] = []) => list.map((f) => `${f.level}: ${f.message}${f.fix ? `\n  fix: ${f.fix}` : ""}`);

const findingsOf = (list: unknown): z.infer<typeof FindingSchema>[] =>
  (Array.isArray(list) ? list : []).map((f: Record<string, unknown>) => ({
    level: f.level === "error" ? "error" : "warning",
    code: String(f.code),
    message: String(f.message),
    ...(typeof f.fix === "string" ? { fix: f.fix } : {}),
  }));

const asError = (e: unknown) => {
  const v = errorView(e);
  if (!v) return undefined;
  const details = (e as { details?: unknown }).details;
  return details && typeof details === "object" ? { ...v, details: details as Record<string, unknown> } : v;
};

/** The `result` of a run: the session's record, with what only the CLI's result knows. */
function summaryFor(ctx: ToolContext, sessionId: string | null, cli: Record<string, unknown> | null): SummaryOut | undefined {
  const state = sessionId ? loadSession(ctx.layout, sessionId) : null;
  if (!state && !cli) return undefined;
  const base: SummaryOut = state ? summaryOf(state) : { session_id: null, phases: ((cli?.phases ?? []) as SummaryOut["phases"]) };
  if (cli) {
    base.exit_code = typeof cli.exit_code === "number" ? cli.exit_code : null;
    if (cli.error) base.error = asError(cli.error);
    const secondary = (cli.secondary_errors ?? []) as unknown[];
    if (secondary.length) base.secondary_errors = secondary.map((e) => asError(e)!);
    const findings = findingsOf(cli.findings);
    if (findings.length) base.findings = findings;
  }
  return base;
}

const NEXT = {
  completed: "Tell the user the upgrade completed (versions, conflict decisions, the tools of the new server); if the result says the IDE must reload the Agent OS server, ask them to reload it. Offer upgrade_rollback only if they are unhappy with the result.",
  rolled_back: "The upgrade failed and was rolled back: the installation is exactly as before. Tell the user the error and its hint; call upgrade_start again once the cause is fixed.",
  failed: "Tell the user what failed (error and hint); call upgrade_status to see the session, and offer upgrade_rollback to restore the backup.",
  refused: "Nothing was changed: tell the user the problem and its fix (error.hint), then call upgrade_start again.",
  needs_decision: "Nothing was written. Show the user each conflict with its three-way view (their change, upstream's change, the merge), ask keep (upstream's change is not taken), theirs (their edit is lost), merge (the merged text shown, markers included) or skip (ask again next time), then call upgrade_start again with decisions: { path: choice }.",
} as const;

const DECIDE_WITH_TOOLS = "Call upgrade_start again with decisions: { \"<path>\": \"keep\"|\"theirs\"|\"merge\"|\"skip\" } for each conflict (or on_conflict for all of them); nothing was written";

/** The CLI's advice for undecided conflicts (flags, a terminal) said in terms of the tools. */
function inToolTerms(result: SummaryOut): SummaryOut {
  const out = { ...result };
  if (out.error?.code === "CONFLICTS_UNRESOLVED") out.error = { ...out.error, hint: DECIDE_WITH_TOOLS };
  if (out.findings) out.findings = out.findings.map((f) => (f.code === "CONFLICTS_UNRESOLVED" ? { ...f, fix: DECIDE_WITH_TOOLS } : f));
  return out;
}

/** Maps a finished child run to the tools' result. */
async function runOutcome(ctx: ToolContext, run: CliRun, retry: ({ source?: string } & Record<string, unknown>) | null, progress: Progress): Promise<RunOut> {
  const r = run.result;
  if (run.detached) {
    const st = statusOf(ctx.layout);
    return { status: "failed", ...(st.session_id ? { session_id: st.session_id } : {}), error: { code: "INTERRUPTED", message: "Stopped waiting: the request was cancelled; the run goes on in its own process" }, next: st.next };
  }
  if (!r) {
    const st = statusOf(ctx.layout);
    const how = run.signal ? `was killed by ${run.signal}` : `exited with code ${run.exitCode}`;
    return {
      status: "failed",
      ...(st.session_id ? { session_id: st.session_id } : {}),
      error: { code: "INTERRUPTED", message: `The upgrade process ${how} without a result${run.stderr.trim() ? `: ${run.stderr.trim().split("\n").slice(-3).join(" | ")}` : ""}` },
      next: st.next,
    };
  }
  const sessionId = typeof r.session_id === "string" ? r.session_id : null;
  const result = summaryFor(ctx, sessionId, r);
  const err = asError(r.error);
  const withSession = sessionId ? { session_id: sessionId } : {};
  if (r.status === "completed" || r.status === "rolled_back") {
    return { status: r.status, ...withSession, ...(result ? { result } : {}), ...(err ? { error: err } : {}), next: NEXT[r.status] };
  }
  if (!sessionId && err?.code === "CONFLICTS_UNRESOLVED" && retry?.source) {
    // Pre-flight stopped before writing anything; the plan with diffs says what to decide.
    const plan = await dryRun(ctx, { ...retry, source: retry.source, diff: true }, progress);
    const open = conflictsOf(plan, false).filter((c) => !c.decision);
    if (open.length) return { status: "needs_decision", conflicts: open, ...(result ? { result: inToolTerms(result) } : {}), next: NEXT.needs_decision };
  }
  // Another run holds the lock: the status of that run says what to call.
  const next = err?.code === "LOCK_HELD" ? statusOf(ctx.layout).next : NEXT.refused;
  if (!sessionId) return { status: "refused", ...(result ? { result } : {}), ...(err ? { error: err } : {}), next };
  return { status: "failed", ...withSession, ...(result ? { result } : {}), ...(err ? { error: err } : {}), next: NEXT.failed };
}

/** Everything a run's result says, as text: the model may read only this. */
function runText(o: RunOut): string {
  const r = o.result;
  const lines = [`${o.status}${o.session_id ? ` (session ${o.session_id})` : ""}`];
  if (r?.layout) lines.push(`installation: ${r.layout}`);
  if (r && (r.from !== undefined || r.to !== undefined)) lines.push(`from ${r.from ?? "unknown"}${r.from_via ? ` (${r.from_via})` : ""} → ${r.to ?? "unknown"}`);
  if (r?.backup_id) lines.push(`backup: ${r.backup_id}`);
  const c = r?.content;
  if (c?.counts) lines.push(`content: ${Object.entries(c.counts).map(([k, n]) => `${n} ${k.replace("_", " ")}`).join(", ")}`);
  for (const d of c?.decisions ?? []) lines.push(`decision: ${d.path} → ${d.decision} (${d.by}): ${d.result}`);
  if (c?.needs_attention.length) lines.push(`needs attention (conflict markers to finish by hand): ${c.needs_attention.join(", ")}`);
  if (r?.server?.restart) lines.push(`server restart: ${r.server.restart}${r.server.message ? ` (${r.server.message})` : ""}`);
  if (r?.validation === "skipped") lines.push("validation: skipped (no_validate): the upgraded MCP server was NOT checked; tell the user to check it");
  else if (r?.validation) lines.push(`validation: ${r.validation}`);
  if (r?.tools?.length) lines.push(`tools of the new server: ${r.tools.join(", ")}`);
  if (r?.rollback) lines.push(`rollback: ${r.rollback.status} (${r.rollback.reason})`);
  for (const x of o.conflicts ?? []) lines.push(conflictText(x));
  lines.push(...findingLines(r?.findings));
  if (o.error) lines.push(failText(o.error));
  for (const e of r?.secondary_errors ?? []) lines.push(`also: ${failText(e)}`);
  lines.push(`next: ${o.next}`);
  return lines.join("\n");
}

/** Runs a session to its end from a status: waits for a running one, resumes an interrupted one. */
async function continueFrom(ctx: ToolContext, st: Status, sessionId: string | null, call: { progress: Progress; signal: AbortSignal }): Promise<RunOut> {
  if (st.state === "running" && st.session_id) {
    call.progress(`waiting for session ${st.session_id} (pid ${st.lock.pid ?? "?"}) to end`);
    await waitWhileRunning(ctx.layout, st.session_id, { signal: call.signal, onPhase: (p, name) => call.progress(`phase ${p} ${name}`) });
    st = statusOf(ctx.layout, sessionId ?? st.session_id);
  }
  if (st.state === "interrupted") {
    const args = ["resume", ...(sessionId ? [sessionId] : []), "--json", "--target", ctx.target];
    ctx.log(`resuming: ${args.join(" ")}`);
    const run = await runCliDetached(args, { onEvent: eventForwarder(call.progress), signal: call.signal });
    return await runOutcome(ctx, run, null, call.progress);
  }
  if (st.state === "idle" || !st.session_id) {
    return { status: "refused", error: { code: "NO_SESSION", message: "Cannot continue: there is no upgrade session in this project" }, next: st.next };
  }
  if (st.state === "running") {
    return { status: "failed", session_id: st.session_id, error: { code: "INTERRUPTED", message: "Stopped waiting: the request was cancelled; the run goes on" }, next: st.next };
  }
  const state = loadSession(ctx.layout, st.session_id);
  const result = state ? summaryOf(state) : undefined;
  const status = st.state === "completed" || st.state === "rolled_back" ? st.state : "failed";
  return { status, session_id: st.session_id, ...(result ? { result } : {}), ...(st.error ? { error: st.error } : {}), next: status === "failed" ? st.next : NEXT[status] };
}

// ---------------------------------------------------------------- the tools

/** `migrate`: the move from `.agent-os/` to `.praxis-os/` (agent-os-enhanced to a praxis-os source). */
const MigrateArg = z.boolean().optional().describe("Move an .agent-os installation to the praxis-os source's layout (.agent-os/ → .praxis-os/, content, server, venv, launch entries, .gitignore) as one upgrade with the same backup and rollback; the plan lists files that name .agent-os/ with a diff each: ask the user, then pass decisions { file: \"theirs\" (rewrite) | \"keep\" }");

/** The options a plan takes: the content plugin's (they shape the plan); the others act only in a real run. */
const shapesPlan = (o: OwnedOption): boolean => o.owner === "content";

export const upgradePlan = declare({
  name: "upgrade_plan",
  title: "Plan an Agent OS upgrade (dry run)",
  description: "Plans an upgrade of this project's Agent OS installation from a source checkout and writes nothing: the base it compares against, counts per class, every file that would change (unchanged files are only counted), and the conflicts (files the user edited that also changed upstream), with unified diffs when diff is true.",
  readOnly: true,
  input: {
    source: PathArg.describe("Path of the Agent OS source checkout (a git clone of agent-os-enhanced); relative paths are relative to the project"),
    migrate: MigrateArg,
    ...optionParams(shapesPlan),
  },
  output: {
    base: z.object({ kind: z.string(), ref: z.string().optional(), via: z.string().optional() }),
    to: z.object({ commit: z.string().nullable(), version: z.string().nullable() }).optional(),
    layout: z.object({ source: z.string().nullable(), install: z.string().nullable(), move: z.object({ from: z.string(), to: z.string() }).optional() }).optional(),
    counts: CountsSchema,
    entries: z.array(z.object({ path: z.string(), action: z.string(), reason: z.string() })),
    conflicts: z.array(ConflictSchema),
    findings: z.array(FindingSchema),
  },
  async handle(args, ctx, call) {
    const r = await dryRun(ctx, args, call.progress);
    if (r.status !== "completed" || !r.plan) throw new Error(failText(r.error ?? { code: "INTERNAL", message: "The dry run produced no plan" }, r.findings));
    const plan = r.plan as unknown as { base: { kind: string; ref?: string; via?: string }; counts: z.infer<typeof CountsSchema>; source?: { commit?: string | null; version?: string | null } };
    const entries = ((r.plan.entries ?? []) as PlanEntryLike[]).filter((e) => e.action !== "unchanged" && e.action !== "not_checked").map((e) => ({ path: e.target, action: e.action, reason: e.reason ?? "" }));
    const d = (args as { diff?: boolean | string }).diff;
    const conflicts = conflictsOf(r, d !== undefined && d !== false);
    const data = {
      base: { kind: plan.base.kind, ...(plan.base.ref ? { ref: plan.base.ref } : {}), ...(plan.base.via ? { via: plan.base.via } : {}) },
      ...(plan.source ? { to: { commit: plan.source.commit ?? null, version: plan.source.version ?? null } } : {}),
      ...(r.layout ? { layout: r.layout } : {}),
      counts: plan.counts,
      entries,
      conflicts,
      findings: findingsOf(r.findings),
    };
    const c = plan.counts;
    const b = data.base;
    const open = conflicts.filter((x) => !x.decision);
    const mentions = ((r.plan as { mentions?: { file: string; decision: string | null }[] }).mentions ?? []).filter((m) => !m.decision);
    const text = [
      `Plan for ${path.basename(ctx.layout.installDir)}: from ${b.ref ?? "unknown"} (base ${b.kind}${b.via ? `, ${b.via}` : ""}) → ${plan.source?.version ?? plan.source?.commit ?? "the source's working tree"}${r.layout ? ` (layout ${r.layout.install ?? r.layout.source})` : ""}`,
      `${c.new} new, ${c.updated} updated, ${c.unchanged} unchanged, ${c.kept_local} kept local, ${c.not_checked ? `${c.not_checked} not checked (upstream did not change them: kept as they are), ` : ""}${c.merged ?? 0} merged, ${c.conflicts} conflict${c.conflicts === 1 ? "" : "s"}, ${c.deleted} deleted, ${c.errors} error${c.errors === 1 ? "" : "s"}`,
      ...entries.filter((e) => e.action !== "conflict").map((e) => `  ${(e.action === "merge" ? "merged" : e.action).padEnd(10)} ${e.path}  (${e.reason})`),
      ...otherPhasesLines(r.plan as unknown as Record<string, unknown>),
      ...conflicts.map(conflictText),
      ...findingLines(data.findings),
      ...(r.layout?.move ? [`Migration: ${r.layout.move.from} → ${r.layout.move.to}`] : []),
      `next: ${open.length
        ? `Show the user each conflict's three-way view and ask keep, theirs, merge or skip; then call upgrade_start with the source and decisions: { path: choice }.`
        : mentions.length
        ? `Show the user each file that names the old installation with its diff and ask: theirs (rewrite it) or keep; then call upgrade_start with the source, migrate: true and decisions: { file: choice }.`
        : `Tell the user what will change; with their go-ahead call upgrade_start with the source${r.layout?.move ? " and migrate: true" : ""}.`}`,
    ].join("\n");
    return { data, text };
  },
});

export const upgradeStart = declare({
  name: "upgrade_start",
  title: "Start the Agent OS upgrade",
  description: "Runs the upgrade (pre-flight, backup, content, server, validation, cleanup) in its own process, which survives this MCP server being restarted, and waits for its end. When files the user edited also changed upstream and no decision covers them, it writes nothing and returns needs_decision with every open conflict and its diff: ask the user, then call again with decisions. A failure in phases 2-4 is rolled back automatically.",
  readOnly: false,
  input: {
    source: PathArg.describe("Path of the Agent OS source checkout (a git clone); relative paths are relative to the project"),
    migrate: MigrateArg,
    ...optionParams((o) => !o.dryRunOnly),
  },
  output: RunOutput,
  async handle(args, ctx, call) {
    const given = (args as { decisions?: Record<string, string> }).decisions;
    const decisions = given && Object.keys(given).length ? given : undefined;
    const cli = [args.migrate === true ? "migrate" : "upgrade", "--json", "--target", ctx.target, "--source", path.resolve(ctx.layout.projectRoot, args.source), ...flagsOfParams(args, "{decisions.json}")];
    ctx.log(`starting: ${cli.join(" ")}`);
    const run = await runCliDetached(cli, {
      onEvent: eventForwarder(call.progress),
      signal: call.signal,
      ...(decisions ? { files: { "decisions.json": JSON.stringify(decisions) } } : {}),
    });
    const data = await runOutcome(ctx, run, { ...args, decisions }, call.progress);
    return { data, text: runText(data) };
  },
});

export const upgradeStatus = declare({
  name: "upgrade_status",
  title: "Status of the Agent OS upgrade",
  description: "Where the upgrade of this project stands, read from its lock and session records: idle, running (its process is alive), interrupted (its process died: continue or roll back), completed, rolled_back or failed; next says what to call.",
  readOnly: true,
  input: {
    session_id: z.string().uuid().optional().describe("A session to report; default: the running or newest one"),
  },
  output: {
    state: z.enum(STATES),
    session_id: z.string().optional(),
    phase: z.number().optional(),
    phase_name: z.string().optional(),
    session_status: z.string().optional(),
    lock: LockSchema,
    error: ErrorSchema.optional(),
    next: z.string(),
  },
  async handle(args, ctx) {
    const st = statusOf(ctx.layout, args.session_id ?? null);
    const text = `${st.state}${st.session_id ? ` (session ${st.session_id}${st.phase !== undefined ? `, phase ${st.phase} ${st.phase_name}` : ""})` : ""}\nnext: ${st.next}`;
    return { data: st, text };
  },
});

export const upgradeContinue = declare({
  name: "upgrade_continue",
  title: "Continue the Agent OS upgrade",
  description: "Brings the given (or newest) session to its end: waits for one that is still running, resumes one that was interrupted (at its first incomplete phase), or reports how a finished one ended. Same result shape as upgrade_start.",
  readOnly: false,
  input: {
    session_id: z.string().uuid().optional().describe("The session; default: the running or newest unfinished one"),
  },
  output: RunOutput,
  async handle(args, ctx, call) {
    const st = statusOf(ctx.layout, args.session_id ?? null);
    const data = await continueFrom(ctx, st, args.session_id ?? null, call);
    return { data, text: runText(data) };
  },
});

export const upgradeRollback = declare({
  name: "upgrade_rollback",
  title: "Roll back the Agent OS upgrade",
  description: "Restores the backup of the last (or an interrupted) upgrade, or the backup named by to, by the CLI's rollback rules: it refuses, naming the files changed since that upgrade, unless confirm is true. Ask the user before passing confirm: true.",
  readOnly: false,
  input: {
    to: PathArg.optional().describe("A backup id from backups_list; default: the last upgrade's backup"),
    confirm: z.boolean().describe("The user agreed to discard changes made since the upgrade"),
  },
  output: RunOutput,
  async handle(args, ctx, call) {
    const cli = ["rollback", "--json", "--target", ctx.target, ...(args.to ? ["--to", args.to] : []), ...(args.confirm ? ["--yes"] : [])];
    ctx.log(`rolling back: ${cli.join(" ")}`);
    const run = await runCliDetached(cli, { onEvent: eventForwarder(call.progress), signal: call.signal });
    const r = run.result;
    let data: RunOut;
    if (!r) data = await runOutcome(ctx, run, null, call.progress);
    else {
      const sessionId = typeof r.session_id === "string" ? r.session_id : null;
      const err = asError(r.error);
      const state = sessionId ? loadSession(ctx.layout, sessionId) : null;
      const result = state ? summaryOf(state) : undefined;
      const common = { ...(sessionId ? { session_id: sessionId } : {}), ...(result ? { result } : {}), ...(err ? { error: err } : {}) };
      const unchanged = r.nothing_changed === true;
      if (r.status === "rolled_back") data = { status: "rolled_back", ...common, next: "Tell the user the installation is back to the state of the backup (backups_list lists the backups)." };
      else if (unchanged) data = { status: "refused", ...common, next: "Nothing was changed: show the user the error and any files it names; call again with confirm: true only if they agree to discard those changes." };
      else data = { status: "failed", ...common, next: "Tell the user the rollback did not finish (error and hint); call upgrade_rollback again, or restore from .agent-os/.backups/ by hand." };
    }
    return { data, text: runText(data) };
  },
});

export const backupsList = declare({
  name: "backups_list",
  title: "List the Agent OS backups",
  description: "The backups in the installation's .backups folder, newest first: id (for upgrade_rollback's to), time, the session that made it and that session's status, state (complete or not), files and size.",
  readOnly: true,
  input: {},
  output: {
    backups: z.array(z.object({
      id: z.string(),
      time: z.string().nullable(),
      session_id: z.string().nullable(),
      session_status: z.string().nullable(),
      status: z.string().describe("complete, in-progress, abandoned or incomplete"),
      files: z.number().nullable(),
      size_bytes: z.number().nullable(),
    })),
  },
  async handle(_args, ctx) {
    const backups = listBackups(ctx.layout).map((b) => ({
      id: b.id,
      time: b.timestamp,
      session_id: b.session_id,
      session_status: b.session_status,
      status: b.state,
      files: b.files,
      size_bytes: b.bytes,
    }));
    const text = backups.length
      ? backups.map((b) => `${b.id}  ${b.status}  ${b.files ?? "?"} files  ${b.size_bytes ?? "?"} bytes  session ${b.session_id ?? "-"} (${b.session_status ?? "-"})`).join("\n")
      : `No backups in ${ctx.layout.backupsDir}`;
    return { data: { backups }, text };
  },
});

// deno-lint-ignore no-explicit-any
export const upgradeCheck = declare({
  name: "upgrade_check",
  title: "Is an Agent OS update available? (read-only)",
  description: "Checks, writing nothing, whether the source (a git URL or a clone; default: the one VERSION.txt records) has an update for this project's installation: up_to_date, update_available (installed → available commit, the files that would change, conflicts expected, whether a migration is needed) or unknown (cannot tell, and why). Also lists files edited since install.",
  readOnly: true,
  input: CheckInput,
  output: CheckOutput,
  async handle(args, ctx) {
    const data = await checkProject(ctx.layout, ctx.target, args);
    return { data, text: checkText(data) };
  },
});

export const TOOLS: ToolDef<any, any>[] = [upgradeCheck, upgradePlan, upgradeStart, upgradeStatus, upgradeContinue, upgradeRollback, backupsList];

/** Turns anything a handler threw into the text of an error result. */
export function errorText(err: unknown): string {
  if (err instanceof Error && err.message.startsWith("Error [")) return err.message;
  return failText(toUpgradeError(err).toJSON());
}
