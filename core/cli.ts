/**
 * The CLI, thin: argv → options and config → the library → an exit code. commander parses
 * the arguments; a usage error prints one line and the usage hint, never a stack trace.
 */
import fs from "node:fs";
import path from "node:path";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { builtinPlugins } from "../plugins/mod.ts";
import { describeProblems, listBackups, pruneBackups, verifyBackup } from "../plugins/backup/mod.ts";
import { loadConfigFile, type ResolvedConfig, resolveConfig } from "./config.ts";
import { EXIT, isUpgradeError, toUpgradeError, UpgradeError } from "./errors.ts";
import { resolveLayout } from "./layout.ts";
import { describeLock, forceUnlock, readLock } from "./lock.ts";
import type { LogEvent } from "./log.ts";
import { humanRenderer, jsonRenderer, processSink, type Sink } from "./render.ts";
import { isInteractiveTerminal } from "./runtime.ts";
import { StateStore } from "./state.ts";
import { CONFLICT_POLICIES, type ConflictPolicy, type RunOptions } from "./types.ts";
import { runLifecycle, runManualRollback } from "./upgrader.ts";
import { pidAlive } from "./proc.ts";
import { STARTER_CONFIG } from "./starter-config.ts";

export const VERSION = "0.1.0";

interface GlobalFlags {
  target?: string;
  config?: string;
  json?: boolean;
  yes?: boolean;
  verbose?: boolean;
}

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

  const globals = (cmd: Command): GlobalFlags => cmd.optsWithGlobals() as GlobalFlags;

  async function loadConfig(g: GlobalFlags): Promise<ResolvedConfig> {
    const layout = resolveLayout(path.resolve(cwd, g.target ?? cwd));
    const { file, raw } = await loadConfigFile(layout.projectRoot, g.config ? path.resolve(cwd, g.config) : null);
    return resolveConfig(raw, file, builtinPlugins());
  }

  function renderer(g: GlobalFlags): (e: LogEvent) => void {
    return g.json ? jsonRenderer(sink) : humanRenderer(sink, { verbose: g.verbose, tty: Boolean(process.stderr.isTTY) });
  }

  function runOptions(cmd: Command, g: GlobalFlags, resolved: ResolvedConfig): RunOptions {
    const o = cmd.opts() as Record<string, unknown>;
    const c = resolved.config;
    const fromCli = (k: string) => cmd.getOptionValueSource(k) === "cli";
    const source = (o.source as string | undefined) ?? c.source ?? null;
    return {
      source: source ? path.resolve(cwd, source) : null,
      target: path.resolve(cwd, g.target ?? cwd),
      dryRun: Boolean(o.dryRun),
      diff: Boolean(o.diff),
      onConflict: (o.onConflict as ConflictPolicy | undefined) ?? c.onConflict ?? null,
      yes: Boolean(g.yes),
      json: Boolean(g.json),
      restart: fromCli("restart") ? Boolean(o.restart) : c.restart ?? true,
      skipDeps: fromCli("skipDeps") ? Boolean(o.skipDeps) : c.skipDeps ?? false,
      keepBackups: (o.keepBackups as number | undefined) ?? c.keepBackups ?? 3,
      from: (o.from as string | undefined) ?? null,
      interactive: !g.json && isInteractiveTerminal(),
    };
  }

  program
    .command("upgrade", { isDefault: true })
    .description("run the six phases: pre-flight, backup, content, server, validation, cleanup")
    .option("--source <dir>", "the Agent OS source checkout (a git clone)")
    .option("--dry-run", "plan only: print what would change, write nothing")
    .option("--diff", "with --dry-run: print unified diffs")
    .addOption(new Option("--on-conflict <policy>", "how to resolve conflicts").choices([...CONFLICT_POLICIES]))
    .option("--no-restart", "do not restart the MCP server")
    .option("--skip-deps", "do not install Python dependencies")
    .option("--keep-backups <n>", "backups to keep", positiveInt)
    .option("--from <ref>", "the installed source commit, when the install does not record it")
    .action(async (_o, cmd: Command) => {
      const g = globals(cmd);
      json = Boolean(g.json);
      const resolved = await loadConfig(g);
      const options = runOptions(cmd, g, resolved);
      if (options.diff && !options.dryRun) throw new UpgradeError("USAGE", "Cannot use --diff without --dry-run", { hint: "Add --dry-run to see the diffs of the plan" });
      const result = await runLifecycle({ resolved, options }, { onEvent: renderer(g), handleSignals: true });
      code = result.exit_code;
    });

  program
    .command("resume [session]")
    .description("continue an interrupted upgrade at its first incomplete phase")
    .action(async (session: string | undefined, _o, cmd: Command) => {
      const g = globals(cmd);
      json = Boolean(g.json);
      const resolved = await loadConfig(g);
      const options = runOptions(cmd, g, resolved);
      const result = await runLifecycle({ resolved, options, resume: { sessionId: session ?? null } }, { onEvent: renderer(g), handleSignals: true });
      code = result.exit_code;
    });

  program
    .command("rollback")
    .description("restore the backup of the last (or an interrupted) upgrade")
    .option("--to <backup>", "restore this backup (see `backups list`)")
    .option("--session <id>", "the session to mark as rolled back")
    .action(async (o: { to?: string; session?: string }, cmd: Command) => {
      const g = globals(cmd);
      json = Boolean(g.json);
      const resolved = await loadConfig(g);
      const options = runOptions(cmd, g, resolved);
      const r = await runManualRollback({ resolved, options, backupId: o.to ?? null, sessionId: o.session ?? null }, { onEvent: renderer(g), handleSignals: false });
      const out = { type: "result", schema_version: 1, command: "rollback", status: r.outcome.status, exit_code: r.exitCode, session_id: r.sessionId, error: r.outcome.rollbackError?.toJSON() };
      if (g.json) sink.out(JSON.stringify(out));
      else if (r.outcome.rollbackError) {
        sink.err(`Error [${r.outcome.rollbackError.code}]: ${r.outcome.rollbackError.message}`);
        if (r.outcome.rollbackError.hint) sink.err(`  hint: ${r.outcome.rollbackError.hint}`);
      } else sink.out(`Rolled back${r.sessionId ? ` session ${r.sessionId}` : ""}${o.to ? ` to backup ${o.to}` : ""}`);
      code = r.exitCode;
    });

  program
    .command("status [session]")
    .description("show the lock and the sessions of this project")
    .action(async (session: string | undefined, _o, cmd: Command) => {
      const g = globals(cmd);
      json = Boolean(g.json);
      code = statusCommand(path.resolve(cwd, g.target ?? cwd), session ?? null, Boolean(g.json), sink);
    });

  program
    .command("backups [action] [id]")
    .description("list | verify <id> | prune the backups in .agent-os/.backups/")
    .option("--keep-backups <n>", "with prune: backups to keep", positiveInt)
    .action(async (action: string | undefined, id: string | undefined, o: { keepBackups?: number }, cmd: Command) => {
      const g = globals(cmd);
      json = Boolean(g.json);
      const layout = resolveLayout(path.resolve(cwd, g.target ?? cwd));
      const out = (value: Record<string, unknown>, human: string[]) => {
        if (g.json) sink.out(JSON.stringify({ type: "result", schema_version: 1, command: `backups ${action ?? "list"}`, ...value }));
        else for (const l of human) sink.out(l);
      };
      switch (action ?? "list") {
        case "list": {
          const all = listBackups(layout);
          out({ backups: all }, all.length
            ? all.map((b) => `${b.id}  ${b.state.padEnd(11)} ${String(b.files ?? "?").padStart(6)} files  ${b.bytes === null ? "?" : `${(b.bytes / 1048576).toFixed(1)} MB`}  session ${b.session_id ?? "-"} (${b.session_status ?? "-"})`)
            : [`No backups in ${layout.backupsDir}`]);
          return;
        }
        case "verify": {
          if (!id) throw new UpgradeError("USAGE", "Cannot verify: no backup id given", { hint: "Run `agent-os-upgrade backups verify <id>`; `backups list` shows the ids" });
          const r = await verifyBackup(layout, id);
          out({ report: r }, r.ok
            ? [`Backup ${id} is intact: ${r.files_checked} entries checked, ${r.files_hashed} files hashed in ${r.duration_ms} ms`]
            : []);
          if (!r.ok) {
            throw new UpgradeError("BACKUP_INVALID", `Backup ${id} is damaged: ${describeProblems(r.problems)}`, {
              hint: "Do not restore from it; `agent-os-upgrade rollback --to <another id>` uses another backup",
              details: { problems: r.problems },
            });
          }
          return;
        }
        case "prune": {
          const resolved = await loadConfig(g);
          const keep = o.keepBackups ?? resolved.config.keepBackups ?? 3;
          const r = pruneBackups(layout, keep);
          out({ ...r, keep }, [`Kept ${r.kept.length} (${r.kept.join(", ") || "none"}); removed ${r.removed.length}${r.removed.length ? ` (${r.removed.join(", ")})` : ""}`, ...r.skipped.map((s) => `  left alone: ${s.id}: ${s.reason}`)]);
          return;
        }
        default:
          throw new UpgradeError("USAGE", `Cannot run backups ${action}: unknown action`, { hint: "Use `backups list`, `backups verify <id>` or `backups prune`" });
      }
    });

  program
    .command("unlock")
    .description("report the lock; with --force remove a stale or foreign one")
    .option("--force", "remove a lock whose owner is no longer running")
    .action(async (o: { force?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      json = Boolean(g.json);
      const layout = resolveLayout(path.resolve(cwd, g.target ?? cwd));
      const st = readLock(layout);
      if (st.kind === "absent") {
        sink.out(g.json ? JSON.stringify({ type: "result", schema_version: 1, command: "unlock", lock: st, removed: false }) : "No lock: nothing to do");
        return;
      }
      if (!o.force) {
        throw new UpgradeError("LOCK_HELD", `The lock is held: ${describeLock(st)}`, {
          hint: st.kind === "held" ? "Wait for that upgrade to finish" : "Run `agent-os-upgrade unlock --force` to remove it (or resume / rollback the session)",
        });
      }
      const removed = forceUnlock(layout);
      sink.out(g.json ? JSON.stringify({ type: "result", schema_version: 1, command: "unlock", lock: removed, removed: true }) : `Removed the lock: ${describeLock(removed)}`);
    });

  program
    .command("demo")
    .description("run the built-in demo: a full upgrade and a rolled-back one, in a sandbox")
    .option("--keep", "keep the sandbox folder")
    .action(async (o: { keep?: boolean }) => {
      // Loaded on demand: the demo uses the test fixtures of a source checkout.
      const demo = "../demo/run.ts";
      let mod: { runDemo(o: { sink: Sink; keep?: boolean }): Promise<number> };
      try {
        mod = await import(demo);
      } catch (err) {
        throw new UpgradeError("USAGE", `Cannot run the demo: ${(err as Error).message.split("\n")[0]}`, {
          hint: "The demo runs from a checkout of the agent-os-upgrade repository: `npm ci && npm run demo`",
        });
      }
      code = await mod.runDemo({ sink, keep: o.keep });
    });

  program
    .command("init")
    .description("write a starter upgrade.config.ts in the project")
    .option("--force", "overwrite an existing file")
    .action(async (o: { force?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const layout = resolveLayout(path.resolve(cwd, g.target ?? cwd));
      const file = path.join(layout.projectRoot, "upgrade.config.ts");
      if (fs.existsSync(file) && !o.force) {
        throw new UpgradeError("USAGE", `Cannot write ${file}: it already exists`, { hint: "Pass --force to overwrite it" });
      }
      fs.writeFileSync(file, STARTER_CONFIG);
      sink.out(`Wrote ${file}`);
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

function statusCommand(target: string, sessionId: string | null, json: boolean, sink: Sink): number {
  const layout = resolveLayout(target);
  const lock = readLock(layout);
  const store = new StateStore(layout.stateDir);
  if (sessionId) {
    const s = store.load(sessionId);
    sink.out(json ? JSON.stringify({ type: "result", schema_version: 1, command: "status", lock, session: s }) : `${s.session_id} ${s.status} phase ${s.current_phase ?? "-"} completed [${s.completed_phases.join(",")}]`);
    return EXIT.ok;
  }
  const all = store.list();
  const interrupted = all.filter((x) => x.state && (x.state.status === "in_progress" || x.state.status === "rolling_back") && !pidAlive(x.state.pid));
  if (json) {
    sink.out(JSON.stringify({
      type: "result",
      schema_version: 1,
      command: "status",
      lock,
      sessions: all.map((x) => x.state ? { id: x.id, status: x.state.status, current_phase: x.state.current_phase, completed_phases: x.state.completed_phases, started_at: x.state.started_at, updated_at: x.state.updated_at } : { id: x.id, file: x.file, error: x.error?.toJSON() }),
      interrupted: interrupted.map((x) => x.id),
    }));
  } else {
    sink.out(`Installation: ${layout.installDir}${layout.installExists ? "" : " (missing)"}`);
    sink.out(`Lock: ${lock.kind === "absent" ? "none" : `${lock.kind}: ${describeLock(lock)}`}`);
    if (!all.length) sink.out("Sessions: none");
    for (const x of all) {
      if (x.error) sink.out(`  ${x.id}  CORRUPT: ${x.error.message}`);
      else sink.out(`  ${x.id}  ${x.state!.status.padEnd(12)} phase ${x.state!.current_phase ?? "-"}  completed [${x.state!.completed_phases.join(",")}]  started ${x.state!.started_at}`);
    }
    for (const x of interrupted) sink.out(`Session ${x.id} was interrupted: run \`agent-os-upgrade resume\` to finish it or \`agent-os-upgrade rollback\` to undo it`);
  }
  return all.some((x) => x.error) ? EXIT.state : EXIT.ok;
}
