/**
 * The deps plugin (SPEC §5.3): the server's Python dependencies, installed into the
 * installation's venv with the venv's own interpreter when `requirements.txt` changed (or
 * on request), then `pip check`, then the post-install steps the requirements call for.
 *
 *   preflight      read-only: whether an install will be needed, and whether the venv exists
 *   upgradeServer  stage -10, before the server plugin swaps the code: a failed install
 *                  fails phase 3 while the old server code is still in place; the backup
 *                  restores the venv exactly on rollback
 *
 * `pip check` is compared with its result before the install, so conflicts the venv already
 * had do not fail the upgrade; only new ones do.
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { activeLayout, sourceServerDir } from "./layouts/detect.ts";
import { parsePluginOptions } from "../core/config.ts";
import { UpgradeError } from "../core/errors.ts";
import { definePlugin } from "../core/plugin.ts";
import type { ContentPlan, Findings, UpgradeContext } from "../core/types.ts";
import { connectTarget, DEFAULT_POST_INSTALL_RULES, detectPostInstall, indexUrlOf, pipCheck, pipFreeze, pipInstall, type PipInstallResult, probeConnect, runPostInstall } from "./server/pip.ts";
import { journal, journalled, ServerSwap, STEP } from "./server/shared.ts";
import { backupScope } from "./backup/scope.ts";
import { DEPS_RUN_OPTIONS, depsRunOptions } from "./deps/run-options.ts";
import { runtimeSyncOf } from "./deps/runtime-record.ts";
import { freshVenv } from "./deps/fresh-venv.ts";

export const PLUGIN_NAME = "deps";

const PostInstallRuleSchema = z.strictObject({
  name: z.string().min(1),
  requirement: z.string().min(1),
  command: z.array(z.string()).min(1),
  timeoutMs: z.number().int().positive().optional(),
});

export const DepsOptions = z.strictObject({
  /** The requirements file, relative to both the source root and the installation; default: the run's layout's (`mcp_server/requirements.txt`, `ouroboros/…`). */
  requirements: z.string().min(1).optional(),
  /** Extra `pip install` arguments, e.g. `["--no-index", "--find-links", "/wheels"]` offline. */
  extraArgs: z.array(z.string()).default([]),
  /** Per pip attempt. */
  timeoutMs: z.number().int().positive().default(600_000),
  /** Extra attempts after a network error or a timeout. */
  retries: z.number().int().min(0).default(2),
  /** Before pip runs, one connect to its package index (skipped with `--no-index`): a dead index fails in seconds, not after pip's own retries. */
  probeIndex: z.boolean().default(true),
  probeTimeoutMs: z.number().int().positive().default(5_000),
  retryDelayMs: z.number().int().min(0).default(2_000),
  /** Install even when requirements.txt did not change. */
  force: z.boolean().default(false),
  /** Post-install rules; default: an active `playwright` line → `python -m playwright install chromium`. */
  postInstall: z.array(PostInstallRuleSchema).default(DEFAULT_POST_INSTALL_RULES.map((r) => ({ ...r, command: [...r.command] }))),
});
export type DepsOptionsInput = z.input<typeof DepsOptions>;

function readOrNull(file: string): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch {
    return null;
  }
}

/** Phase 3's gate, for this plugin: dependencies installed (and pip check passed), unchanged, or skipped. */
export const DepsEvidence = z
  .looseObject({
    deps: z.looseObject({ status: z.enum(["installed", "unchanged", "skipped"]), pip_check_ok: z.boolean().nullable() }),
  })
  .refine((e) => e.deps.status !== "installed" || e.deps.pip_check_ok === true, {
    message: "pip check did not pass after installing",
    path: ["deps", "pip_check_ok"],
  });

const RETRY_REASON = { network: "network error", timeout: "timed out", resolver: "resolver error", other: "error" } as const;

/** Each way out of a failed install: what to fix, `--skip-deps`, and the config's pip arguments. */
function depsHint(ctx: UpgradeContext, r: PipInstallResult, extraArgs: readonly string[], python: string, requirements: string): string {
  const config = `the deps plugin's extraArgs in upgrade.config.ts (now ${extraArgs.length ? JSON.stringify(extraArgs) : "none"}; offline: depsPlugin({ extraArgs: ["--no-index", "--find-links", "<folder of wheels>"] }))`;
  const skip = `or pass --skip-deps to upgrade without touching the venv (then install later: "${python}" -m pip install -r "${requirements}")`;
  const last = r.attempts.at(-1)?.failure;
  const what = r.unreachableIndex || last === "network" || last === "timeout"
    ? `Make the package index reachable, or point pip at one it can reach in ${config}`
    : `Fix the requirement pip names in the source's requirements.txt, or change pip's arguments in ${config}`;
  return `${what}; ${skip}. The venv of ${ctx.layout.installDir} is restored from the backup`;
}

