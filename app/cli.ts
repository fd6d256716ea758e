/**
 * The CLI, thin: argv → options and config → the library → an exit code. commander parses
 * the arguments; a usage error prints one line and the usage hint, never a stack trace.
 * Each command loads what it needs when it runs (`--help`, `status` load no plugin, no zx,
 * no config loader).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { EXIT, isUpgradeError, toUpgradeError } from "../core/errors.ts";
import { CONFLICT_POLICIES } from "../core/types.ts";
import { resolveLayout } from "../core/layout.ts";
import { globals, targetOf } from "./options.ts";
import { requireInstall } from "./require-install.ts";
import { processSink, type Sink } from "./render.ts";

export const VERSION = "0.1.0";

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a whole number of at least 1");
  return n;
};

export interface CliIO {
  sink?: Sink;
  cwd?: string;
}

/** Runs the CLI and returns the exit code (bin.ts exits with it). */
export async function main(argv: string[], io: CliIO = {}): Promise<number> {
  const sink = io.sink ?? processSink;
  const cwd = io.cwd ?? process.cwd();
  let code: number = EXIT.ok;
  let json = argv.includes("--json");

  const fail = (err: unknown): number => {
    const e = toUpgradeError(err);
    if (json) sink.out(JSON.stringify({ type: "result", schema_version: 1, status: "failed", exit_code: e.exitCode, error: e.toJSON() }));
    else {
      sink.err(`Error [${e.code}]: ${e.message}`);
      if (e.hint) sink.err(`  hint: ${e.hint}`);
    }
    return e.exitCode;
  };

  const program = new Command("agent-os-upgrade")
    .description("Upgrade an Agent OS installation (.agent-os/) from a source checkout, safely")
    .version(VERSION, "-V, --version")
    .option("--target <dir>", "project root (or its .agent-os folder)", cwd)
    .option("--config <file>", "config file (default: upgrade.config.ts in the project)")
    .option("--json", "newline-delimited JSON events and a final result")
    .option("-y, --yes", "answer yes to confirmations")
    .option("--verbose", "show debug lines")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => sink.out(s.trimEnd()),
      writeErr: (s) => sink.err(s.trimEnd()),
      outputError: () => {}, // printed once, our way, below
    })
    .showSuggestionAfterError(true);

  program
    .command("upgrade", { isDefault: true })
    .description("run the six phases: pre-flight, backup, content, server, validation, cleanup")
    .option("--source <dir>", "the Agent OS source checkout (a git clone)")
    .option("--dry-run", "plan only: print what would change, write nothing")
    .option("--diff", "with --dry-run: print unified diffs")
    .addOption(new Option("--on-conflict <policy>", "how to resolve conflicts").choices([...CONFLICT_POLICIES]))
    .option("--decisions <file>", "JSON file: a conflict decision per path of the plan ({\"path\": \"merge\"})")
    .option("--no-restart", "do not restart the MCP server")
    .option("--skip-deps", "do not install Python dependencies")
    .option("--no-validate", "do not check the new MCP server (the result says \"not validated\")")
    .option("--keep-backups <n>", "backups to keep", positiveInt)
    .option("--from <ref>", "the installed source commit, when the install does not record it")
    .action(async (_o, cmd: Command) => {
      json = Boolean(globals(cmd).json);
      code = await (await import("./commands/run.ts")).upgradeCommand(cmd, cwd, sink);
    });

  program
    .command("resume [session]")
    .description("continue an interrupted upgrade at its first incomplete phase")
    .option("--no-restart", "do not restart the MCP server (overrides the session's choice)")
    .option("--skip-deps", "do not install Python dependencies (overrides the session's choice)")
    .option("--no-validate", "do not check the new MCP server (overrides the session's choice)")
    .action(async (session: string | undefined, _o, cmd: Command) => {
      json = Boolean(globals(cmd).json);
      requireInstall(resolveLayout(targetOf(cwd, globals(cmd))));
      code = await (await import("./commands/run.ts")).resumeCommand(cmd, session ?? null, cwd, sink);
    });

  program
    .command("rollback")
    .description("restore the backup of the last (or an interrupted) upgrade")
    .option("--to <backup>", "restore this backup (see `backups list`)")
    .option("--session <id>", "the session to mark as rolled back")
    .action(async (o: { to?: string; session?: string }, cmd: Command) => {
      json = Boolean(globals(cmd).json);
      requireInstall(resolveLayout(targetOf(cwd, globals(cmd))));
      code = await (await import("./commands/run.ts")).rollbackCommand(cmd, o, cwd, sink);
    });

  program
    .command("status [session]")
    .description("show the lock and the sessions of this project")
    .action(async (session: string | undefined, _o, cmd: Command) => {
      const g = globals(cmd);
      json = Boolean(g.json);
      requireInstall(resolveLayout(targetOf(cwd, g)));
      code = (await import("./commands/status.ts")).statusCommand(targetOf(cwd, g), session ?? null, Boolean(g.json), sink);
    });

  program
    .command("backups [action] [id]")
    .description("list | verify <id> | prune the backups in .agent-os/.backups/")
    .option("--keep-backups <n>", "with prune: backups to keep", positiveInt)
    .action(async (action: string | undefined, id: string | undefined, o: { keepBackups?: number }, cmd: Command) => {
      json = Boolean(globals(cmd).json);
      requireInstall(resolveLayout(targetOf(cwd, globals(cmd))));
      await (await import("./commands/backups.ts")).backupsCommand(action ?? "list", id, o, cmd, cwd, sink);
    });

  program
    .command("unlock")
    .description("report the lock; with --force remove a stale or foreign one")
    .option("--force", "remove a lock whose owner is no longer running")
    .action(async (o: { force?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      json = Boolean(g.json);
      (await import("./commands/misc.ts")).unlockCommand(targetOf(cwd, g), Boolean(o.force), Boolean(g.json), sink);
    });

  program
    .command("mcp")
    .description("serve the upgrade as MCP tools over stdio, for AI assistants")
    .option("--read-only", "only the tools that read: upgrade_plan, upgrade_status, backups_list")
    .action(async (o: { readOnly?: boolean }, cmd: Command) => {
      const { runMcpServer } = await import("./mcp/server.ts");
      code = await runMcpServer({ target: targetOf(cwd, globals(cmd)), readOnly: Boolean(o.readOnly), version: VERSION });
    });

  program
    .command("demo")
    .description("run the built-in demo: a full upgrade and a rolled-back one, in a sandbox")
    .option("--keep", "keep the sandbox folder")
    .action(async (o: { keep?: boolean }) => {
      code = await (await import("./commands/misc.ts")).demoCommand(Boolean(o.keep), sink);
    });

  program
    .command("init")
    .description("write a starter upgrade.config.ts in the project")
    .option("--force", "overwrite an existing file")
    .action(async (o: { force?: boolean }, cmd: Command) => {
      (await import("./commands/misc.ts")).initCommand(targetOf(cwd, globals(cmd)), Boolean(o.force), sink);
    });

  try {
    // The default command takes no arguments, so a mistyped command would read as "too many
    // arguments"; name it instead.
    const first = argv.find((a, i) => !a.startsWith("-") && !["--target", "--config"].includes(argv[i - 1]));
    if (first !== undefined && argv.indexOf(first) === 0 && !program.commands.some((c) => c.name() === first)) {
      throw new CommanderError(EXIT.usage, "commander.unknownCommand", `error: unknown command '${first}'`);
    }
    await program.parseAsync(argv, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return EXIT.ok;
      const msg = err.message.replace(/^error: /, "");
      if (json) sink.out(JSON.stringify({ type: "result", schema_version: 1, status: "failed", exit_code: EXIT.usage, error: { code: "USAGE", message: msg } }));
      else {
        sink.err(`agent-os-upgrade: ${msg}`);
        sink.err("Run `agent-os-upgrade --help` for usage");
      }
      return EXIT.usage;
    }
    if (!isUpgradeError(err)) {
      const e = toUpgradeError(err);
      e.hint ??= "This is a bug in agent-os-upgrade or a plugin; run with --verbose and report it";
      return fail(e);
    }
    return fail(err);
  }
  return code;
}

