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
 * to do → one line, exit 0, before any lock, session or byte.
 */
import type { ParsedArgs } from "../argv.ts";
import { EXIT } from "../../core/errors.ts";
import { resolveLayout } from "../../core/layout.ts";
import type { ResolvedConfig } from "../../core/config.ts";
import type { UpgradeResult } from "../../core/types.ts";
import { runLifecycle } from "../../core/upgrader.ts";
import { runOptionsOf } from "../../core/options-resolve.ts";
import { checkRuntime, type RuntimeCheck } from "../../plugins/deps/runtime-record.ts";
import { runtimeSyncPlugin } from "../../plugins/runtime-sync.ts";
import { globals, loadConfig, renderer, targetOf } from "../options.ts";
import { isInteractiveTerminal } from "../../core/runtime.ts";
import type { Sink } from "../render.ts";

/** The configured plugins a sync runs (with their options from the config): the runtime's, never content's, the server swap's, migrate's or report's. */
export const SYNC_PLUGINS: ReadonlySet<string> = new Set(["backup", "user-files", "deps", "validate"]);

/** The run's config: the configured runtime plugins plus runtime-sync. */
export function syncConfig(resolved: ResolvedConfig, check: RuntimeCheck): ResolvedConfig {
  return { ...resolved, plugins: [...resolved.plugins.filter((p) => SYNC_PLUGINS.has(p.name)), runtimeSyncPlugin(check)] };
}

function line(check: RuntimeCheck): string {
  return check.behind ? `Syncing this machine's runtime with the committed installation: ${check.reasons.join("; ")}` : "Nothing to do: this machine's runtime (venv and server) matches the committed installation";
}

function done(r: UpgradeResult): string {
  if (r.status === "completed") return "Synced: the venv has the committed requirements and the server runs the committed code (validated)";
  return r.status === "rolled_back" ? "Sync failed and was rolled back: the venv is as it was" : `Sync ${r.status}`;
}

export async function syncCommand(p: ParsedArgs, cwd: string, sink: Sink): Promise<number> {
  const g = globals(p);
  const target = targetOf(cwd, g);
  const layout = resolveLayout(target);
  const check = checkRuntime(layout);
  if (!check.behind) {
    if (g.json) sink.out(JSON.stringify({ type: "result", schema_version: 1, command: "sync", status: "completed", exit_code: EXIT.ok, up_to_date: true, session_id: null, message: line(check) }));
    else sink.out(line(check));
    return EXIT.ok;
  }
  if (!g.json) sink.out(line(check));
  const resolved = await loadConfig(cwd, g);
  // The installation is the source: nothing is fetched, no record of an upstream is read.
  const options = runOptionsOf(resolved, {
    source: layout.installDir,
    origin: null,
    target,
    dryRun: false,
    yes: Boolean(g.yes),
    json: Boolean(g.json),
    interactive: !g.json && isInteractiveTerminal(),
  }, {}, "cli");
  const result = await runLifecycle({ resolved: syncConfig(resolved, check), options }, { onEvent: await renderer(g, sink), handleSignals: true });
  if (!g.json) sink.out(done(result));
  return result.exit_code;
}
