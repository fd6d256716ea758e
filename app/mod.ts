/**
 * The library: `runUpgrade(config, options)`, `defineConfig`, `definePlugin`, the hook,
 * context and evidence types. `agent-os-upgrade/plugins` exports the built-in plugin factories.
 */
import path from "node:path";
import { builtinPlugins } from "../plugins/mod.ts";
import { resolveConfig, type UserConfig } from "../core/config.ts";
import type { LogEvent } from "../core/log.ts";
import type { RunOptions, UpgradeResult } from "../core/types.ts";
import { runLifecycle } from "../core/upgrader.ts";

export { defineConfig, parsePluginOptions, type ResolvedConfig, type UserConfig } from "../core/config.ts";
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

export interface RunUpgradeOptions extends Partial<RunOptions> {
  /** Receives every event of the run. */
  onEvent?: (event: LogEvent) => void;
  /** Handle SIGINT/SIGTERM (roll back on interruption); off by default for library callers. */
  handleSignals?: boolean;
}

/** Runs an upgrade with a config object (the built-in plugins plus `config.plugins`). Resolves with the result; never throws for a failed upgrade. */
export async function runUpgrade(config: UserConfig = {}, options: RunUpgradeOptions = {}): Promise<UpgradeResult> {
  const resolved = resolveConfig(config, null, builtinPlugins());
  const c = resolved.config;
  const source = options.source ?? c.source ?? null;
  const full: RunOptions = {
    source: source ? path.resolve(source) : null,
    target: path.resolve(options.target ?? process.cwd()),
    dryRun: options.dryRun ?? false,
    diff: options.diff ?? false,
    onConflict: options.onConflict ?? c.onConflict ?? null,
    yes: options.yes ?? false,
    json: options.json ?? false,
    restart: options.restart ?? c.restart ?? true,
    skipDeps: options.skipDeps ?? c.skipDeps ?? false,
    keepBackups: options.keepBackups ?? c.keepBackups ?? 3,
    from: options.from ?? null,
    interactive: options.interactive ?? false,
  };
  return runLifecycle({ resolved, options: full }, { onEvent: options.onEvent, handleSignals: options.handleSignals ?? false });
}
