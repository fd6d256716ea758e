/** What every command shares: the global flags, the config (loaded only when there is one), run options. */
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ResolvedConfig } from "../core/config.ts";
import type { LogEvent } from "../core/log.ts";
import { isInteractiveTerminal } from "../core/runtime.ts";
import type { ConflictPolicy, RunOptions } from "../core/types.ts";
import type { ParsedArgs } from "./argv.ts";
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
  return humanRenderer(sink, { verbose: g.verbose, tty, progress });
}

/** CLI flags over config values over defaults. */
export async function runOptions(p: ParsedArgs, g: GlobalFlags, resolved: ResolvedConfig, cwd: string): Promise<RunOptions> {
  const o = p.opts;
  // Loaded only for --decisions: every command imports this module, and decide.ts brings zod and the content plugin's options.
  const decisions = o.decisions ? (await load<typeof import("../plugins/content/decide.ts")>("../plugins/content/decide.ts")).readDecisionsFile(path.resolve(cwd, o.decisions as string)) : undefined;
  const c = resolved.config;
  const fromCli = (k: string) => p.given.has(k);
  const source = (o.source as string | undefined) ?? c.source ?? null;
  return {
    source: source ? path.resolve(cwd, source) : null,
    target: targetOf(cwd, g),
    dryRun: Boolean(o.dryRun),
    diff: Boolean(o.diff),
    ...(typeof o.diff === "string" ? { diffScope: o.diff as RunOptions["diffScope"] } : {}),
    onConflict: (o.onConflict as ConflictPolicy | undefined) ?? c.onConflict ?? null,
    ...(decisions ? { decisions } : {}),
    yes: Boolean(g.yes),
    json: Boolean(g.json),
    restart: fromCli("restart") ? Boolean(o.restart) : c.restart ?? true,
    skipDeps: fromCli("skipDeps") ? Boolean(o.skipDeps) : c.skipDeps ?? false,
    noValidate: fromCli("validate") ? o.validate === false : c.noValidate ?? false,
    keepBackups: (o.keepBackups as number | undefined) ?? c.keepBackups ?? 3,
    from: (o.from as string | undefined) ?? null,
    interactive: !g.json && isInteractiveTerminal(),
  };
}

/** The run flags given on the command line of `resume`: they override the ones the session saved. */
export function resumeOverrides(p: ParsedArgs): Partial<RunOptions> {
  const o = p.opts;
  const fromCli = (k: string) => p.given.has(k);
  return {
    ...(fromCli("skipDeps") ? { skipDeps: Boolean(o.skipDeps) } : {}),
    ...(fromCli("restart") ? { restart: Boolean(o.restart) } : {}),
    ...(fromCli("validate") ? { noValidate: o.validate === false } : {}),
  };
}
