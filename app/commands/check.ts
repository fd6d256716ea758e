/**
 * `agent-os-upgrade check`: read-only, is an update available? Its own exit codes (README):
 * 0 up to date, 2 an update is available, 1 cannot tell (no source, an unreachable source,
 * nothing records what is installed, any error) — never 0 when it cannot tell.
 */
import type { ParsedArgs } from "../argv.ts";
import { toUpgradeError } from "../../core/errors.ts";
import { cannotTell, type CheckReport, quietDryRun, reportOf } from "../check-plan.ts";
import { globals, loadConfig, runOptions } from "../options.ts";
import type { Sink } from "../render.ts";

const NO_SOURCE = "Cannot tell: no source given and none recorded (pass --source <git URL | dir>, or upgrade once from a URL so VERSION.txt records source=)";

/** The report of a check that could not get as far as a plan. */

/** The check's report; never throws (a failure is "cannot tell"). */
export async function runCheck(p: ParsedArgs, cwd: string): Promise<CheckReport> {
  try {
    const g = globals(p);
    const resolved = await loadConfig(cwd, g);
    const options = await runOptions(p, g, resolved, cwd, { useRecord: true });
    if (!options.source) return cannotTell(NO_SOURCE);
    return reportOf(await quietDryRun(resolved, options), options);
  } catch (err) {
    const e = toUpgradeError(err);
    return { ...cannotTell(`Cannot tell: ${e.message}`), ...(e.hint ? { hint: e.hint } : {}) };
  }
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;

/** The report as a person reads it. */
export function checkLines(r: CheckReport & { hint?: string }): string[] {
  const lines = [r.reason];
  if (r.hint) lines.push(`  hint: ${r.hint}`);
  if (r.source.url) lines.push(`Source: ${r.source.url} (${r.source.ref})`);
  if (r.status === "unknown") return lines;
  for (const c of r.changes) lines.push(`  ${c.action.padEnd(8)} ${c.path}`);
  if (r.conflicts.length) lines.push(`Conflicts expected: ${plural(r.conflicts.length, "file")} (${r.conflicts.join(", ")})`);
  if (r.migration.needed) lines.push(`Migration needed: ${r.migration.reason}`);
  if (r.drift.length) lines.push(`Drift: ${plural(r.drift.length, "file")} edited since install (${r.drift.slice(0, 10).join(", ")}${r.drift.length > 10 ? ", …" : ""})`);
  if (r.drift_not_checked) lines.push(`Drift: ${plural(r.drift_not_checked, "file")} not checked (nothing records what was installed; upstream did not change them, so the upgrade keeps them as they are)`);
  for (const f of r.findings) lines.push(`${f.level}: ${f.message}${f.fix ? ` (fix: ${f.fix})` : ""}`);
  return lines;
}

export async function checkCommand(p: ParsedArgs, cwd: string, sink: Sink): Promise<number> {
  const r = await runCheck(p, cwd);
  if (globals(p).json) sink.out(JSON.stringify({ type: "result", schema_version: 1, command: "check", ...r }));
  else {
    for (const l of checkLines(r)) {
      if (r.status === "unknown") sink.err(l);
      else sink.out(l);
    }
  }
  return r.exit_code;
}
