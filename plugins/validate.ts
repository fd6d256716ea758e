/**
 * The validate plugin (SPEC §5.5): a real MCP handshake with the upgraded server, with the
 * official client. Expected tools are the config's plus, by default, every tool the old
 * server had (probed in pre-flight); smoke calls default to `search_standards` answering
 * and `list_workflows` naming every installed workflow; error lines in the server's stderr
 * fail the check. Every failure is a finding, so all are reported together, and any of
 * them makes the core roll back.
 *
 *   preflight  probes the installed server read-only: over HTTP when it runs in the
 *              background, else by spawning it over stdio without writing byte-code
 *   validate   probes the new server: over HTTP when the server plugin restarted it, else
 *              over stdio with the launch command; then starts each agent's launch entry
 *              (validate/entries.ts); writes `.cache/upgrade-validation-<ts>.json`
 *
 * The factory parses the options and taps the hooks; each tap calls a function of this
 * module over the run's context and the options (the tools the old server had are read back
 * from the run's phase-0 evidence), so one plugin object may serve several runs.
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { writeJsonAtomic } from "../core/atomic.ts";
import { parsePluginOptions } from "../core/config.ts";
import { definePlugin } from "../core/plugin.ts";
import type { Findings, Outcome, UpgradeContext, UpgradeResult } from "../core/types.ts";
import { activeLayout, installedServerDir, migratedFrom } from "./layouts/detect.ts";
import { needsTransportArg, serverEnv, withTransport } from "./server/launch.ts";
import { checkStaleEntries, probeEntries } from "./validate/entries.ts";
import { probeHttp, type ProbeResult, probeStdio, type SmokeCall } from "./server/mcp-client.ts";
import { findProjectServer, processAlive } from "./server/process.ts";
import { VALIDATE_RUN_OPTIONS, validateRunOptions } from "./validate/run-options.ts";
import { journalled, launchFor, LaunchSpecSchema, ServerStarted, SmokeCallSchema, type StartedServer, STEP } from "./server/shared.ts";
import { evidenceReader } from "../core/evidence.ts";
import { runtimeSyncOf } from "./deps/runtime-record.ts";

export const PLUGIN_NAME = "validate";

export const ValidateOptions = z.strictObject({
  /** Tools the new server must register, in addition to the old server's. */
  expectTools: z.array(z.string().min(1)).default([]),
  /** Also expect every tool the old server registered (probed in pre-flight). */
  expectOldTools: z.boolean().default(true),
  /** Smoke calls; default: search_standards answers, list_workflows names every installed workflow (each when registered). */
  smoke: z.array(SmokeCallSchema).optional(),
  /** The query of the default search_standards call. */
  smokeQuery: z.string().min(1).default("testing standards"),
  /** The whole probe of the new server (connection included). */
  timeoutMs: z.number().int().positive().default(30_000),
  /** Probe the installed server in pre-flight (to learn its tools). */
  probeBefore: z.boolean().default(true),
  probeBeforeTimeoutMs: z.number().int().positive().default(15_000),
  /** The launch command; default: the server plugin's, else mcp.json, else the SPEC default. */
  launch: LaunchSpecSchema.optional(),
});
export type ValidateOptionsInput = z.input<typeof ValidateOptions>;
/** The options once parsed (defaults filled): what the plugin's functions receive. */
type ValidateOpts = z.output<typeof ValidateOptions>;

const stamp = (d: Date) => d.toISOString().replace(/[:.]/g, "-");

