/**
 * The classifier: SPEC §5.2's table as one pure function of the three hashes (base B,
 * local L, new N; null = absent) and the owner. Everything else in the planner is I/O
 * around this; every row is tested here and again on real files.
 */
import type { ContentPlan, PlanAction, PlanEntry } from "../../core/types.ts";
import type { InferenceFacts, ResolvedBase } from "./base.ts";
import type { Decision } from "./options.ts";
import type { Problem } from "./scan.ts";

/** Why a conflict is one; decides what `merge` can do with it. */
export type ConflictKind =
  | "both-changed" // L ≠ B, N ≠ B, L ≠ N
  | "deleted-locally" // no L, N ≠ B
  | "deleted-upstream" // no N, L ≠ B
  | "added-both" // no B for this path, L ≠ N
  | "no-base"; // no base known at all, L ≠ N

export interface Classified {
  action: PlanAction;
  reason: string;
  conflict?: ConflictKind;
}

export interface ClassifyInput {
  base: string | null;
  local: string | null;
  new: string | null;
  owner: "system" | "shared";
  /** False when no base could be resolved at all (SPEC: then any difference is a conflict). */
  baseKnown: boolean;
}

/** Returns null when there is nothing at that path on either side (both deleted it). */
export function classify({ base: b, local: l, new: n, owner, baseKnown }: ClassifyInput): Classified | null {
  if (l === null && n === null) return null;
  if (l !== null && n !== null && l === n) return { action: "unchanged", reason: "same as upstream" };
  if (l === null) {
    if (b === null) return { action: "new", reason: baseKnown ? "added upstream" : "not installed" };
    if (b === n) return { action: "keep_local", reason: "deleted locally; upstream unchanged" };
    return { action: "conflict", reason: "deleted locally, changed upstream", conflict: "deleted-locally" };
  }
  if (n === null) {
    if (b === null) return { action: "keep", reason: "local file (not from upstream)" };
    // An unedited copy is nothing to lose (and the backup has it); left behind, the server would index it beside its replacement.
    if (l === b) return { action: "delete", reason: "deleted upstream" };
    if (owner === "shared") return { action: "keep", reason: "deleted upstream; kept because you edited it" };
    return { action: "conflict", reason: "deleted upstream, changed locally", conflict: "deleted-upstream" };
  }
  if (b === null) {
    return baseKnown
      ? { action: "conflict", reason: "added locally and upstream with different content", conflict: "added-both" }
      : { action: "conflict", reason: "differs from upstream and no base is known", conflict: "no-base" };
  }
  if (l === b) return { action: "update", reason: "changed upstream" };
  if (n === b) return { action: "keep_local", reason: "changed locally; upstream unchanged" };
  return { action: "conflict", reason: "changed locally and upstream", conflict: "both-changed" };
}

export interface ContentEntry extends PlanEntry {
  conflict?: ConflictKind;
  /** Binary or large: compared by hash, never text-diffed or merged. */
  opaque?: boolean;
  /** Who chose `decision`: `decision` (--decisions), `rule:<glob>`, `policy` (--on-conflict / config) or `prompt`. */
  decided_by?: string;
  /** Permission bits to give a written file. */
  mode?: number;
  /** The installed version was not certain (several commits match, holding different versions of this edited file): which one is its base, and why. */
  base_note?: string;
  /** Upstream deleted this path by moving it (git's rename detection, base → new): the installation path it moved to. */
  moved_to?: string;
  /**
   * Upstream moved an edited file here (git's rename detection, base → new): the old path, the
   * base and the local hash of the file there. This entry merges that file (old-path base, the
   * user's file, new-path upstream) and writes the result here; the old path goes (moves.ts).
   */
  moved_from?: { target: string; base: string; local: string };
  /** A text file changed on both sides: whether `git merge-file` merges it cleanly (`merge`) or not (a true conflict). */
  three_way?: "clean" | "conflict";
  /** For a clean merge: the sha256 of the merged bytes the plan saw (phase 2 merges again and checks it). */
  merged_hash?: string;
}

