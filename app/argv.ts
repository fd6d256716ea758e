/**
 * Commands and options as data, parsed by Node's own `parseArgs` (`node:util`, which Deno
 * provides too) and turned into help text. Not commander: it is CommonJS, and Deno sets up
 * `require` for it in about 100 ms of every start (issue 9). parseArgs has no commands,
 * choices or help, so this file adds those: one pass over its tokens, and usage errors in
 * the words commander used ("unknown option '--x'").
 */
import { parseArgs } from "node:util";

export interface OptionSpec {
  /** As in help: "--target <dir>", "-y, --yes", "--no-restart" (sets `restart` to false). */
  flags: string;
  help: string;
  choices?: readonly string[];
  /** Turns the value into the option's value; throws an Error saying what is expected. */
  parse?: (value: string) => unknown;
}

export interface CommandSpec {
  name: string;
  /** Optional arguments only, as in help: ["[session]"]. */
  args?: string[];
  help: string;
  options: OptionSpec[];
}

export interface ProgramSpec {
  name: string;
  help: string;
  version: string;
  options: OptionSpec[];
  commands: CommandSpec[];
  /** The command run when none is named. */
  defaultCommand: string;
  /** Lines shown at the end of the program's help. */
  notes?: string[];
}

/** What the command line asked for. `opts` holds global and command options by camelCase key. */
export interface ParsedArgs {
  command: CommandSpec;
  /** Whether the command was named (else it is the default one): `--help` then shows the program's help. */
  named: boolean;
  args: string[];
  opts: Record<string, unknown>;
  /** The keys of `opts` given on the command line (the rest are defaults). */
  given: ReadonlySet<string>;
  help: boolean;
  version: boolean;
}

/** A mistake in the command line: the CLI prints it in one line with the usage hint. */
export class UsageError extends Error {}

interface Flag {
  spec: OptionSpec;
  long: string;
  short?: string;
  /** The value's name in help ("dir"), or undefined for a switch. */
  value?: string;
  key: string;
  negated: boolean;
  /** `--diff[=<what>]`: a flag that may carry a value, only inline (`--diff=all`); bare it is `true`. */
  optional?: string;
}

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function flagOf(spec: OptionSpec): Flag {
  const m = /^(?:-(\w), )?--([\w-]+)(?: <([\w-]+)>|\[=<([\w-]+)>\])?$/.exec(spec.flags);
  if (!m) throw new Error(`Bad option spec: ${spec.flags}`);
  const [, short, long, value, optional] = m;
  const negated = long.startsWith("no-");
  return { spec, long, short, value, ...(optional ? { optional } : {}), key: camel(negated ? long.slice(3) : long), negated };
}

/** The `opts` key a flag spec sets: "--keep-backups <n>" → keepBackups, "--no-restart" → restart. */
export const optionKey = (flags: string): string => flagOf({ flags, help: "" }).key;

const HELP: OptionSpec = { flags: "-h, --help", help: "show help" };
const VERSION: OptionSpec = { flags: "-V, --version", help: "print the version" };

/** Parses `argv` (the arguments after the program) against the program's commands. */
export function parseCommandLine(program: ProgramSpec, argv: string[]): ParsedArgs {
  const globals = [...program.options, HELP, VERSION].map(flagOf);
  const all = new Map<string, Flag>(globals.map((f) => [f.long, f]));
  for (const c of program.commands) for (const o of c.options) all.set(flagOf(o).long, flagOf(o));
  const options = Object.fromEntries([...all.values()].map((f) => [f.long, { type: f.value ? "string" as const : "boolean" as const, ...(f.short ? { short: f.short } : {}) }]));
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });

  for (const t of tokens) {
    if (t.kind === "option" && !all.has(t.name)) throw new UsageError(`unknown option '${t.rawName}'${suggestion(t.rawName, [...all.keys()].map((l) => `--${l}`))}`);
  }
  let positionals = tokens.filter((t) => t.kind === "positional").map((t) => t.value);
  // `help [command]`, as commander and git have it.
  const helpCommand = positionals[0] === "help";
  if (helpCommand) positionals = positionals.slice(1, 2);
  const command = commandOf(program, positionals[0]);
  const named = command.name === positionals[0];
  const args = positionals.slice(named ? 1 : 0);
  const allowed = new Map([...globals, ...command.options.map(flagOf)].map((f) => [f.long, f]));
  const opts: Record<string, unknown> = {};
  const given = new Set<string>();
  for (const t of tokens) {
    if (t.kind !== "option") continue;
    const f = allowed.get(t.name);
    if (!f) throw new UsageError(`unknown option '${t.rawName}' for '${command.name}'`);
    opts[f.key] = valueOf(f, t.value, t.inlineValue === true);
    given.add(f.key);
  }
  const max = command.args?.length ?? 0;
  if (args.length > max) throw new UsageError(`too many arguments for '${command.name}': expected at most ${max}, got ${args.length}`);
  for (const f of allowed.values()) if (f.negated && !given.has(f.key)) opts[f.key] = true;
  return { command, named, args, opts, given, help: helpCommand || opts.help === true, version: opts.version === true };
}

