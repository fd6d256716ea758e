/**
 * The run options as MCP tool parameters, from the same declarations the CLI's flags and the
 * config keys come from (the built-ins' `RunOptionDecls`): a tool's input schema, the values
 * a call gave (for the in-process dry run), and the CLI flags that pass them to a detached run.
 */
import { z } from "zod";
import { flagName, type OwnedOption, ownedOptions } from "../../core/options.ts";
import { BUILTIN_RUN_OPTIONS } from "../../plugins/run-options.ts";
import { MAX_DECISIONS } from "../../plugins/content/decide.ts";

const OPTIONS: readonly OwnedOption[] = ownedOptions(BUILTIN_RUN_OPTIONS).list.filter((o) => o.mcp);

/** A per-file decision an assistant passes (abort is a policy, not a file's decision). */
export const DECISION = z.enum(["keep", "theirs", "merge", "skip"]);

/** A path, ref or id from the assistant: bounded, and no NUL byte (no file system or git takes one). */
export const PathArg = z.string().min(1).max(4096).refine((v) => !v.includes("\0"), "must not contain a NUL byte");

/** Decisions per path, bounded like a --decisions file (refused before anything runs). */
const DecisionsArg = z.record(PathArg, DECISION)
  .refine((o) => Object.keys(o).length <= MAX_DECISIONS, `at most ${MAX_DECISIONS} decisions (one per conflicting path)`);

function paramSchema(o: OwnedOption): z.ZodType {
  const base = o.kind === "boolean" ? z.boolean()
    : o.kind === "count" ? z.number().int().min(1)
    : o.kind === "choice" && o.bare ? z.union([z.boolean(), z.enum(o.choices as [string, ...string[]])])
    : o.kind === "choice" ? z.enum(o.choices as [string, ...string[]])
    : o.kind === "decisions" ? DecisionsArg
    : PathArg;
  const dflt = o.default === null || o.default === undefined ? "" : ` (default ${JSON.stringify(o.default)})`;
  return base.optional().describe(`${o.describe}${dflt}`);
}

/** The input shape of a tool: the parameters of the options `pick` keeps. */
export function optionParams(pick: (o: OwnedOption) => boolean): Record<string, z.ZodType> {
  return Object.fromEntries(OPTIONS.filter(pick).map((o) => [o.mcp!, paramSchema(o)]));
}

/** The options a call set, by option name (for the resolver). */
export function givenByParams(args: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const given: Record<string, unknown> = {};
  for (const o of OPTIONS) if (args[o.mcp!] !== undefined) given[o.name] = args[o.mcp!];
  return given;
}

/** The CLI flags that give a detached run the same options; a decisions map goes through a file the runner writes. */
export function flagsOfParams(args: Readonly<Record<string, unknown>>, decisionsFile: string): string[] {
  const out: string[] = [];
  for (const o of OPTIONS) {
    const v = args[o.mcp!];
    if (v === undefined || !o.flag) continue;
    const flag = `--${flagName(o.flag)}`;
    if (o.kind === "boolean") {
      if (v !== o.default) out.push(flag); // a boolean flag sets the opposite of its default
    } else if (o.bare !== undefined && typeof v === "boolean") {
      if (v) out.push(flag);
    } else if (o.bare !== undefined) {
      out.push(`${flag}=${v}`); // an optional value is given inline only
    } else if (o.kind === "decisions") {
      if (Object.keys(v as object).length) out.push(flag, decisionsFile);
    } else out.push(flag, String(v));
  }
  return out;
}