type DepsOpts = z.output<typeof DepsOptions>;

const python = (ctx: UpgradeContext) => path.join(ctx.layout.venvDir, "bin", "python");

/** The requirements file's name in the installation (as messages show it). */
const reqName = (ctx: UpgradeContext, opts: DepsOpts): string => opts.requirements ?? activeLayout(ctx).server.requirements;

/** The requirements to install (`source`) and the installed ones (`live`). */
function files(ctx: UpgradeContext, opts: DepsOpts): { source: string; live: string } {
  // A sync installs the committed requirements in place (app/commands/sync.ts).
  const sync = runtimeSyncOf(ctx);
  if (sync) return { source: sync.requirements, live: sync.requirements };
  if (opts.requirements) return { source: path.join(ctx.options.source!, opts.requirements), live: path.join(ctx.layout.installDir, opts.requirements) };
  const l = activeLayout(ctx);
  const inServer = path.relative(l.server.folder, l.server.requirements);
  return { source: path.join(sourceServerDir(ctx)!, inServer), live: path.join(ctx.layout.installDir, l.server.requirements) };
}

/** Whether the requirements differ (or an install is forced); null when the source has none. */
function needed(ctx: UpgradeContext, opts: DepsOpts): boolean | null {
  const sync = runtimeSyncOf(ctx);
  if (sync) return opts.force || sync.install;
  const f = files(ctx, opts);
  const src = readOrNull(f.source);
  if (src === null) return null;
  const live = readOrNull(f.live);
  return opts.force || live === null || !src.equals(live);
}

/** Why this run installs nothing, whatever the requirements say: `--skip-deps`, or no new server to install them for. */
const skipReason = (ctx: UpgradeContext): string | null =>
  depsRunOptions(ctx).skipDeps ? "--skip-deps"
  : ctx.channels.has(ServerSwap) || runtimeSyncOf(ctx) ? null
  : "the server is not upgraded in this run (no plugin swaps it)";

/** A migration makes a fresh venv at the new place (deps/fresh-venv.ts): the old one is moved into the backup, not copied. */
const migrating = (ctx: UpgradeContext): boolean => ctx.layout.relocation !== null && !skipReason(ctx);

/**
 * The venv, when phase 3 will change it; else nothing. Copied (a reflink clone where the
 * filesystem has one, see backup/snapshot.ts), not renamed aside: pip installs into it in
 * place, and a fresh venv would need every package again (offline installs fail, and it is
 * slower than the copy); what pip will touch is not known before it resolves.
 */
function venvScope(ctx: UpgradeContext, opts: DepsOpts): string[] {
  if (skipReason(ctx) || !ctx.options.source || migrating(ctx)) return [];
  return journalled(ctx, STEP.depsPlanned) || needed(ctx, opts) === true ? [ctx.layout.venvDir] : [];
}

/** `start`: the venv is in the backup only when phase 3 will install into it (see venvScope), moved aside in a migration. */
function declareScope(ctx: UpgradeContext, opts: DepsOpts): void {
  backupScope(ctx).add(PLUGIN_NAME, (c) => ({ paths: venvScope(c, opts), moveAside: migrating(c) ? [c.layout.venvDir] : [] }));
}

/** Pre-flight, read-only: whether an install is needed, a venv to install into, a reachable package index. */
async function preflight(ctx: UpgradeContext, findings: Findings, ev: Record<string, unknown>, opts: DepsOpts): Promise<void> {
  if (!ctx.options.source || !fs.existsSync(ctx.options.source) || !ctx.layout.installExists) return;
  const need = needed(ctx, opts);
  ev.deps_install_needed = skipReason(ctx) ? false : need === true;
  if (need && !skipReason(ctx) && !fs.existsSync(python(ctx)) && !runtimeSyncOf(ctx)?.createVenv) {
    findings.error(
      "VENV_MISSING",
      `Cannot install the server's dependencies: there is no venv interpreter at "${python(ctx)}"`,
      `Create it (python3 -m venv "${ctx.layout.venvDir}"), or pass --skip-deps to leave dependencies alone`,
    );
  }
  // A dead package index is found here, before the backup and the writes, not in phase 3.
  const index = need && !skipReason(ctx) && opts.probeIndex ? indexUrlOf(opts.extraArgs) : null;
  if (!index) return;
  const { host, port } = connectTarget(index, opts.extraArgs);
  const why = await probeConnect(host, port, opts.probeTimeoutMs);
  if (why) {
    findings.error(
      "PACKAGE_INDEX_UNREACHABLE",
      `Cannot install the server's changed requirements: the package index ${index} is unreachable (${why})`,
      `Make the index reachable, or point pip at one it can reach (depsPlugin({ extraArgs: [...] }) in upgrade.config.ts; offline: ["--no-index", "--find-links", "<folder of wheels>"]), or pass --skip-deps to leave dependencies alone`,
    );
  }
}

