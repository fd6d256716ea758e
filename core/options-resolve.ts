/**
 * The one resolver of run options: a value given for this run (a CLI flag, a library
 * argument, an MCP parameter) over the config's key over the declared default, each checked
 * against its declared kind. The CLI, `runUpgrade` and the MCP tools all come through here.
 */
import { z } from "zod";
import { UpgradeError } from "./errors.ts";
import type { ResolvedConfig } from "./config.ts";
import { type CoreOptions, flagName, type OwnedOption, type RunOptions } from "./options.ts";

export const DECISIONS = ["keep", "theirs", "merge", "skip", "abort"] as const;

/** How this run's values were given, for messages that name what the user typed. */
export type GivenVia = "cli" | "library" | "mcp";

function schemaOf(o: OwnedOption): z.ZodType {
  switch (o.kind) {
    case "boolean":
      return z.boolean();
    case "count":
      return z.number().int().min(1);
    case "string":
      return z.string().min(1).nullable();
    case "choice":
      return z.enum(o.choices as [string, ...string[]]).nullable();
    case "decisions":
      return z.record(z.string().min(1), z.enum(DECISIONS)).optional();
  }
}

const labelOf = (o: OwnedOption, via: GivenVia): string => {
  if (via === "cli" && o.flag) return `--${flagName(o.flag)}`;
  if (via === "mcp" && o.mcp) return o.mcp;
  return o.name;
};

/** Checks one value against its option's kind; the error names the option as the user gave it. */
export function checkOptionValue(o: OwnedOption, value: unknown, where: { via: GivenVia } | { config: string }): unknown {
  const r = schemaOf(o).safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const at = issue.path.length ? `.${issue.path.join(".")}` : "";
  if ("config" in where) {
    throw new UpgradeError("CONFIG_INVALID", `Invalid config in ${where.config}: ${o.name}${at}: ${issue.message}`, {
      hint: `${o.describe}; fix the value of \`${o.name}\``,
    });
  }
  throw new UpgradeError("USAGE", `Invalid value for ${labelOf(o, where.via)}${at}: ${issue.message}`, {
    hint: o.describe,
  });
}

export interface OptionSources {
  /** Values given for this run, by option name (already mapped from flags or parameters). */
  given: Readonly<Record<string, unknown>>;
  via: GivenVia;
  /** The config's values, by option name (already checked by resolveConfig). */
  config: Readonly<Record<string, unknown>>;
  /** Names declared by plugins not in this run (a disabled built-in): given values for them are ignored. */
  absent?: ReadonlySet<string>;
}

/** Every declared option's value for one run: given, else config (where allowed), else default. */
export function resolveOptionValues(list: readonly OwnedOption[], src: OptionSources): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const o of list) {
    const given = src.given[o.name];
    if (given !== undefined) out[o.name] = checkOptionValue(o, given, { via: src.via });
    else if (o.config && src.config[o.name] !== undefined) out[o.name] = src.config[o.name];
    else out[o.name] = o.default;
  }
  const unknown = Object.keys(src.given).filter((k) => src.given[k] !== undefined && !src.absent?.has(k) && !list.some((o) => o.name === k));
  if (unknown.length) {
    throw new UpgradeError("USAGE", `Unknown run option${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}`, {
      hint: `The plugins of this run declare: ${list.map((o) => o.name).join(", ")}`,
    });
  }
  return out;
}

/**
 * One run's options: the core's, and every option the run's plugins declare, from the values
 * given (by option name) over the config over the defaults. A dry-run-only option set
 * without `--dry-run` is a usage error.
 */
export function runOptionsOf(resolved: ResolvedConfig, core: CoreOptions, given: Readonly<Record<string, unknown>>, via: GivenVia): RunOptions {
  const plugin = resolveOptionValues(resolved.options, { given, via, config: resolved.optionValues, absent: resolved.absentOptions });
  if (!core.dryRun) {
    const o = resolved.options.find((x) => x.dryRunOnly && plugin[x.name] !== x.default);
    if (o) {
      const label = labelOf(o, via);
      throw new UpgradeError("USAGE", `Cannot use ${label} without ${via === "cli" ? "--dry-run" : "dryRun"}`, { hint: `Add --dry-run (${label}: ${o.describe})` });
    }
  }
  return { ...core, plugin };
}

const CORE_KEYS = ["source", "target", "dryRun", "yes", "json", "interactive"] as const;

/** A flat bag (core keys and option names side by side, as `runUpgrade` takes it) split in two. */
export function splitOptions(flat: Readonly<Record<string, unknown>>): { core: Partial<CoreOptions>; given: Record<string, unknown> } {
  const core: Record<string, unknown> = {};
  const given: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(flat)) {
    if ((CORE_KEYS as readonly string[]).includes(k)) core[k] = v;
    else given[k] = v;
  }
  return { core: core as Partial<CoreOptions>, given };
}
