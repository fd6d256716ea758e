/** `upgrade`, `resume` and `rollback`: the commands that run the engine. */
import type { ParsedArgs } from "../argv.ts";
import { runLifecycle } from "../../core/upgrader.ts";
import { refusedUnchanged, runManualRollback } from "../../core/rollback.ts";
import { globals, loadConfig, renderer, resumeOverrides, runOptions, targetOf } from "../options.ts";
import type { Sink } from "../render.ts";
import { type CheckReport, quietDryRun, upToDate } from "../check-plan.ts";
import { EXIT } from "../../core/errors.ts";
import { prBodyFile, writePrBody } from "../pr-body.ts";
import { resumeSync, syncToResume } from "./sync.ts";

export async function upgradeCommand(p: ParsedArgs, cwd: string, sink: Sink): Promise<number> {
  const g = globals(p);
  // Checked before anything runs: a wrong --pr-body stops the command before it writes.
  const prBody = typeof p.opts.prBody === "string" ? prBodyFile(p.opts.prBody, cwd, targetOf(cwd, g)) : null;
  const resolved = await loadConfig(cwd, g);
  const options = await runOptions(p, g, resolved, cwd, { useRecord: true });
  // A migration is never "up to date": its installation has another layout than the source.
  if (!options.dryRun && !options.migrate) {
    // Nothing to change: say so and write nothing (a second run changes no byte; no PR body: no pull request).
    const same = await upToDate(resolved, options);
    if (same) return alreadyUpToDate(same, g.json === true, sink);
  }
  // The PR body lists every plugin's part of the plan (server files, launch entries): only a dry run's plan has them all.
  const planned = prBody && !options.dryRun ? await quietDryRun(resolved, options) : undefined;
  const result = await runLifecycle({ resolved, options }, { onEvent: await renderer(g, sink), handleSignals: true });
  // Only a run that completed has a pull request to describe (a dry run's: what it would change).
  if (prBody && result.status === "completed") {
    writePrBody(prBody, result, options, planned);
    if (!g.json) sink.out(`Pull request description written to ${prBody}`);
  }
  return result.exit_code;
}

function alreadyUpToDate(r: CheckReport, json: boolean, sink: Sink): number {
  const from = r.source.url ? ` from ${r.source.url} (${r.source.ref})` : "";
  const line = `Already up to date: the installation is at ${r.available.version ?? r.available.commit?.slice(0, 12)}${from}; nothing was changed`;
  const drift = r.drift.length ? `${r.drift.length} file${r.drift.length === 1 ? "" : "s"} edited since install (kept): ${r.drift.slice(0, 5).join(", ")}${r.drift.length > 5 ? ", …" : ""}` : null;
  if (json) {
    sink.out(JSON.stringify({ type: "result", schema_version: 1, status: "completed", exit_code: EXIT.ok, up_to_date: true, session_id: null, dry_run: false, message: line, phases: [], findings: r.findings, secondary_errors: [], check: r }));
  } else {
    sink.out(line);
    if (drift) sink.out(drift);
  }
  return EXIT.ok;
}

export async function resumeCommand(p: ParsedArgs, session: string | null, cwd: string, sink: Sink): Promise<number> {
  const g = globals(p);
  // An interrupted sync is finished as a sync (its plugins, its plan), never as an upgrade whose source is the installation.
  const sync = syncToResume(targetOf(cwd, g), session);
  if (sync) return resumeSync(p, session, sync, cwd, sink);
  const resolved = await loadConfig(cwd, g);
  const options = await runOptions(p, g, resolved, cwd);
  const result = await runLifecycle({ resolved, options, resume: { sessionId: session, overrides: resumeOverrides(p, resolved) } }, { onEvent: await renderer(g, sink), handleSignals: true });
  return result.exit_code;
}

/** A yes/no question on the terminal (default no). */
async function askYesNo(question: string): Promise<boolean> {
  const { confirm } = await import("@inquirer/prompts");
  return await confirm({ message: question, default: false });
}

export async function rollbackCommand(p: ParsedArgs, cwd: string, sink: Sink): Promise<number> {
  const g = globals(p);
  const o = p.opts as { to?: string; session?: string };
  const resolved = await loadConfig(cwd, g);
  const options = await runOptions(p, g, resolved, cwd);
  const confirm = options.interactive ? askYesNo : undefined;
  const r = await runManualRollback({ resolved, options, backupId: o.to ?? null, sessionId: o.session ?? null }, { onEvent: await renderer(g, sink), handleSignals: false, confirm });
  const err = r.outcome.rollbackError ?? (r.outcome.status === "aborted" ? r.outcome.error : undefined);
  if (g.json) {
    sink.out(JSON.stringify({ type: "result", schema_version: 1, command: "rollback", status: r.outcome.status, exit_code: r.exitCode, session_id: r.sessionId, note: r.note, error: err?.toJSON(), nothing_changed: err ? refusedUnchanged(err) : false }));
  } else if (err) {
    sink.err(`Error [${err.code}]: ${err.message}`);
    if (err.hint) sink.err(`  hint: ${err.hint}`);
  } else if (r.note) sink.out(r.note);
  else sink.out(`Rolled back${r.sessionId ? ` session ${r.sessionId}` : ""}${o.to ? ` to backup ${o.to}` : ""}`);
  return r.exitCode;
}