/** The installation path whose bytes are this entry's local side and whose base is its base: the old path of a moved file. */
export const localTarget = (e: ContentEntry): string => e.moved_from?.target ?? e.target;

/** The hash of this entry's local side (the old path's file for a moved one). */
export const localHash = (e: ContentEntry): string | null => e.moved_from?.local ?? e.hashes.local;

/** The entries at these installation paths, the last one of each (a map of every entry is 100k pairs at 100k files). */
export function entriesAt(entries: readonly ContentEntry[], targets: ReadonlySet<string>): Map<string, ContentEntry> {
  const out = new Map<string, ContentEntry>();
  if (targets.size) for (const e of entries) if (targets.has(e.target)) out.set(e.target, e);
  return out;
}

/** A conflict `merge` can resolve: text on both sides, and no deletion involved. */
export function canMerge(e: ContentEntry): boolean {
  return !e.opaque && (e.conflict === "both-changed" || e.conflict === "added-both" || e.conflict === "no-base");
}

export interface PlanCounts {
  new: number;
  updated: number;
  unchanged: number;
  kept_local: number;
  /** Kept without being read (a first upgrade, upstream did not change them): present only when some are. */
  not_checked?: number;
  merged: number;
  conflicts: number;
  deleted: number;
  errors: number;
}

/** The plan as the content plugin builds it: core's ContentPlan plus what a renderer and the apply step need. */
export interface ContentPlanX extends ContentPlan {
  /** Which base, how it was found, and for an inferred one how well it fits (see InferenceFacts). */
  base: { kind: ResolvedBase["kind"]; ref?: string; via?: ResolvedBase["via"] } & Partial<InferenceFacts>;
  entries: PlanEntry[];
  source: { root: string; commit: string | null; version: string | null };
  install: string;
  counts: PlanCounts;
  /** Lines to add; in a migration, the old folder's lines renamed in place first (`rename`). */
  gitignore: { file: string; add: string[]; rename?: { from: string; to: string; lines: string[] } };
  /** Mapped folders the installation does not have (or has empty), whose upstream files are all new. */
  not_installed?: string[];
  problems: Problem[];
  warnings: Problem[];
}

export function countPlan(entries: readonly PlanEntry[]): PlanCounts {
  const c: PlanCounts = { new: 0, updated: 0, unchanged: 0, kept_local: 0, merged: 0, conflicts: 0, deleted: 0, errors: 0 };
  for (const e of entries) {
    switch (e.action) {
      case "new":
        c.new++;
        break;
      case "update":
        c.updated++;
        break;
      case "unchanged":
        c.unchanged++;
        break;
      case "keep_local":
      case "keep":
        c.kept_local++;
        break;
      case "not_checked":
        c.not_checked = (c.not_checked ?? 0) + 1;
        break;
      case "merge":
        c.merged++;
        break;
      case "conflict":
        c.conflicts++;
        break;
      case "delete":
        c.deleted++;
        break;
      case "error":
        c.errors++;
        break;
    }
  }
  return c;
}

/**
 * The hash the installed manifest records for an entry once it is applied: the upstream
 * content the file now derives from, so that the next upgrade sees the user's own edits
 * as local changes. null drops the path from the manifest.
 */
export function manifestHash(e: PlanEntry, decision?: Decision | "kept"): string | null {
  switch (e.action) {
    case "new":
    case "update":
    case "unchanged":
    case "keep_local":
    case "not_checked":
    case "merge":
      return e.hashes.new;
    case "keep":
    case "delete":
    case "error":
      return null;
    case "conflict":
      // `skip` keeps the old base so that the same conflict is asked again next time.
      return decision === "skip" ? e.hashes.base : e.hashes.new;
  }
}