/** The dry run's plan: the requirements change phase 3 would install. */
async function planRequirements(plan: ContentPlan, ctx: UpgradeContext, opts: DepsOpts): Promise<ContentPlan> {
  if (!ctx.dryRun || !ctx.options.source || !ctx.layout.installExists) return plan;
  const f = files(ctx, opts);
  const next = readOrNull(f.source);
  if (next === null) return plan;
  const now = readOrNull(f.live);
  const { createTwoFilesPatch } = await import("diff");
  const name = reqName(ctx, opts);
  const diff = now !== null && now.equals(next) ? "" : createTwoFilesPatch(`a/${name}`, `b/${name}`, now?.toString("utf8") ?? "", next.toString("utf8"), "installed", "upstream");
  return { ...plan, requirements: { file: name, install_needed: !skipReason(ctx) && needed(ctx, opts) === true, diff } };
}

/** Phase 3, before the server's swap: skipped, unchanged, or installed (a fresh venv first in a migration). */
async function upgradeDeps(ctx: UpgradeContext, ev: Record<string, unknown>, opts: DepsOpts): Promise<void> {
  const skip = skipReason(ctx);
  if (skip) {
    ev.deps = { status: "skipped", pip_check_ok: null, reason: skip };
    if (ctx.layout.relocation) ctx.log.warn(`The venv moved with the installation and its scripts still name the old folder; make a fresh one: python3 -m venv --clear "${ctx.layout.venvDir}" && "${python(ctx)}" -m pip install -r "${files(ctx, opts).live}"`);
    return;
  }
  if (migrating(ctx)) await freshVenv(ctx, opts.timeoutMs);
  // A resumed run re-installs when the interrupted one had decided to (pip install is idempotent); a fresh venv needs everything.
  const need = journalled(ctx, STEP.depsPlanned) || migrating(ctx) ? true : needed(ctx, opts);
  if (need !== true) {
    ev.deps = { status: "unchanged", pip_check_ok: null, reason: need === null ? `the source has no ${reqName(ctx, opts)}` : `${reqName(ctx, opts)} did not change` };
    return;
  }
  await install(ctx, ev, opts);
}

/** pip into the venv with its own interpreter, `pip check` against its result before, then the post-install steps. */
async function install(ctx: UpgradeContext, ev: Record<string, unknown>, opts: DepsOpts): Promise<void> {
  const t0 = performance.now();
  const py = python(ctx);
  const { source } = files(ctx, opts);
  await journal(ctx, STEP.depsPlanned, { requirements: source });
  // Each pip command costs pip's start-up (about half a second): the two reads run side by side.
  const [checkBefore, packagesBefore] = await Promise.all([pipCheck(py), pipFreeze(py)]);
  const pipLog = path.join(ctx.layout.cacheDir, `pip-install-${new Date().toISOString().replace(/[:.]/g, "-")}.log`);
  fs.mkdirSync(ctx.layout.cacheDir, { recursive: true });
  const r = await runPip(ctx, opts, py, source, pipLog);
  const installed = r.ok;
  const [check, packagesAfter] = installed ? await Promise.all([pipCheck(py, { cwd: ctx.layout.projectRoot, timeoutMs: opts.timeoutMs }), pipFreeze(py)]) : [null, []];
  const known = new Set(checkBefore.ok ? [] : checkBefore.output.split("\n"));
  const newProblems = check && !check.ok ? check.output.split("\n").filter((l) => !known.has(l)) : [];
  const record = {
    status: "installed",
    pip_check_ok: installed ? newProblems.length === 0 : false,
    requirements: source,
    command: r.command,
    attempts: r.attempts.map((a) => ({ exit_code: a.exitCode, failure: a.failure, network_error: a.networkError, timed_out: a.timedOut, duration_ms: a.durationMs })),
    ...(r.unreachableIndex ? { unreachable_index: r.unreachableIndex } : {}),
    pip_log: fs.existsSync(pipLog) ? pipLog : null,
    packages_before: packagesBefore,
  };
  if (!installed || newProblems.length > 0) {
    ev.deps = { ...record, status: "failed", error: installed ? `pip check found broken requirements: ${newProblems[0]}` : r.error, pip_check_problems: newProblems };
    throw new UpgradeError("SERVER_FAILED", `Cannot install the server's Python dependencies: ${installed ? `pip check: ${newProblems.join("; ")}` : r.error}`, {
      hint: depsHint(ctx, r, opts.extraArgs, py, source),
      details: { output: r.attempts.at(-1)?.output, pip_log: record.pip_log },
    });
  }
  await afterInstall(ctx, ev, opts, { py, source, record, packagesBefore, packagesAfter, t0 });
}

