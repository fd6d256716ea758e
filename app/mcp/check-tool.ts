/**
 * The `upgrade_check` tool: `agent-os-upgrade check` over MCP, read-only (it is in the
 * `--read-only` server too). Same report and same answer as the command: up_to_date,
 * update_available (the files, conflicts expected, a migration needed) or unknown (cannot
 * tell, with the reason) — never up_to_date when it cannot tell.
 */
import { z } from "zod";
import type { Layout } from "../../core/layout.ts";
import { toUpgradeError } from "../../core/errors.ts";
import { runOptionsOf } from "../../core/options-resolve.ts";
import { cannotTell, type CheckReport, quietDryRun, reportOf } from "../check-plan.ts";
import { loadConfig } from "../options.ts";
import { resolveSourceArgs } from "../source.ts";

const FindingSchema = z.object({ level: z.enum(["error", "warning"]), code: z.string(), message: z.string(), fix: z.string().optional(), plugin: z.string().optional() });

export const CheckInput = {
  source: z.string().max(4096).optional().describe("The Agent OS source: a git URL (fetched into the user's cache) or a clone's path (relative to the project); default: the source= VERSION.txt records"),
  ref: z.string().max(256).optional().describe("The branch, tag or commit to compare with; default: the ref VERSION.txt records, else the URL's default branch"),
};

export const CheckOutput = {
  status: z.enum(["up_to_date", "update_available", "unknown"]),
  exit_code: z.number(),
  reason: z.string(),
  source: z.object({ path: z.string().nullable(), url: z.string().nullable(), ref: z.string().nullable() }),
  installed: z.object({ commit: z.string().nullable(), via: z.string().nullable() }),
  available: z.object({ commit: z.string().nullable(), version: z.string().nullable() }),
  changes: z.array(z.object({ path: z.string(), action: z.string() })),
  conflicts: z.array(z.string()),
  migration: z.object({ needed: z.boolean().nullable(), reason: z.string() }),
  drift: z.array(z.string()),
  drift_not_checked: z.number().describe("Files not checked for edits: nothing records what was installed and upstream did not change them, so the upgrade keeps them as they are"),
  findings: z.array(FindingSchema),
};

/** The check of the server's project, in this process; a failure is "unknown" with its reason and fix. */
export async function checkProject(layout: Layout, target: string, args: { source?: string; ref?: string }): Promise<CheckReport> {
  try {
    const resolved = await loadConfig(layout.projectRoot, { target: layout.projectRoot });
    const src = await resolveSourceArgs({ source: args.source ?? resolved.config.source ?? null, ref: args.ref ?? null, useRecord: true }, layout.projectRoot, target);
    if (!src.source) return cannotTell("Cannot tell: no source given and none recorded; call upgrade_check with source (a git URL or a clone's path)");
    const options = runOptionsOf(resolved, { source: src.source, origin: src.origin, target, dryRun: true, yes: true, json: true, interactive: false }, {}, "mcp");
    return reportOf(await quietDryRun(resolved, options), options);
  } catch (err) {
    const e = toUpgradeError(err);
    return cannotTell(`Cannot tell: ${e.message}${e.hint ? ` (fix: ${e.hint})` : ""}`);
  }
}

/** What a model reads: the answer, then the files, conflicts, migration and drift. */
export function checkText(r: CheckReport): string {
  const lines = [`${r.status}: ${r.reason}`];
  if (r.source.url) lines.push(`source: ${r.source.url} (${r.source.ref})`);
  for (const c of r.changes) lines.push(`  ${c.action.padEnd(8)} ${c.path}`);
  if (r.conflicts.length) lines.push(`conflicts expected: ${r.conflicts.join(", ")}`);
  if (r.migration.needed) lines.push(`migration needed: ${r.migration.reason}`);
  if (r.drift.length) lines.push(`edited since install: ${r.drift.join(", ")}`);
  if (r.drift_not_checked) lines.push(`not checked for edits: ${r.drift_not_checked} file${r.drift_not_checked === 1 ? "" : "s"} upstream did not change (kept as they are)`);
  for (const f of r.findings) lines.push(`${f.level}: ${f.message}${f.fix ? ` (fix: ${f.fix})` : ""}`);
  lines.push(`next: ${r.status === "update_available" ? "Tell the user what would change; upgrade_plan shows the details and upgrade_start runs it" : r.status === "up_to_date" ? "Nothing to do" : "Fix the cause named above, then check again"}`);
  return lines.join("\n");
}
