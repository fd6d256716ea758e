/**
 * Rendering a plan: the dry run shows the very plan the real run executes, so these only
 * read it (and the files it names). Counts per class, the file list, unified diffs
 * (`diff`'s createTwoFilesPatch; binaries and large files are named, not diffed), JSON.
 */
import path from "node:path";
import type { MergeResult } from "./merge.ts";
import { type ContentEntry, type ContentPlanX, localHash, localTarget, type PlanCounts } from "./plan.ts";
import { read } from "./views.ts";

export interface DiffOptions {
  /** For conflicts decided `merge`: the merge a real run would write (null: it cannot merge). */
  merge?: (entry: ContentEntry) => Promise<MergeResult | null>;
  /** For true conflicts: the three-way view as text (your change, upstream's, the merge); else a two-way diff. */
  view?: (entry: ContentEntry) => Promise<string>;
}

const CHANGING = new Set(["new", "update", "merge", "delete", "conflict"]);


/** A unified diff of one entry: local → what the run writes (upstream, or the merge). */
export async function entryDiff(plan: ContentPlanX, entry: ContentEntry, opts: DiffOptions = {}): Promise<string> {
  // A moved file's diff starts from the user's file at its old path.
  const localFile = localHash(entry) ? path.join(plan.install, ...localTarget(entry).split("/")) : null;
  const newFile = entry.hashes.new && entry.source ? path.join(plan.source.root, ...entry.source.split("/")) : null;
  const oldName = localFile ? `a/${localTarget(entry)}` : "/dev/null";
  const newName = newFile ? `b/${entry.target}` : "/dev/null";
  const note = entry.action === "conflict"
    ? `# conflict: ${entry.reason ?? ""}; decision: ${entry.decision ?? "undecided"}\n`
    : "";
  if (entry.opaque) return `${note}Binary or large files ${oldName} and ${newName} differ\n`;
  let after = read(newFile)?.toString("utf8") ?? "";
  let header = "upstream";
  if ((entry.action === "merge" || (entry.action === "conflict" && entry.decision === "merge")) && opts.merge) {
    const m = await opts.merge(entry);
    if (m) {
      after = m.content.toString("utf8");
      header = m.clean ? "merged" : `merged with ${m.conflicts} conflict${m.conflicts === 1 ? "" : "s"} marked`;
    }
  }
  const before = read(localFile)?.toString("utf8") ?? "";
  // Loaded on the first diff: a dry run without --diff (and a run without conflicts) never needs it.
  const { createTwoFilesPatch } = await import("diff");
  return note + createTwoFilesPatch(oldName, newName, before, after, "local", header);
}

export type DiffScope = "conflicts" | "changed" | "all";

const FIRST: Record<string, number> = { conflict: 0, merge: 1, update: 2, delete: 3, new: 4 };

/**
 * Diffs of what the run would change, by installation path, conflicts first (then merges,
 * updates, deletions, new files). `changed` (the default) names new and deleted files without
 * their bodies; `conflicts` gives the conflicts' views only; `all` every body.
 */
export async function planDiffs(plan: ContentPlanX, opts: DiffOptions & { scope?: DiffScope } = {}): Promise<Record<string, string>> {
  const scope = opts.scope ?? "changed";
  const out: Record<string, string> = {};
  const changing = (plan.entries as ContentEntry[]).filter((e) => CHANGING.has(e.action) && (scope !== "conflicts" || e.action === "conflict"));
  changing.sort((a, b) => FIRST[a.action] - FIRST[b.action] || (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
  for (const e of changing) {
    if (e.action === "conflict" && opts.view) out[e.target] = await opts.view(e);
    else if (scope === "changed" && e.action === "new") out[e.target] = `new file ${e.target} (--diff=all shows its body)\n`;
    else if (scope === "changed" && e.action === "delete") out[e.target] = `deleted ${e.target} (${e.reason ?? "deleted upstream"}; the backup keeps it)\n`;
    else out[e.target] = await entryDiff(plan, e, opts);
  }
  if (plan.gitignore.add.length && scope !== "conflicts") {
    out[plan.gitignore.file] = `--- a/${plan.gitignore.file}\n+++ b/${plan.gitignore.file}\n@@ appended @@\n${plan.gitignore.add.map((l) => `+${l}`).join("\n")}\n`;
  }
  return out;
}

const LABELS: Record<keyof PlanCounts, string> = {
  new: "new",
  updated: "updated",
  unchanged: "unchanged",
  kept_local: "kept local",
  not_checked: "not checked",
  merged: "merged",
  conflicts: "conflicts",
  deleted: "deleted",
  errors: "errors",
};

/** The human rendering: counts, then every path that is not unchanged, then the diffs if any. */
export function renderPlanText(plan: ContentPlanX, diffs?: Record<string, string>): string {
  const b = plan.base;
  const tie = b.range ? `${b.range.commits} commits match equally; ` : "";
  const via = b.via === "inferred" && b.total !== undefined ? `inferred: ${tie}${b.matched} of ${b.total} files match` : b.via;
  const ref = b.range ? `${b.range.from.slice(0, 12)}..${b.range.to.slice(0, 12)}` : b.ref?.slice(0, 12);
  const lines = [
    `Content plan: base ${b.kind}${ref ? ` ${ref}` : ""}${via ? ` (${via})` : ""} → ${plan.source.version ?? plan.source.commit?.slice(0, 12) ?? "working tree"}`,
    // `not_checked` only where a first upgrade has some (older plans never had it).
    "  " + (Object.keys(LABELS) as (keyof PlanCounts)[]).filter((k) => plan.counts[k] !== undefined).map((k) => `${plan.counts[k]} ${LABELS[k]}`).join(", "),
  ];
  for (const e of plan.entries as ContentEntry[]) {
    if (e.action === "unchanged" || e.action === "not_checked") continue;
    const d = e.decision ? ` → ${e.decision}${e.decided_by ? ` (${e.decided_by})` : ""}` : "";
    lines.push(`  ${(e.action === "merge" ? "merged" : e.action).padEnd(10)} ${e.target}  (${e.reason ?? ""}${d})`);
  }
  if (plan.gitignore.add.length) lines.push(`  gitignore  ${plan.gitignore.file}  (+${plan.gitignore.add.length} line${plan.gitignore.add.length === 1 ? "" : "s"})`);
  for (const p of plan.problems) lines.push(`  error      ${p.message}`);
  for (const w of plan.warnings) lines.push(`  warning    ${w.message}`);
  if (diffs) for (const d of Object.values(diffs)) lines.push(d.trimEnd());
  return lines.join("\n") + "\n";
}

/** The plan as JSON (`--json`), with a schema version. */
export function renderPlanJson(plan: ContentPlanX): string {
  return JSON.stringify({ schema_version: 1, ...plan }, null, 2) + "\n";
}