function installedWorkflows(installDir: string): string[] {
  try {
    return fs.readdirSync(path.join(installDir, "workflows"), { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith("."))
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

/** Phase 4's gate, for this plugin: every expected tool registered, smoke calls passed, a clean stderr, a report. */
export const ValidationEvidence = z
  .looseObject({
    tools_expected: z.array(z.string()),
    tools_registered: z.array(z.string()),
    smoke_tests: z.array(z.object({ tool: z.string(), ok: z.boolean() })),
    stderr_errors: z.array(z.string()).max(0, "the server logged errors during the checks"),
    validation_report: z.string().min(1),
  })
  .refine((e) => e.tools_expected.every((t) => e.tools_registered.includes(t)), {
    message: "the server does not register every expected tool",
    path: ["tools_registered"],
  })
  .refine((e) => e.smoke_tests.every((s) => s.ok), { message: "a smoke test failed", path: ["smoke_tests"] });

/** This plugin's phase-4 evidence, for others: `validation` ("passed", "skipped"), the tools, the report. */
export const validationEvidence = evidenceReader("validate", 4, ValidationEvidence.and(z.looseObject({ validation: z.string().optional() })));
/** Its phase-0 record: the tools the installed server had before the upgrade. */
const toolsBefore = evidenceReader("validate", 0, z.looseObject({ server_tools_before: z.array(z.string()).nullable() }));

/** Why the installed server did not answer, and each way out (the exact commands for this install). */
export function cannotRun(ctx: UpgradeContext, probe: ProbeResult): { reason: string; fix: string } {
  const python = path.join(ctx.layout.venvDir, "bin", "python");
  const requirements = path.join(ctx.layout.installDir, activeLayout(ctx).server.requirements);
  const install = `"${python}" -m pip install -r "${requirements}"`;
  const skip = "or pass --no-validate to upgrade without checking the server (the result then says \"not validated\")";
  const launch = launchFor(ctx, undefined);
  if (!fs.existsSync(launch.command) && path.isAbsolute(launch.command)) {
    return {
      reason: `its interpreter "${launch.command}" does not exist (no venv)`,
      fix: `Create the venv and install the server's requirements (python3 -m venv "${ctx.layout.venvDir}" && ${install}), ${skip}`,
    };
  }
  const missing = /ModuleNotFoundError: No module named '([^']+)'/.exec(probe.stderr)?.[1];
  if (missing) {
    return { reason: `the venv lacks the module "${missing}"`, fix: `Install the server's requirements into its venv (${install}), ${skip}` };
  }
  const last = probe.stderr.trim().split(/\r?\n/).filter(Boolean).at(-1);
  return {
    reason: `${probe.error ?? "it registers no tools"}${last ? ` (stderr: ${last.slice(0, 200)})` : ""}`,
    fix: `Make it start (${launch.command} ${launch.args.join(" ")}; install its requirements with ${install}), ${skip}`,
  };
}

/** `--no-validate`: no MCP check; the evidence and a small report say plainly that nothing was validated. */
function skipValidation(ctx: UpgradeContext, ev: Record<string, unknown>): void {
  const report = path.join(ctx.layout.cacheDir, `upgrade-validation-${stamp(new Date())}.json`);
  fs.mkdirSync(ctx.layout.cacheDir, { recursive: true });
  writeJsonAtomic(report, { schema_version: 1, session_id: ctx.session?.id ?? null, validation: "skipped", reason: "--no-validate" });
  Object.assign(ev, { tools_expected: [], tools_registered: [], smoke_tests: [], stderr_errors: [], validation_report: report, validation: "skipped" });
  ctx.log.warn("validate: skipped (--no-validate): the upgraded MCP server was NOT validated");
}

export function validatePlugin(options: ValidateOptionsInput = {}) {
  const opts = parsePluginOptions(PLUGIN_NAME, ValidateOptions, options);
  return definePlugin({
    name: PLUGIN_NAME,
    whenDisabled: "the new MCP server is not checked: the upgrade completes whether or not it starts",
    evidence: { 4: ValidationEvidence },
    options: VALIDATE_RUN_OPTIONS,
    apply(hooks) {
      hooks.summarize.tap(summarize);
      hooks.preflight.tap((ctx, findings, ev) => probeInstalled(ctx, opts, findings, ev));
      hooks.validate.tap((ctx, findings, ev) => validate(ctx, opts, findings, ev));
    },
  });
}

/** `summarize`: the validation word and report in the run's result. */
function summarize(ctx: UpgradeContext, _outcome: Outcome, result: UpgradeResult): void {
  const ev = ctx.session ? validationEvidence(ctx.session.state) : undefined;
  // So a script sees "skipped" without reading the state.
  if (typeof ev?.validation === "string") result.validation = ev.validation;
  result.summary.validation_report = ev?.validation_report ?? null;
}

/** Spawns the configured server over stdio (forcing `--transport stdio` when it takes one: no state file, no port). */
function stdioProbe(ctx: UpgradeContext, opts: ValidateOpts, extra: { calls?: SmokeCall[]; expectTools?: string[]; timeoutMs: number; readOnly: boolean }) {
  const launch = launchFor(ctx, opts.launch);
  const serverDir = installedServerDir(ctx);
  const args = fs.existsSync(serverDir) && needsTransportArg(serverDir).needed ? withTransport(launch.args, "stdio") : launch.args;
  return probeStdio({
    command: launch.command,
    args,
    env: serverEnv(extra.readOnly ? { ...launch.env, PYTHONDONTWRITEBYTECODE: "1" } : launch.env),
    cwd: launch.cwd,
    timeoutMs: extra.timeoutMs,
    calls: extra.calls,
    expectTools: extra.expectTools,
    failOnStderrErrors: !extra.readOnly,
  });
}

/** The installed server probed read-only: over HTTP when it runs in the background, else over stdio. Null when its files cannot be read (a finding says so). */
async function probeBefore(ctx: UpgradeContext, opts: ValidateOpts, findings: Findings): Promise<ProbeResult | null> {
  const running = findProjectServer(ctx.layout.installDir);
  try {
    return running.status === "running" && running.state.url
      ? await probeHttp({ url: running.state.url, timeoutMs: opts.probeBeforeTimeoutMs, failOnStderrErrors: false })
      : await stdioProbe(ctx, opts, { timeoutMs: opts.probeBeforeTimeoutMs, readOnly: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code !== "EACCES" && e.code !== "EPERM") throw err;
    // The server's files are not readable by this user: a finding with its fix, not a raw error.
    const dir = installedServerDir(ctx);
    findings.error("SERVER_UNREADABLE", `Cannot read the installed MCP server: ${e.path ?? dir} (permission denied)`, `Make it readable (\`chmod -R u+rX "${dir}"\`), or run the upgrade as the user who owns the installation; nothing was written`);
    return null;
  }
}

/** `preflight`: the installed server's tools recorded; one that cannot start refuses the upgrade before any write. */
async function probeInstalled(ctx: UpgradeContext, opts: ValidateOpts, findings: Findings, ev: Record<string, unknown>): Promise<void> {
  // A dry run probes too: it must refuse where the real run refuses (the probe writes nothing).
  if (!ctx.layout.installExists) return;
  if (validateRunOptions(ctx).noValidate) {
    ev.server_probe_before = { ok: null, skipped: "--no-validate" };
    return;
  }
  // A sync's old runtime may not start the committed code: that is why it syncs.
  if (!opts.probeBefore || runtimeSyncOf(ctx)) return;
  const probe = await probeBefore(ctx, opts, findings);
  if (!probe) return;
  const connected = probe.serverInfo !== undefined && !probe.problems.some((p) => p.startsWith("tools/list failed"));
  ev.server_tools_before = connected ? probe.tools : null;
  ev.server_probe_before = { ok: connected, transport: probe.transport, duration_ms: probe.durationMs, error: connected ? null : probe.error ?? null };
  if (!connected) {
    // Validation could not tell a broken upgrade from a server that never ran here: refuse now, before any write.
    const why = cannotRun(ctx, probe);
    findings.error("SERVER_CANNOT_START", `Cannot start the installed MCP server, so the upgrade could not be validated: ${why.reason}`, why.fix);
  }
}

/** The tools the new server must register: the configured ones, plus the old server's (unless `expectOldTools` is off). */
function expectedTools(ctx: UpgradeContext, opts: ValidateOpts): string[] {
  const before = toolsBefore(ctx)?.server_tools_before;
  const old = opts.expectOldTools && Array.isArray(before) ? toolsAfterMigration(ctx, before as string[]) : [];
  return [...new Set([...opts.expectTools, ...old])].sort();
}

/** The old server's tools as the new one names them: in a migration, renamed by the tool prefix, or the new layout's own when its server was rewritten. */
function toolsAfterMigration(ctx: UpgradeContext, before: string[]): string[] {
  const from = migratedFrom(ctx);
  if (!from) return before;
  const to = activeLayout(ctx);
  if (from.server.module !== to.server.module && to.server.tools.length) return [...to.server.tools];
  return before.map((t) => (t.startsWith(from.toolPrefix) ? to.toolPrefix + t.slice(from.toolPrefix.length) : t));
}

/** The new server probed: over HTTP when the server plugin restarted it, else over stdio with the launch command. */
async function probeNew(ctx: UpgradeContext, opts: ValidateOpts, expected: string[]): Promise<ProbeResult> {
  const workflows = installedWorkflows(ctx.layout.installDir);
  const calls: SmokeCall[] = opts.smoke ?? [
    { tool: "search_standards", args: { query: opts.smokeQuery }, ifRegistered: true },
    { tool: "list_workflows", expect: { containsAll: workflows }, ifRegistered: true },
  ];
  const started = ctx.channels.get(ServerStarted) ?? (journalled(ctx, STEP.started) as StartedServer | undefined);
  return started?.url && processAlive(started.pid)
    ? await probeHttp({ url: started.url!, logFile: started.logFile, timeoutMs: opts.timeoutMs, calls, expectTools: expected })
    : await stdioProbe(ctx, opts, { calls, expectTools: expected, timeoutMs: opts.timeoutMs, readOnly: false });
}

/** Every way the probe failed, as findings (all reported together). */
function probeFindings(probe: ProbeResult, findings: Findings): void {
  const answered = probe.serverInfo !== undefined && !probe.problems.some((p) => p.startsWith("tools/list failed"));
  if (!answered) {
    findings.error("SERVER_UNHEALTHY", `The upgraded MCP server does not answer over ${probe.transport}: ${probe.error}`, "See the server's stderr in the validation report; the upgrade is rolled back");
  }
  if (probe.missingTools.length) {
    findings.error("TOOLS_MISSING", `The upgraded MCP server lacks tool(s): ${probe.missingTools.join(", ")}`, "Expected tools are the old server's plus the validate plugin's expectTools; fix the server or the list");
  }
  for (const call of probe.calls) {
    if (!call.ok && call.error) findings.error("SMOKE_FAILED", call.error, "Fix the tool, or change the validate plugin's smoke calls");
  }
  if (probe.stderrErrors.length) {
    findings.error("SERVER_STDERR_ERRORS", `The upgraded MCP server logged ${probe.stderrErrors.length} error line(s), first: ${probe.stderrErrors[0]}`, "See the full stderr in the validation report");
  }
}

/** `.cache/upgrade-validation-<ts>.json`: the whole probe, stderr included. Returns its path. */
function writeReport(ctx: UpgradeContext, probe: ProbeResult, expected: string[]): string {
  const report = path.join(ctx.layout.cacheDir, `upgrade-validation-${stamp(new Date())}.json`);
  fs.mkdirSync(ctx.layout.cacheDir, { recursive: true });
  writeJsonAtomic(report, {
    schema_version: 1,
    session_id: ctx.session?.id ?? null,
    transport: probe.transport,
    server_info: probe.serverInfo ?? null,
    tools_expected: expected,
    tools_registered: probe.tools,
    missing_tools: probe.missingTools,
    smoke_tests: probe.calls,
    stderr_errors: probe.stderrErrors,
    stderr: probe.stderr,
    problems: probe.problems,
    duration_ms: probe.durationMs,
  });
  return report;
}

/** `validate` (phase 4): stale launch entries, each agent's entry started, the new server probed; the evidence and the report. */
async function validate(ctx: UpgradeContext, opts: ValidateOpts, findings: Findings, ev: Record<string, unknown>): Promise<void> {
  checkStaleEntries(ctx, findings);
  if (validateRunOptions(ctx).noValidate) {
    skipValidation(ctx, ev);
    return;
  }
  // Every agent's own line, as it will start the server (the IDEs' view of "healthy").
  ev.launch_entries = findings.errors.some((f) => f.code === "LAUNCH_ENTRY_STALE") ? [] : await probeEntries(ctx, findings, opts.timeoutMs);
  const expected = expectedTools(ctx, opts);
  const probe = await probeNew(ctx, opts, expected);
  probeFindings(probe, findings);
  const report = writeReport(ctx, probe, expected);
  Object.assign(ev, {
    tools_expected: expected,
    tools_registered: probe.tools,
    smoke_tests: probe.calls.map((c) => ({ tool: c.tool, ok: c.ok, ...(c.skipped ? { skipped: true } : {}), ...(c.error ? { error: c.error } : {}) })),
    stderr_errors: probe.stderrErrors,
    server_probe: { transport: probe.transport, ok: probe.ok, server_info: probe.serverInfo ?? null, duration_ms: probe.durationMs, attempts: probe.attempts },
    validation_report: report,
    // Healthy means every IDE can start it too: a stale or broken launch entry fails the whole check.
    validation: probe.ok && !findings.errors.length ? "passed" : "failed",
  });
  ctx.log.info(`validate: ${probe.ok ? "healthy" : "NOT healthy"} over ${probe.transport} (${probe.tools.length} tools, ${probe.durationMs} ms)${findings.errors.length ? `; ${findings.errors.length} problem(s) found` : ""}`);
}
