/**
 * The real upgrader (runLifecycle) on an McpProject (mcp-project.ts) with the built-in
 * plugins, deps installed offline from the project's wheelhouse: the setup backup-venv and
 * server-plugins share.
 */
import fs from "node:fs";
import path from "node:path";
import type { Plugin } from "../../core/plugin.ts";
import type { SessionState } from "../../core/state.ts";
import type { RunOptions, UpgradeResult } from "../../core/types.ts";
import { runLifecycle, runManualRollback } from "../../core/upgrader.ts";
import { backupPlugin } from "../../plugins/backup.ts";
import { contentPlugin } from "../../plugins/content.ts";
import { depsPlugin } from "../../plugins/deps.ts";
import { migratePlugin } from "../../plugins/migrate.ts";
import { preflightPlugin } from "../../plugins/preflight.ts";
import { reportPlugin } from "../../plugins/report.ts";
import { serverPlugin } from "../../plugins/server.ts";
import { userFilesPlugin } from "../../plugins/user-files.ts";
import { validatePlugin, type ValidateOptionsInput } from "../../plugins/validate.ts";
import { offlinePipArgs } from "../../demo/kit/wheels.ts";
import type { McpProject } from "./mcp-project.ts";
import { toRunOptions, resolvedWith, type FlatRunOptions } from "./run-options.ts";

/** The built-in plugins in order; pip offline without retries, 10 s to start or validate a server unless `validate` says. */
export function projectPlugins(p: McpProject, validate: ValidateOptionsInput = {}): Plugin[] {
  return [
    preflightPlugin(),
    contentPlugin(),
    backupPlugin(),
    userFilesPlugin(),
    depsPlugin({ extraArgs: offlinePipArgs(p.wheelhouse), retries: 0 }),
    serverPlugin({ startTimeoutMs: 10_000 }),
    migratePlugin(),
    validatePlugin({ timeoutMs: 10_000, ...validate }),
    reportPlugin(),
  ];
}

/** An upgrade of `p` from its source as the CLI would run it without flags (JSON output, no terminal), changed by `o`. */
export function projectOptions(p: McpProject, o: FlatRunOptions = {}): RunOptions {
  return toRunOptions({
    source: p.source,
    target: p.project,
    dryRun: false,
    diff: false,
    onConflict: "theirs",
    yes: false,
    json: true,
    restart: true,
    skipDeps: false,
    keepBackups: 3,
    from: null,
    interactive: false,
    ...o,
  });
}

export function upgradeProject(plugins: Plugin[], options: RunOptions): Promise<UpgradeResult> {
  return runLifecycle({ resolved: resolvedWith(plugins), options });
}

/** A manual rollback of `p`'s newest upgrade. */
export function rollbackProject(plugins: Plugin[], options: RunOptions) {
  return runManualRollback({ resolved: resolvedWith(plugins), options, backupId: null });
}

/** The session file a run left. */
export function stateOf(p: McpProject, result: UpgradeResult): SessionState {
  return JSON.parse(fs.readFileSync(path.join(p.install, ".cache", "state", `${result.session_id}.json`), "utf8"));
}