function commandOf(program: ProgramSpec, first: string | undefined): CommandSpec {
  const named = program.commands.find((c) => c.name === first);
  if (named) return named;
  if (first !== undefined) throw new UsageError(`unknown command '${first}'${suggestion(first, program.commands.map((c) => c.name))}`);
  return program.commands.find((c) => c.name === program.defaultCommand)!;
}

function valueOf(f: Flag, value: string | undefined, inline: boolean): unknown {
  const label = f.value ? `--${f.long} <${f.value}>` : `--${f.long}`;
  if (f.optional) {
    if (value === undefined) return true;
    if (f.spec.choices && !f.spec.choices.includes(value)) {
      throw new UsageError(`option '--${f.long}=${value}' is invalid. Allowed choices are ${f.spec.choices.join(", ")}.`);
    }
    return value;
  }
  if (!f.value) {
    if (value !== undefined) throw new UsageError(`option '${label}' takes no value`);
    return !f.negated;
  }
  // `--target --json`: a missing value, not a folder named "--json" (`--target=-x` still works).
  if (value === undefined || (!inline && value.startsWith("-") && value.length > 1)) throw new UsageError(`option '${label}' argument missing`);
  if (f.spec.choices && !f.spec.choices.includes(value)) {
    throw new UsageError(`option '${label}' argument '${value}' is invalid. Allowed choices are ${f.spec.choices.join(", ")}.`);
  }
  try {
    return f.spec.parse ? f.spec.parse(value) : value;
  } catch (err) {
    throw new UsageError(`option '${label}' argument '${value}' is invalid. ${(err as Error).message}`);
  }
}

/** " (Did you mean --dry-run?)" when one known word is within two edits of a typo. */
function suggestion(typo: string, known: string[]): string {
  const near = known.map((k) => ({ k, d: distance(typo, k) })).filter((x) => x.d <= 2).sort((a, b) => a.d - b.d)[0];
  return near ? ` (Did you mean ${near.k}?)` : "";
}

/** Levenshtein distance, one row at a time. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

const table = (rows: Array<[string, string]>) => {
  const w = Math.max(...rows.map(([l]) => l.length)) + 2;
  return rows.map(([l, r]) => `  ${l.padEnd(w)}${r}`);
};
const optionRows = (specs: OptionSpec[]) => table(specs.map((o) => [o.flags, o.choices ? `${o.help}: ${o.choices.join(", ")}` : o.help]));

/** The help of the program, or of one command. */
export function helpText(program: ProgramSpec, command?: CommandSpec): string {
  const globals = optionRows([...program.options, VERSION, HELP]);
  if (!command) {
    return [
      `Usage: ${program.name} [command] [options]`, "", program.help, "",
      "Commands:",
      ...table(program.commands.map((c) => [[c.name, ...(c.args ?? [])].join(" "), c.name === program.defaultCommand ? `${c.help} (the default)` : c.help])),
      "", "Options:", ...globals, "",
      ...(program.notes ? [...program.notes, ""] : []),
      `Run \`${program.name} <command> --help\` for the options of a command.`,
    ].join("\n");
  }
  return [
    `Usage: ${program.name} ${[command.name, ...(command.args ?? [])].join(" ")} [options]`, "", command.help, "",
    ...(command.options.length ? ["Options:", ...optionRows(command.options), ""] : []),
    "Global options:", ...globals,
  ].join("\n");
}
