/**
 * The CLI, thin: argv → options and config → the library → an exit code. `argv.ts` parses
 * the arguments; a usage error prints one line and the usage hint, never a stack trace.
 * Each command loads what it needs when it runs (`--help`, `status` load no plugin, no zx,
 * no config loader, and on Deno not even `node:fs`).
 */
import { EXIT, isUpgradeError, toUpgradeError } from "../core/errors.ts";
import { resolveLayout } from "../core/layout.ts";
import { host } from "../core/runtime.ts";
import { type OwnedOption, ownedOptions } from "../core/options.ts";
import { BUILTIN_RUN_OPTIONS } from "../plugins/run-options.ts";
import { LAYOUTS } from "../plugins/layouts.ts";
import { helpText, type OptionSpec, type ParsedArgs, parseCommandLine, type ProgramSpec, UsageError } from "./argv.ts";
import { globals, targetOf } from "./options.ts";
import { requireInstall } from "./require-install.ts";
import { processSink, type Sink } from "./render.ts";

export const VERSION = "0.1.0";

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error("expected a whole number of at least 1");
  return n;
};

/** The built-ins' run options as flags: each plugin declares its own (plugins/run-options.ts). */
const RUN_OPTIONS = ownedOptions(BUILTIN_RUN_OPTIONS).list.filter((o) => o.flag);
const flagOf = (o: OwnedOption): OptionSpec => ({
  flags: o.flag!,
  help: o.flagHelp ?? o.describe,
  ...(o.choices ? { choices: o.choices } : {}),
  ...(o.kind === "count" ? { parse: positiveInt } : {}),
});
const overriding = (o: OptionSpec): OptionSpec => ({ ...o, help: `${o.help} (overrides the session's choice)` });

const SOURCE_FLAG: OptionSpec = { flags: "--source <source>", help: "the Agent OS source: a full git clone of agent-os-enhanced or praxis-os, or a git URL fetched into the user's cache (default: the source= VERSION.txt records)" };
const REF_FLAG: OptionSpec = { flags: "--ref <ref>", help: "with --source: the branch, tag or commit to install (default: the URL's default branch)" };

