/**
 * Three-way views of a conflict, as a person (or an assistant) needs them to decide: "your
 * change" (base → yours), "upstream's change" (base → upstream), and the merged result with
 * git's markers. A two-way diff local → upstream would show the user's own note as a
 * deletion by upstream; these never do.
 */
import fs from "node:fs";
import path from "node:path";
import { mergeFile } from "./merge.ts";
import { type ContentEntry, type ContentPlanX, localHash, localTarget } from "./plan.ts";

export interface ThreeWayView {
  /** Unified diff base → the user's file (`/dev/null` where a side has no file). */
  yours: string;
  /** Unified diff base → upstream's file. */
  upstream: string;
  /** What `merge` would write (markers where it cannot merge); null when merge cannot apply (a deletion, binary). */
  merged: string | null;
  /** Conflict hunks left with markers in `merged`. */
  hunks: number;
}

/** A file's bytes, or null when there is no file (a side the entry lacks, or one gone since the plan). */
export function read(file: string | null): Buffer | null {
  if (!file) return null;
  try {
    return fs.readFileSync(file);
  } catch {
    return null;
  }
}

/** The view of one conflict; `base` is its base bytes (null: no base known, or added on both sides). */
export async function threeWayView(plan: ContentPlanX, e: ContentEntry, base: Buffer | null, signal?: AbortSignal): Promise<ThreeWayView> {
  const local = localHash(e) ? read(path.join(plan.install, ...localTarget(e).split("/"))) : null;
  const theirs = e.hashes.new && e.source ? read(path.join(plan.source.root, ...e.source.split("/"))) : null;
  if (e.opaque) {
    const note = `Binary or large file ${e.target}: compared by hash only\n`;
    return { yours: note, upstream: note, merged: null, hunks: 0 };
  }
  const { createTwoFilesPatch } = await import("diff");
  const t = e.target;
  const side = (bytes: Buffer | null, label: string) =>
    createTwoFilesPatch(base ? `base/${t}` : "/dev/null", bytes ? `${label}/${t}` : "/dev/null", base?.toString("utf8") ?? "", bytes?.toString("utf8") ?? "", "base", label);
  let merged: string | null = null;
  let hunks = 0;
  if (local && theirs) {
    const m = await mergeFile(local, base, theirs, signal);
    merged = m.content.toString("utf8");
    hunks = m.conflicts;
  }
  return { yours: side(local, "yours"), upstream: side(theirs, "upstream"), merged, hunks };
}

/** The view as text: the two changes in sequence, then the merge. */
export function renderView(target: string, reason: string, v: ThreeWayView): string {
  const merged = v.merged === null
    ? "(merge cannot apply: one side deleted the file, or it is binary; choose keep or theirs)\n"
    : v.merged.endsWith("\n") || v.merged === "" ? v.merged : v.merged + "\n";
  return [
    `# conflict: ${target} (${reason})`,
    "## Your change (base → yours)",
    v.yours.trimEnd(),
    "## Upstream's change (base → upstream)",
    v.upstream.trimEnd(),
    `## Merged (what "merge" writes${v.hunks ? `; ${v.hunks} conflict${v.hunks === 1 ? "" : "s"} marked <<<<<<< local … >>>>>>> upstream` : ""})`,
    merged.trimEnd(),
  ].join("\n") + "\n";
}
