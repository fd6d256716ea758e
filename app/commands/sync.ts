/**
 * `agent-os-upgrade sync`: for the teammate who pulls an upgraded (or migrated) install. It
 * brings this machine's runtime to what is committed — the requirements into the venv when
 * they changed (a new venv where there is none or the install moved), the server restarted,
 * validated by the IDE's launch line — through the engine, as an upgrade runs: pre-flight,
 * the scoped backup (the venv), state after each phase, exact rollback on failure.
 *
 * The run's source is the installation itself and only the runtime's plugins take part
 * (backup, user-files, deps, validate, runtime-sync): content, server code, launch entries,
 * VERSION.txt and the logs are the project's git's, and a sync writes none of them. Nothing
 * to do → one line, exit 0, before any lock, session or byte. The plan is kept in the
 * session's options, so `resume` finishes an interrupted sync as a sync (never as an upgrade
 * from the installation).
 */
import type { ParsedArgs } from "../argv.ts";
import type { ResolvedConfig } from "../../core/config.ts";
import { EXIT } from "../../core/errors.ts";
import { resolveLayout } from "../../core/layout.ts";
import { readLock } from "../../core/lock-status.ts";
import { runOptionsOf } from "../../core/options-resolve.ts";
import { isInteractiveTerminal } from "../../core/runtime.ts";
import { StateStore } from "../../core/state.ts";
import type { RunOptions, UpgradeResult } from "../../core/types.ts";
import { findResumable, runLifecycle } from "../../core/upgrader.ts";
import { checkRuntime, type RuntimeCheck, SYNC_PLAN_KEY, type SyncPlan, syncPlanOf } from "../../plugins/deps/runtime-record.ts";
import { runtimeSyncPlugin } from "../../plugins/runtime-sync.ts";
import { type GlobalFlags, globals, loadConfig, renderer, targetOf } from "../options.ts";
import type { Sink } from "../render.ts";

/** The configured plugins a sync runs (with their options from the config): the runtime's, never content's, the server swap's, migrate's or report's. */
export const SYNC_PLUGINS: ReadonlySet<string> = new Set(["backup", "user-files", "deps", "validate"]);

/** The run's config: the configured runtime plugins plus runtime-sync. */
export function syncConfig(resolved: ResolvedConfig, plan: SyncPlan): ResolvedConfig {
  return { ...resolved, plugins: [...resolved.plugins.filter((p) => SYNC_PLUGINS.has(p.name)), runtimeSyncPlugin(plan)] };
}

const NOTHING = "Nothing to do: this machine's runtime (venv and server) matches the committed installation";

function done(r: UpgradeResult): string {
  if (r.status === "completed") return "Synced: the venv has the committed requirements and the server runs the committed code (validated)";
  return r.status === "rolled_back" ? "Sync failed and was rolled back: this machine's runtime is as it was" : `Sync ${r.status}: see the error above`;
}

/** The run options of a sync: the installation as the source (nothing fetched, no upstream record read), the plan kept for resume. */
function syncOptions(resolved: ResolvedConfig, g: GlobalFlags, target: string, plan: SyncPlan): RunOptions {
  const core = { source: resolveLayout(target).installDir, origin: null, target, dryRun: false, yes: Boolean(g.yes), json: Boolean(g.json), interactive: !g.json && isInteractiveTerminal() };
  // A config's skipDeps is for upgrades: installing the requirements is what a sync is for.
  const options = runOptionsOf(resolved, core, { skipDeps: false }, "cli");
  return { ...options, plugin: { ...options.plugin, [SYNC_PLAN_KEY]: plan } };
}

const planOf = (c: RuntimeCheck): SyncPlan => ({ requirements: c.requirements, requirementsSha: c.requirementsSha, install: c.install, createVenv: c.createVenv });

export async function syncCommand(p: ParsedArgs, cwd: string, sink: Sink): Promise<number> {
  const g = globals(p);
  const target = targetOf(cwd, g);
  const layout = resolveLayout(target);
  const check = checkRuntime(layout);
  // A lock (a running upgrade, an interrupted one) goes to the engine, which names it and the way out.
  if (!check.behind && readLock(layout).kind === "absent") {
    if (g.json) sink.out(JSON.stringify({ type: "result", schema_version: 1, command: "sync", status: "completed", exit_code: EXIT.ok, up_to_date: true, session_id: null, message: NOTHING }));
    else sink.out(NOTHING);
    return EXIT.ok;
  }
  if (!g.json && check.behind) sink.out(`Syncing this machine's runtime with the committed installation: ${check.reasons.join("; ")}`);
  const resolved = await loadConfig(cwd, g);
  const plan = planOf(check);
  const result = await runLifecycle({ resolved: syncConfig(resolved, plan), options: syncOptions(resolved, g, target, plan) }, { onEvent: await renderer(g, sink), handleSignals: true });
  if (!g.json) sink.out(done(result));
  return result.exit_code;
}

/** The plan of the session `resume` would continue, when that session is a sync's; null otherwise (or when there is none: resume says so). */
export function syncToResume(target: string, sessionId: string | null): SyncPlan | null {
  try {
    return syncPlanOf(findResumable(new StateStore(resolveLayout(target).stateDir), sessionId).options);
  } catch {
    return null;
  }
}

/** `resume` of an interrupted sync: the same plugins and plan, from its first incomplete phase. */
export async function resumeSync(p: ParsedArgs, sessionId: string | null, plan: SyncPlan, cwd: string, sink: Sink): Promise<number> {
  const g = globals(p);
  const target = targetOf(cwd, g);
  const resolved = await loadConfig(cwd, g);
  const result = await runLifecycle({ resolved: syncConfig(resolved, plan), options: syncOptions(resolved, g, target, plan), resume: { sessionId } }, { onEvent: await renderer(g, sink), handleSignals: true });
  if (!g.json) sink.out(done(result));
  return result.exit_code;
}
