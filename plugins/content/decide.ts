/**
 * Conflict decisions, in order: the first per-glob rule of the config that matches, then
 * the run's policy (`--on-conflict` or the config's `onConflict`), then — only when a person
 * is at a terminal — a prompt with "show diff". Without a terminal nothing ever prompts:
 * an undecided conflict stops the run before anything is written.
 */
import { UpgradeError } from "../../core/errors.ts";
import type { ConflictPolicy } from "../../core/types.ts";
import type { ConflictRule, Decision, PromptFn } from "./options.ts";
import { matcher } from "./paths.ts";
import type { ContentEntry } from "./plan.ts";

export interface StaticDecision {
  decision: Decision;
  by: string;
}

/** Decides from config rules and the policy alone (deterministic: a dry run shows the same decisions). */
export function staticDeciderOf(rules: readonly ConflictRule[], policy: ConflictPolicy | null) {
  const compiled = rules.map((r) => {
    const globs = Array.isArray(r.glob) ? r.glob : [r.glob];
    return { match: matcher(globs), action: r.action, label: `rule:${globs.join(",")}` };
  });
  return (target: string): StaticDecision | null => {
    for (const r of compiled) if (r.match(target)) return { decision: r.action, by: r.label };
    if (policy && policy !== "ask") return { decision: policy, by: "policy" };
    return null;
  };
}

export const CONFLICT_FLAGS = "--on-conflict keep|theirs|merge|skip";

/** The error for conflicts nobody decided; pre-flight reports the same text as a finding. */
export function unresolvedMessage(targets: readonly string[]): { message: string; fix: string } {
  const shown = targets.slice(0, 20).join(", ") + (targets.length > 20 ? `, and ${targets.length - 20} more` : "");
  return {
    message: `Cannot upgrade the content without a decision: ${targets.length} conflict${targets.length === 1 ? "" : "s"} (${shown})`,
    fix: `Pass ${CONFLICT_FLAGS} (or abort), add per-glob rules to the content plugin in upgrade.config.ts, or run on a terminal to choose per file; nothing was written`,
  };
}

export interface AskOptions {
  interactive: boolean;
  prompt: PromptFn;
  diffOf: (entry: ContentEntry) => Promise<string>;
}

/** Fills in every missing decision by asking; throws CONFLICTS_UNRESOLVED when nobody can be asked. */
export async function askMissing(entries: readonly ContentEntry[], opts: AskOptions): Promise<void> {
  const open = entries.filter((e) => e.action === "conflict" && !e.decision);
  if (open.length === 0) return;
  if (!opts.interactive) {
    const { message, fix } = unresolvedMessage(open.map((e) => e.target));
    throw new UpgradeError("CONFLICTS_UNRESOLVED", message, { hint: fix, details: { conflicts: open.map((e) => e.target) } });
  }
  for (const e of open) {
    e.decision = await opts.prompt({ target: e.target, reason: e.reason ?? "conflict", diff: () => opts.diffOf(e) });
    e.decided_by = "prompt";
    if (e.decision === "abort") return;
  }
}

/** The terminal prompt: @inquirer/prompts' select, looping on "show diff". */
export function terminalPrompt(print: (text: string) => void = (t) => process.stdout.write(t)): PromptFn {
  return async (req) => {
    const { select } = await import("@inquirer/prompts");
    for (;;) {
      const answer = await select<Decision | "diff">({
        message: `Conflict in ${req.target} (${req.reason}): what now?`,
        choices: [
          { name: "Show diff (local → upstream)", value: "diff" },
          { name: "Keep mine", value: "keep" },
          { name: "Take upstream (theirs)", value: "theirs" },
          { name: "Three-way merge (markers where it cannot)", value: "merge" },
          { name: "Skip (ask again next upgrade)", value: "skip" },
          { name: "Abort the upgrade (nothing written)", value: "abort" },
        ],
      });
      if (answer !== "diff") return answer;
      print((await req.diff()).trimEnd() + "\n");
    }
  };
}
