/**
 * What the content plugin publishes to other plugins: the base its plan was built against
 * (for phase 2's merges) and the result of phase 2 (for the report). Typed here, once, so
 * readers do not parse the content plugin's evidence themselves.
 */
import { z } from "zod";
import { defineChannel } from "../../core/channel.ts";
import type { UpgradeContext } from "../../core/types.ts";
import type { ResolvedBase } from "./base.ts";
import { evidenceOf } from "../../core/evidence.ts";

/** The base of this run's plan (holds functions, so it travels beside the plan, not in it). */
export const ContentBase = defineChannel<ResolvedBase>("content.base");

/**
 * `--decisions` keys another plugin decides with (a migration's files that mention the old
 * folder): claimed in pre-flight, so the content plugin does not refuse them as unknown.
 */
const ClaimedDecisions = defineChannel<Set<string>>("content.claimed-decisions");

export function claimDecisionKeys(ctx: UpgradeContext, keys: Iterable<string>): void {
  const set = ctx.channels.ensure(ClaimedDecisions, () => new Set<string>());
  for (const k of keys) set.add(k);
}

export const claimedDecisionKeys = (ctx: UpgradeContext): ReadonlySet<string> => ctx.channels.get(ClaimedDecisions) ?? new Set();

const count = z.number().int().nonnegative();

/** Phase 2's gate, for the content plugin; also the shape of the result others read. */
export const ContentEvidence = z
  .looseObject({
    plan_counts: z.object({
      new: count,
      updated: count,
      unchanged: count,
      kept_local: count,
      not_checked: count.optional(),
      merged: count.default(0),
      conflicts: count,
      deleted: count,
      errors: count,
    }),
    files_written: count,
    written_hashes_verified: z.literal(true),
    /** Files left with conflict markers after an unclean merge: allowed, and listed in the report. */
    needs_attention: z.array(z.string()),
    decisions: z.array(z.object({ target: z.string(), decision: z.string(), by: z.string(), result: z.string() })).default([]),
  })
  .refine((e) => e.plan_counts.errors === 0, { message: "the content plan has errors", path: ["plan_counts", "errors"] });

export type ContentResult = z.output<typeof ContentEvidence>;

/** Phase 2's result of this session (also after a resume, from the session's record), or undefined. */
export function contentResultOf(ctx: UpgradeContext): ContentResult | undefined {
  const state = ctx.session?.state;
  const r = ContentEvidence.safeParse(state ? evidenceOf(state, 2, "content") : undefined);
  return r.success ? r.data : undefined;
}