export const PROGRAM: ProgramSpec = {
  name: "agent-os-upgrade",
  help: "Upgrade an Agent OS installation (.agent-os/ or .praxis-os/) from a source checkout, safely",
  version: VERSION,
  defaultCommand: "upgrade",
  notes: [
    "Layouts (the source's by its folders and the folder its README names; the installation's by its folder and server package):",
    ...LAYOUTS.map((l) => `  ${l.id.padEnd(18)} ${l.title}`),
  ],
  options: [
    { flags: "--target <dir>", help: "project root (or its .agent-os folder); default: the working directory" },
    { flags: "--config <file>", help: "config file (default: upgrade.config.ts in the project)" },
    { flags: "--json", help: "newline-delimited JSON events and a final result" },
    { flags: "-y, --yes", help: "answer yes to confirmations" },
    { flags: "--verbose", help: "show debug lines" },
  ],
  commands: [
    {
      name: "upgrade",
      help: "run the six phases: pre-flight, backup, content, server, validation, cleanup",
      options: [
        SOURCE_FLAG,
        REF_FLAG,
        { flags: "--dry-run", help: "plan only: print what would change, write nothing" },
        { flags: "--ci", help: "for a bot's pull request: content, config, launch entries and .gitignore only (as --skip-deps --no-restart --no-validate --on-conflict merge, never a prompt); VERSION.txt says runtime=pending" },
        { flags: "--pr-body <file>", help: "write a Markdown pull-request description of the run to this file (outside the installation; also with --dry-run)" },
        ...RUN_OPTIONS.map(flagOf),
      ],
    },
    {
      name: "migrate",
      help: "move an .agent-os installation (agent-os-enhanced) to praxis-os as one upgrade: .agent-os/ → .praxis-os/, its content, server, venv, launch entries and .gitignore, with the same backup and rollback",
      options: [
        SOURCE_FLAG,
        REF_FLAG,
        { flags: "--dry-run", help: "plan only: print every change of the migration, write nothing" },
        { flags: "--ci", help: "for a bot's pull request: the move, content, config, launch entries and .gitignore only (as --skip-deps --no-restart --no-validate --on-conflict merge, never a prompt: files naming .agent-os/ need --yes or --decisions)" },
        { flags: "--pr-body <file>", help: "write a Markdown pull-request description of the migration to this file (outside the installation; also with --dry-run)" },
        ...RUN_OPTIONS.map(flagOf),
      ],
    },
    { name: "resume", args: ["[session]"], help: "continue an interrupted upgrade at its first incomplete phase", options: RUN_OPTIONS.filter((o) => o.resumable).map((o) => overriding(flagOf(o))) },
    {
      name: "rollback",
      help: "restore the backup of the last (or an interrupted) upgrade",
      options: [
        { flags: "--to <backup>", help: "restore this backup (see `backups list`)" },
        { flags: "--session <id>", help: "the session to mark as rolled back" },
      ],
    },
    {
      name: "check",
      help: "read-only: is an update available? exit 0 up to date, 2 update available, 1 cannot tell (also with --json)",
      options: [SOURCE_FLAG, REF_FLAG],
    },
    { name: "status", args: ["[session]"], help: "show the lock and the sessions of this project, and whether this machine's runtime is behind the committed installation", options: [] },
    { name: "sync", help: "after pulling an upgraded installation: bring this machine's venv and running server to what is committed (backed up, validated, rolled back on failure); nothing to do: exit 0", options: [] },
    {
      name: "backups",
      args: ["[action]", "[id]"],
      help: "list | verify <id> | prune the backups in .agent-os/.backups/",
      options: [{ flags: "--keep-backups <n>", help: "with prune: backups to keep", parse: positiveInt }],
    },
    { name: "unlock", help: "report the lock; with --force remove a stale or foreign one", options: [{ flags: "--force", help: "remove a lock whose owner is no longer running" }] },
    { name: "mcp", help: "serve the upgrade as MCP tools over stdio, for AI assistants", options: [{ flags: "--read-only", help: "only the tools that read: upgrade_check, upgrade_plan, upgrade_status, backups_list" }] },
    {
      name: "demo",
      help: "run the built-in demo: a full upgrade and a rolled-back one, in a sandbox",
      options: [
        { flags: "--keep", help: "keep the sandbox folder" },
        { flags: "--layout <id>", help: "the layout to show (praxis-os-dist: praxis-os's dist/ + ouroboros)", choices: ["agent-os-enhanced", "praxis-os-dist"] },
      ],
    },
    { name: "init", help: "write a starter upgrade.config.ts in the project", options: [{ flags: "--force", help: "overwrite an existing file" }] },
  ],
};

/**
 * Imports a command's module when it runs. The specifier is not a literal, so that Deno does
 * not read and analyze every module of every command when the CLI starts (it follows literal
 * `import()`s when it builds the module graph: 97 files for `--help`).
 */
const load = <T>(spec: string): Promise<T> => import(spec);
const modules = {
  run: () => load<typeof import("./commands/run.ts")>("./commands/run.ts"),
  status: () => load<typeof import("./commands/status.ts")>("./commands/status.ts"),
  backups: () => load<typeof import("./commands/backups.ts")>("./commands/backups.ts"),
  misc: () => load<typeof import("./commands/misc.ts")>("./commands/misc.ts"),
  check: () => load<typeof import("./commands/check.ts")>("./commands/check.ts"),
  sync: () => load<typeof import("./commands/sync.ts")>("./commands/sync.ts"),
  mcp: () => load<typeof import("./mcp/server.ts")>("./mcp/server.ts"),
};

type Action = (p: ParsedArgs, cwd: string, sink: Sink) => Promise<number | void>;

/** The commands that act on an installation check first that there is one. */
const installed = (p: ParsedArgs, cwd: string) => requireInstall(resolveLayout(targetOf(cwd, globals(p))));

