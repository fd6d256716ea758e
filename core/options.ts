/**
 * Run options a plugin owns. A plugin declares each option once — its kind, default, and the
 * ways a user sets it: a CLI flag, an MCP tool parameter, a config key — and reads it back
 * through the typed reader it makes with `optionsReader`. The engine keeps only what every
 * run has (`CoreOptions`); the resolver (options-resolve.ts) turns config + flags, library
 * arguments or tool input into one run's values, so the three ways in cannot drift.
 *
 * This file is plain data and types (no zod): the CLI reads the built-ins' declarations to
 * build its flag table on the start-up path.
 */

/** What every run has, whatever plugins are present. */
export interface CoreOptions {
  /** The source checkout (absolute), or null when none was given. */
  source: string | null;
  /** Where a source given as a git URL came from (the record keeps it: VERSION.txt `source=`, `ref=`); absent or null for a local checkout. */
  origin?: { url: string; ref: string; commit: string } | null;
  /** `--target`: the project root or its installation folder. */
  target: string;
  dryRun: boolean;
  yes: boolean;
  json: boolean;
  /** True when a person can answer prompts (stdin and stdout are terminals, not --json). */
  interactive: boolean;
  /** `migrate`: move `.agent-os/` to `.praxis-os/` in this run, to the source's newer layout (core/layout.ts `Relocation`). */
  migrate?: boolean;
}

/** The options of one run: the core's, and the values of every option the plugins declare. */
export interface RunOptions extends CoreOptions {
  /** By option name (names are unique across plugins); read through the owner's reader. */
  plugin: Record<string, unknown>;
}

export type OptionKind = "boolean" | "count" | "string" | "choice" | "decisions";

export interface RunOptionDecl {
  kind: OptionKind;
  /** The value when nobody sets it (`null` for "not given"). */
  default: unknown;
  /** One line, shown in `--help`, the MCP parameter's description and the config error. */
  describe: string;
  /** The CLI flag as help shows it: "--skip-deps", "--no-restart" (the opposite of the default), "--keep-backups <n>". */
  flag?: string;
  /** The flag's line in `--help`, when `describe` does not read as one (a `--no-` flag). */
  flagHelp?: string;
  /** The MCP tool parameter (snake_case); tools that run this plugin accept it. */
  mcp?: string;
  /** May be set as a top-level key of upgrade.config.ts. */
  config?: boolean;
  /** `resume` may override the session's value from its command line. */
  resumable?: boolean;
  /** Only with `--dry-run` (the run refuses it otherwise). */
  dryRunOnly?: boolean;
  choices?: readonly string[];
  /** A choice's value when given bare (`--diff` alone, `true` from a library or a tool): `false` is "not set". */
  bare?: string;
}

export type RunOptionDecls = Readonly<Record<string, RunOptionDecl>>;

type ValueOf<D extends RunOptionDecl> = D["kind"] extends "boolean" ? boolean
  : D["kind"] extends "count" ? number
  : D["kind"] extends "choice" ? (D["choices"] extends readonly (infer C)[] ? C : string) | null
  : D["kind"] extends "decisions" ? Record<string, "keep" | "theirs" | "merge" | "skip" | "abort"> | undefined
  : string | null;

export type OptionValues<D extends RunOptionDecls> = { readonly [K in keyof D]: ValueOf<D[K]> };

/** Gives a declaration its literal types (choices, kinds) and returns it unchanged. */
export const declareOptions = <const D extends RunOptionDecls>(decls: D): D => decls;

/** The typed reader an owner exports: its options' values in this run, defaults for any not set. */
export function optionsReader<D extends RunOptionDecls>(decls: D): (ctx: { options: RunOptions }) => OptionValues<D> {
  return (ctx) => {
    const out: Record<string, unknown> = {};
    for (const [k, d] of Object.entries(decls)) out[k] = k in ctx.options.plugin ? ctx.options.plugin[k] : d.default;
    return out as OptionValues<D>;
  };
}

/** One declaration with its name and owner, as the resolver and the CLI see it. */
export interface OwnedOption extends RunOptionDecl {
  name: string;
  owner: string;
}

/** Every option the given owners declare; two owners declaring one name is an error the caller reports. */
export function ownedOptions(owners: readonly { name: string; options?: RunOptionDecls }[]): { list: OwnedOption[]; clash: [OwnedOption, OwnedOption] | null } {
  const byName = new Map<string, OwnedOption>();
  for (const o of owners) {
    for (const [name, d] of Object.entries(o.options ?? {})) {
      const opt = { ...d, name, owner: o.name };
      const prev = byName.get(name);
      if (prev && prev.owner !== o.name) return { list: [...byName.values()], clash: [prev, opt] };
      byName.set(name, opt);
    }
  }
  return { list: [...byName.values()], clash: null };
}

/** The long name of a flag spec: "--keep-backups <n>" → "keep-backups". */
export const flagName = (flag: string): string => /--([\w-]+)/.exec(flag)![1];
