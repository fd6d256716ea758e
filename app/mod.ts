/**
 * The library: `runUpgrade(config, options)`, `defineConfig`, `definePlugin`, the hook,
 * context and evidence types. `agent-os-upgrade/plugins` exports the built-in plugin factories.
 */
import path from "node:path";
import { builtinPlugins } from "../plugins/mod.ts";
import { resolveConfig, type UserConfig } from "../core/config.ts";
import type { LogEvent } from "../core/log.ts";
import type { UpgradeResult } from "../core/types.ts";
import type { CoreOptions, OptionValues } from "../core/options.ts";
import { runOptionsOf, splitOptions } from "../core/options-resolve.ts";
import type { BACKUP_RUN_OPTIONS } from "../plugins/backup/run-options.ts";
import type { CONTENT_RUN_OPTIONS } from "../plugins/content/run-options.ts";
import type { DEPS_RUN_OPTIONS } from "../plugins/deps/run-options.ts";
import type { SERVER_RUN_OPTIONS } from "../plugins/server/run-options.ts";
import type { VALIDATE_RUN_OPTIONS } from "../plugins/validate/run-options.ts";
import { runLifecycle } from "../core/upgrader.ts";

export { parsePluginOptions, type ResolvedConfig, type UserConfig } from "../core/config.ts";
export { type CoreOptions, declareOptions, type OptionValues, optionsReader, type RunOptionDecl, type RunOptionDecls, type RunOptions } from "../core/options.ts";
export { definePlugin, type Plugin, STAGE, type TapOnlyHooks, type TapOptions } from "../core/plugin.ts";
export { type Channel, defineChannel } from "../core/channel.ts";
export type { HookName, Hooks } from "../core/hooks.ts";
export { EXIT, type ErrorCode, UpgradeError } from "../core/errors.ts";
export { ENGINE_EVIDENCE, type EvidenceDraft, type EvidenceSchemas } from "../core/evidence.ts";
export { type Phase, PHASE_NAMES, PHASES } from "../core/phases.ts";
export type { LogEvent } from "../core/log.ts";
export type { Layout } from "../core/layout.ts";
export type * from "../core/types.ts";
export { Findings } from "../core/types.ts";

/** The built-ins' run options as `runUpgrade` and a config take them: `{ skipDeps: true, decisions: {…} }`. */
export type BuiltinRunOptions = Partial<
  & OptionValues<typeof BACKUP_RUN_OPTIONS>
  & OptionValues<typeof CONTENT_RUN_OPTIONS>
  & OptionValues<typeof DEPS_RUN_OPTIONS>
  & OptionValues<typeof SERVER_RUN_OPTIONS>
  & OptionValues<typeof VALIDATE_RUN_OPTIONS>
>;

export interface RunUpgradeOptions extends Partial<CoreOptions>, BuiltinRunOptions {
  /** Receives every event of the run. */
  onEvent?: (event: LogEvent) => void;
  /** Handle SIGINT/SIGTERM (roll back on interruption); off by default for library callers. */
  handleSignals?: boolean;
  /** A user plugin's own run options, by name. */
  [option: string]: unknown;
}

/** A config object: the core's keys, the built-ins' option keys, and any a user plugin declares. */
export type Config = UserConfig & Partial<Pick<BuiltinRunOptions, "onConflict" | "keepBackups" | "restart" | "skipDeps" | "noValidate">>;

/** Gives a config file its types (the built-ins' option keys included); returns it unchanged. */
export const defineConfig = (config: Config): Config => config;

/**
 * Runs an upgrade with a config object (the built-in plugins plus `config.plugins`), through
 * the same option resolver as the CLI and the MCP tools: every option a plugin declares is
 * honoured by its name. Resolves with the result; never throws for a failed upgrade.
 */
export async function runUpgrade(config: Config = {}, options: RunUpgradeOptions = {}): Promise<UpgradeResult> {
  const { onEvent, handleSignals, ...flat } = options;
  const resolved = resolveConfig(config, null, builtinPlugins());
  const { core, given } = splitOptions(flat);
  const source = core.source ?? resolved.config.source ?? null;
  const full = runOptionsOf(resolved, {
    source: source ? path.resolve(source) : null,
    target: path.resolve(core.target ?? process.cwd()),
    dryRun: core.dryRun ?? false,
    yes: core.yes ?? false,
    json: core.json ?? false,
    interactive: core.interactive ?? false,
  }, given, "library");
  return runLifecycle({ resolved, options: full }, { onEvent: onEvent as RunUpgradeOptions["onEvent"], handleSignals: (handleSignals as boolean | undefined) ?? false });
}
