/**
 * Run options for tests that drive the engine in-process: core keys and plugin option names
 * side by side (as `runUpgrade` takes them), split into `RunOptions` without the resolver,
 * so a test can hand a plugin a value its reader then sees. `resolvedWith` composes plugins
 * as a config with only user plugins would.
 */
import { resolveConfig, type ResolvedConfig } from "../../core/config.ts";
import type { CoreOptions, RunOptions } from "../../core/options.ts";
import { splitOptions } from "../../core/options-resolve.ts";
import type { Plugin } from "../../core/plugin.ts";

export type FlatRunOptions = Partial<CoreOptions> & { [option: string]: unknown };

export function toRunOptions(flat: FlatRunOptions): RunOptions {
  const { core, given } = splitOptions(flat);
  return { source: null, target: process.cwd(), dryRun: false, yes: false, json: false, interactive: false, ...core, plugin: given };
}

/** Options with some values changed: core keys in place, option names in `plugin`. */
export function withOptions(o: RunOptions, over: FlatRunOptions): RunOptions {
  const { core, given } = splitOptions(over);
  return { ...o, ...core, plugin: { ...o.plugin, ...given } };
}

export function resolvedWith(plugins: Plugin[]): ResolvedConfig {
  return resolveConfig({ plugins }, null, []);
}
