/**
 * Phase 5 report (SPEC §5.6): the summary markdown, one UPDATE_LOG.txt entry, a section in
 * INSTALLATION_SUMMARY.md and the new VERSION.txt. Appends are journalled so that a phase 5
 * re-run after a crash does not append twice. A failed or rolled-back run only writes its
 * summary under .cache/ — the restored files stay byte-identical to the backup.
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../core/atomic.ts";
import { parsePluginOptions } from "../core/config.ts";
import { PHASE_NAMES, PHASES } from "../core/phases.ts";
import { definePlugin, STAGE } from "../core/plugin.ts";
import { contentResultOf } from "./content/channel.ts";
import type { Outcome, UpgradeContext } from "../core/types.ts";
import { readVersionFile, updatedVersionText } from "./version-file.ts";

export const ReportOptions = z.strictObject({
  /** Commit `.agent-os/` and `.gitignore` to the project's git after a completed upgrade. */
  gitCommit: z.boolean().default(false),
});
export type ReportOptionsInput = z.input<typeof ReportOptions>;

const stamp = (d: Date) => d.toISOString().replace(/[:.]/g, "-");

export function renderSummary(ctx: UpgradeContext, outcome: Outcome, at: Date): string {
  const s = ctx.session!.state;
  const e0 = (s.phases["0"]?.evidence ?? {}) as Record<string, unknown>;
  const content = contentResultOf(ctx);
  const lines = [
    `# Agent OS upgrade — ${outcome.status}`,
    "",
    `- Session: ${s.session_id}`,
    `- When: ${at.toISOString()}`,
    `- From: ${e0.from_version ?? "unknown"}`,
    `- To: ${e0.to_version ?? "unknown"} (${e0.source_commit ?? "?"}${e0.source_branch ? ` on ${e0.source_branch}` : ""})`,
    `- Source: ${s.source.path ?? "?"}`,
    `- Installation: ${s.target.install}`,
  ];
  if (outcome.error) lines.push(`- Error: ${outcome.error.message}`);
  if (s.rollback) lines.push(`- Rollback: ${s.rollback.status} in ${s.rollback.duration_ms ?? "?"} ms`);
  lines.push("", "## Phases", "", "| phase | status | time |", "|---|---|---|");
  for (const p of PHASES) {
    const r = s.phases[String(p)];
    lines.push(`| ${p} ${PHASE_NAMES[p]} | ${p === 5 && !r ? "running" : r?.status ?? "not run"} | ${r?.duration_ms != null ? `${r.duration_ms} ms` : "-"} |`);
  }
  if (content) {
    lines.push("", "## Files", "", ...Object.entries(content.plan_counts).map(([k, v]) => `- ${k.replace("_", " ")}: ${v}`));
  }
  const decisions = content?.decisions;
  if (decisions?.length) {
    lines.push("", "## Conflict decisions", "", ...decisions.map((d) => `- \`${d.target}\`: ${d.decision}`));
  }
  const attention = content?.needs_attention;
  if (attention?.length) lines.push("", "## Needs attention (conflict markers)", "", ...attention.map((a) => `- \`${a}\``));
  const warnings = s.journal.filter((j) => j.step.startsWith("warning:"));
  if (warnings.length) lines.push("", "## Warnings", "", ...warnings.map((w) => `- ${w.step.slice(8)}`));
  return lines.join("\n") + "\n";
}

/** Phase 5's gate, for this plugin: the summary was written. */
export const ReportEvidence = z.looseObject({ report_path: z.string().min(1) });

export function reportPlugin(options: ReportOptionsInput = {}) {
  const opts = parsePluginOptions("report", ReportOptions, options);
  return definePlugin({
    name: "report",
    evidence: { 5: ReportEvidence },
    apply(hooks) {
      hooks.cleanup.tap({ stage: STAGE.last }, async (ctx, outcome, ev) => {
        const session = ctx.session;
        if (!session || ctx.dryRun) return; // no session: nothing was changed, nothing to report on disk
        const { layout } = ctx;
        const at = new Date();
        const summaryFile = path.join(layout.cacheDir, `upgrade-summary-${stamp(at)}.md`);
        await ctx.fs.ensureDir(layout.cacheDir);
        writeFileAtomic(summaryFile, renderSummary(ctx, outcome, at));
        ev.report_path = summaryFile;
        if (outcome.status !== "completed") return;
        const e0 = (session.state.phases["0"]?.evidence ?? {}) as Record<string, unknown>;
        const commit = String(e0.source_commit ?? "");
        const to = String(e0.to_version ?? commit.slice(0, 12));
        if (!session.hasStep("report:logs")) {
          fs.appendFileSync(layout.updateLog, `${at.toISOString()} upgraded ${e0.from_version ?? "unknown"} -> ${to} (commit ${commit}, session ${session.id})\n`);
          fs.appendFileSync(layout.installationSummary, `\n## Upgrade ${at.toISOString()}\n\n- From ${e0.from_version ?? "unknown"} to ${to} (commit ${commit})\n- Summary: ${path.relative(layout.installDir, summaryFile)}\n`);
          writeFileAtomic(layout.versionFile, updatedVersionText(readVersionFile(layout.versionFile), {
            commit,
            version: to,
            updated: at.toISOString(),
          }));
          await session.journal("report:logs", { summary: summaryFile });
        }
        if (opts.gitCommit && !session.hasStep("report:git")) {
          const git = ctx.$({ cwd: layout.projectRoot, nothrow: true });
          if ((await git`git rev-parse --is-inside-work-tree`).exitCode === 0) {
            await ctx.$({ cwd: layout.projectRoot })`git add -- ${path.relative(layout.projectRoot, layout.installDir)} .gitignore`;
            const r = await git`git commit -m ${`Upgrade Agent OS to ${to}`}`;
            if (r.exitCode !== 0) ctx.log.warn(`git commit of the upgrade did not succeed: ${r.stderr.trim() || r.stdout.trim()}`);
          } else ctx.log.warn("gitCommit is on but the project is not a git repository; nothing committed");
          await session.journal("report:git");
        }
      });
    },
  });
}