const ACTIONS: Record<string, Action> = {
  upgrade: async (p, cwd, sink) => (await modules.run()).upgradeCommand(p, cwd, sink),
  migrate: async (p, cwd, sink) => {
    installed(p, cwd);
    return (await modules.run()).upgradeCommand(p, cwd, sink);
  },
  resume: async (p, cwd, sink) => {
    installed(p, cwd);
    return (await modules.run()).resumeCommand(p, p.args[0] ?? null, cwd, sink);
  },
  rollback: async (p, cwd, sink) => {
    installed(p, cwd);
    return (await modules.run()).rollbackCommand(p, cwd, sink);
  },
  check: async (p, cwd, sink) => (await modules.check()).checkCommand(p, cwd, sink),
  sync: async (p, cwd, sink) => {
    installed(p, cwd);
    return (await modules.sync()).syncCommand(p, cwd, sink);
  },
  status: async (p, cwd, sink) => {
    installed(p, cwd);
    return await (await modules.status()).statusCommand(targetOf(cwd, globals(p)), p.args[0] ?? null, Boolean(p.opts.json), sink);
  },
  backups: async (p, cwd, sink) => {
    installed(p, cwd);
    await (await modules.backups()).backupsCommand(p.args[0] ?? "list", p.args[1], p, cwd, sink);
  },
  unlock: async (p, cwd, sink) => (await modules.misc()).unlockCommand(targetOf(cwd, globals(p)), Boolean(p.opts.force), Boolean(p.opts.json), sink),
  mcp: async (p, cwd) => (await modules.mcp()).runMcpServer({ target: targetOf(cwd, globals(p)), readOnly: Boolean(p.opts.readOnly), version: VERSION }),
  demo: async (p, _cwd, sink) => (await modules.misc()).demoCommand(Boolean(p.opts.keep), sink, p.opts.layout as "agent-os-enhanced" | "praxis-os-dist" | undefined),
  init: async (p, cwd, sink) => (await modules.misc()).initCommand(targetOf(cwd, globals(p)), Boolean(p.opts.force), sink),
};

let startupOnly = true;
/** Whether the last run of `main` stayed on the start-up path (help, version, status, a usage error): see `host.exit`. */
export const ranStartupOnly = (): boolean => startupOnly;

export interface CliIO {
  sink?: Sink;
  cwd?: string;
}

/** Runs the CLI and returns the exit code (bin.ts exits with it). */
export async function main(argv: string[], io: CliIO = {}): Promise<number> {
  const sink = io.sink ?? processSink;
  const cwd = io.cwd ?? host.cwd();
  // Known before parsing, so that a usage error answers a script in JSON too.
  const json = argv.includes("--json");
  try {
    const p = parseCommandLine(PROGRAM, argv);
    if (p.version) sink.out(VERSION);
    else if (p.help) sink.out(helpText(PROGRAM, p.named ? p.command : undefined));
    else {
      startupOnly = p.command.name === "status";
      return (await ACTIONS[p.command.name](p, cwd, sink)) ?? EXIT.ok;
    }
    return EXIT.ok;
  } catch (err) {
    // `check`'s exit 2 means "update available": its usage errors are "cannot tell" (1).
    if (err instanceof UsageError) return usageError(err.message, json, sink, argv.find((a) => !a.startsWith("-")) === "check" ? EXIT.failed : EXIT.usage);
    const e = toUpgradeError(err);
    if (!isUpgradeError(err)) e.hint ??= "This is a bug in agent-os-upgrade or a plugin; run with --verbose and report it";
    return failure(e, json, sink);
  }
}

function usageError(message: string, json: boolean, sink: Sink, code: number): number {
  if (json) sink.out(JSON.stringify({ type: "result", schema_version: 1, status: "failed", exit_code: code, error: { code: "USAGE", message } }));
  else {
    sink.err(`agent-os-upgrade: ${message}`);
    sink.err("Run `agent-os-upgrade --help` for usage");
  }
  return code;
}

function failure(e: ReturnType<typeof toUpgradeError>, json: boolean, sink: Sink): number {
  if (json) sink.out(JSON.stringify({ type: "result", schema_version: 1, status: "failed", exit_code: e.exitCode, error: e.toJSON() }));
  else {
    sink.err(`Error [${e.code}]: ${e.message}`);
    if (e.hint) sink.err(`  hint: ${e.hint}`);
  }
  return e.exitCode;
}
