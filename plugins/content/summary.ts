/** The content plugin's part of a run's summary: files by class, every conflict decision, the files to finish by hand. */
import path from "node:path";
import type { Outcome, RunSummary, UpgradeContext } from "../../core/types.ts";
import { contentResultOf } from "./channel.ts";

/** How to finish a file the upgrade could not finish, from what content's decision record says happened to it. */
export function howToFinish(why: string): string {
  if (/conflicts? marked$/.test(why)) return "edit it, remove the <<<<<<< markers";
  if (why.startsWith("left alone")) return "it was left as you saved it; merge upstream's version by hand if you want it";
  return "it was kept as it is; compare it with upstream's version by hand";
}

export type ContentSummary = Pick<RunSummary, "counts" | "decisions" | "needs_attention">;

/** From the session's phase-2 evidence (also after a resume); nothing when phase 2 left none. */
export function contentSummaryOf(ctx: UpgradeContext, outcome: Outcome): ContentSummary | null {
  const content = contentResultOf(ctx);
  if (!content) return null;
  const { installDir, projectRoot } = ctx.layout;
  return {
    counts: { ...content.plan_counts },
    decisions: content.decisions.map((d) => ({ ...d })),
    // After a rollback the files are as they were before: nothing is left to finish.
    needs_attention: outcome.status !== "completed" ? [] : content.needs_attention.map((target) => {
      const why = content.decisions.find((d) => d.target === target)?.result ?? "needs a look";
      return { path: path.relative(projectRoot, path.join(installDir, target)), why, how: howToFinish(why) };
    }),
  };
}