/** pip install, its lines to the pip log and the progress line, its retries as warnings. */
function runPip(ctx: UpgradeContext, opts: DepsOpts, py: string, requirements: string, pipLog: string): Promise<PipInstallResult> {
  return pipInstall({
    python: py,
    requirements,
    extraArgs: opts.extraArgs,
    timeoutMs: opts.timeoutMs,
    retries: opts.retries,
    retryDelayMs: opts.retryDelayMs,
    probeIndex: opts.probeIndex,
    probeTimeoutMs: opts.probeTimeoutMs,
    check: false, // install() runs it beside pip freeze
    cwd: ctx.layout.projectRoot,
    onLine: (line) => {
      fs.appendFileSync(pipLog, line + "\n");
      // A status line: one updating line on a terminal, plain lines elsewhere (app/render.ts).
      ctx.log.progress(`pip: ${line.trim()}`, 0, 0);
    },
    onRetry: (t) => {
      const msg = `pip: attempt ${t.attempt} of ${t.of} failed (${RETRY_REASON[t.failure]}: ${t.error}); retrying in ${Math.round(t.delayMs / 1000)} s`;
      fs.appendFileSync(pipLog, msg + "\n");
      ctx.log.warn(msg);
    },
  });
}

/** What pip installed (the record), then the post-install steps the requirements call for. */
async function afterInstall(
  ctx: UpgradeContext,
  ev: Record<string, unknown>,
  opts: DepsOpts,
  done: { py: string; source: string; record: Record<string, unknown>; packagesBefore: string[]; packagesAfter: string[]; t0: number },
): Promise<void> {
  const packagesAfter = done.packagesAfter;
  const steps = detectPostInstall(fs.readFileSync(done.source, "utf8"), { rules: opts.postInstall, python: done.py });
  const outcomes = await runPostInstall(steps, { cwd: ctx.layout.projectRoot, timeoutMs: opts.timeoutMs });
  const postInstall = outcomes.map((o) => ({ rule: o.rule, command: o.command, ok: o.ok, exit_code: o.exitCode, duration_ms: o.durationMs }));
  const added = packagesAfter.filter((p) => !done.packagesBefore.includes(p));
  ev.deps = {
    ...done.record,
    packages_after: packagesAfter,
    added,
    removed: done.packagesBefore.filter((p) => !packagesAfter.includes(p)),
    post_install: postInstall,
    duration_ms: Math.round(performance.now() - done.t0),
  };
  const failed = outcomes.find((o) => !o.ok);
  if (failed) {
    throw new UpgradeError("SERVER_FAILED", `Cannot finish the dependency install: post-install step "${failed.rule}" (${failed.command.join(" ")}) ${failed.timedOut ? "timed out" : `exited with ${failed.exitCode}`}`, {
      hint: "Run the step by hand to see why, or change the deps plugin's postInstall rules; the venv is restored from the backup",
      details: { output: failed.output },
    });
  }
  await journal(ctx, STEP.depsInstalled, { added: added });
  ctx.log.info(`deps: installed from ${reqName(ctx, opts)} (${added.join(", ") || "no new packages"})`);
}

/** The deps plugin: the factory parses its options and taps; every step is a named function above. */
export function depsPlugin(options: DepsOptionsInput = {}) {
  const opts = parsePluginOptions(PLUGIN_NAME, DepsOptions, options);
  return definePlugin({
    name: PLUGIN_NAME,
    evidence: { 3: DepsEvidence },
    options: DEPS_RUN_OPTIONS,
    // The venv it changes is restored by the backup plugin.
    requires: ["backup"],
    apply(hooks) {
      hooks.start.tap((ctx) => declareScope(ctx, opts));
      hooks.preflight.tap((ctx, findings, ev) => preflight(ctx, findings, ev, opts));
      hooks.planContent.tap((plan, ctx) => planRequirements(plan, ctx, opts));
      // The gate's schema types `deps` narrowly; the record keeps more (what was installed, how).
      hooks.upgradeServer.tap({ before: "server" }, (ctx, draft) => upgradeDeps(ctx, draft as Record<string, unknown>, opts));
    },
  });
}
