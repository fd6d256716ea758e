/** What every command shares: the global flags, the config (loaded only when there is one), run options. */
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ResolvedConfig } from "../core/config.ts";
import type { LogEvent } from "../core/log.ts";
import { isInteractiveTerminal } from "../core/runtime.ts";
import { type CoreOptions, flagName, type OwnedOption, type RunOptions } from "../core/options.ts";
import { optionKey, type ParsedArgs } from "./argv.ts";
import type { Sink } from "./render.ts";

// Not a literal `import()`: Deno reads every module a literal one names, transitively, at start (see cli.ts).
const load = <T>(spec: string): Promise<T> => import(spec);

export interface GlobalFlags {
  target?: string;
  config?: string;
  json?: boolean;
  yes?: boolean;
  verbose?: boolean;
}

export const globals = (p: ParsedArgs): GlobalFlags => p.opts as GlobalFlags;

export const targetOf = (cwd: string, g: GlobalFlags): string => path.resolve(cwd, g.target ?? cwd);

function selfModule(rel: string): string {
  const here = fileURLToPath(import.meta.url);
  const ext = here.endsWith(".ts") ? ".ts" : ".js";
  return path.resolve(path.dirname(here), rel + ext);
}

/** Lets a config `import … from "agent-os-upgrade"` wherever this tool runs from (npx, a checkout). */
export const CONFIG_ALIASES = () => ({
  "agent-os-upgrade/plugins": selfModule("../plugins/mod"),
  "agent-os-upgrade": selfModule("./mod"),
});

/** The config of the project (or `--config`) with the built-in plugins composed in. */
export async function loadConfig(cwd: string, g: GlobalFlags): Promise<ResolvedConfig> {
  const [{ loadConfigFile, resolveConfig }, { resolveLayout }, { builtinPlugins }] = await Promise.all([
    load<typeof import("../core/config.ts")>("../core/config.ts"),
    load<typeof import("../core/layout.ts")>("../core/layout.ts"),
    load<typeof import("../plugins/mod.ts")>("../plugins/mod.ts"),
  ]);
  const layout = resolveLayout(targetOf(cwd, g));
  const { file, raw } = await loadConfigFile(layout.projectRoot, g.config ? path.resolve(cwd, g.config) : null, CONFIG_ALIASES());
  return resolveConfig(raw, file, builtinPlugins());
}

export async function renderer(g: GlobalFlags, sink: Sink): Promise<(e: LogEvent) => void> {
  const { humanRenderer, jsonRenderer } = await load<typeof import("./render.ts")>("./render.ts");
  if (g.json) return jsonRenderer(sink);
  const tty = Boolean(process.stderr.isTTY);
  const progress = tty ? (await load<typeof import("./progress.ts")>("./progress.ts")).terminalProgress() : undefined;
  // startedAt 0: the summary's time counts from the process's start (see HumanOptions).
  return humanRenderer(sink, { verbose: g.verbose, tty, progress, startedAt: 0 });
}

/** The option names the command line gave, with their values (a `--no-x` flag sets the opposite of the default). */
function givenByFlags(p: ParsedArgs, list: readonly OwnedOption[], only?: (o: OwnedOption) => boolean): Record<string, unknown> {
  const given: Record<string, unknown> = {};
  for (const o of list) {
    if (!o.flag || (only && !only(o))) continue;
    const key = optionKey(o.flag);
    if (!p.given.has(key)) continue;
    given[o.name] = flagName(o.flag).startsWith("no-") ? !o.default : p.opts[key];
  }
  return given;
}

/**
 * `upgrade --ci`: the plugins' own options a bot's run needs, as if their flags were given (so
 * over the config); a flag the user gives wins. No venv, no pip, no restart, no MCP check,
 * conflicts merged with markers; the record says the runtime is pending.
 */
export const CI_PRESET: Readonly<Record<string, unknown>> = Object.freeze({ skipDeps: true, restart: false, noValidate: true, onConflict: "merge", runtimePending: true });

function withCiPreset(given: Record<string, unknown>, declared: readonly OwnedOption[]): Record<string, unknown> {
  const out = { ...given };
  // An option no plugin of this run declares (a config that left its plugin out) is not set.
  for (const [k, v] of Object.entries(CI_PRESET)) if (!(k in out) && declared.some((d) => d.name === k)) out[k] = v;
  return out;
}

/** CLI flags over config values over defaults, through the one resolver. */
export async function runOptions(p: ParsedArgs, g: GlobalFlags, resolved: ResolvedConfig, cwd: string, how: { useRecord?: boolean } = {}): Promise<RunOptions> {
  const o = p.opts;
  const { runOptionsOf } = await load<typeof import("../core/options-resolve.ts")>("../core/options-resolve.ts");
  const flags = givenByFlags(p, [...resolved.options]);
  const given = o.ci ? withCiPreset(flags, resolved.options) : flags;
  // The flag names a file; the option's value is the map it holds (decide.ts brings zod: loaded only for --decisions).
  if (typeof given.decisions === "string") {
    given.decisions = (await load<typeof import("../plugins/content/decide.ts")>("../plugins/content/decide.ts")).readDecisionsFile(path.resolve(cwd, given.decisions));
  }
  // A git URL (or --ref) is fetched into the user's cache here, before any plugin runs (app/source.ts).
  const { resolveSourceArgs } = await load<typeof import("./source.ts")>("./source.ts");
  const asked = { source: (o.source as string | undefined) ?? resolved.config.source ?? null, ref: (o.ref as string | undefined) ?? null, useRecord: how.useRecord };
  const src = await resolveSourceArgs(asked, cwd, targetOf(cwd, g));
  const core: CoreOptions = {
    source: src.source,
    origin: src.origin,
    target: targetOf(cwd, g),
    dryRun: Boolean(o.dryRun),
    yes: Boolean(g.yes),
    json: Boolean(g.json),
    // A CI run never asks, even on a terminal.
    interactive: !g.json && !o.ci && isInteractiveTerminal(),
    ...(p.command.name === "migrate" ? { migrate: true } : {}),
  };
  return runOptionsOf(resolved, core, given, "cli");
}

/** The run flags given on the command line of `resume`: they override the ones the session saved. */
export function resumeOverrides(p: ParsedArgs, resolved: ResolvedConfig): Record<string, unknown> {
  return givenByFlags(p, resolved.options, (o) => Boolean(o.resumable));
}
