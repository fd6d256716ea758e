/**
 * Following upstream's moves, as git's rename detection does: an edited file that upstream
 * moved (base → new) is merged three-way — the old path's base, the user's file, upstream's
 * file at the new path — and the result is written at the new path. A clean merge removes
 * the old path; an unclean one is a conflict of the new path, whose decision decides for both
 * (apply.ts: `merge` writes the markers there and removes the old path, `theirs` installs
 * upstream's and removes it, `keep` and `skip` leave the user's file where it is).
 * Unedited moved files need nothing: the old path is deleted, the new one is new.
 */
import fs from "node:fs";
import type { ResolvedBase } from "./base.ts";
import type { StaticDecision } from "./decide.ts";
import { sha256 } from "./hash.ts";
import { mergeFile } from "./merge.ts";
import { insideJoin } from "./paths.ts";
import { type ContentEntry, entriesAt } from "./plan.ts";
import type { Problem } from "./scan.ts";

export interface MoveRequest {
  base: Pick<ResolvedBase, "contents">;
  installDir: string;
  sourceRoot: string;
  decide: (target: string) => StaticDecision | null;
  signal?: AbortSignal;
}

/** Edited files upstream moved to a path the installation has no file at: old-path entry and new-path entry. */
function movedPairs(entries: readonly ContentEntry[]): Array<{ old: ContentEntry; moved: ContentEntry }> {
  const olds = entries.filter((old) => {
    const { base, local } = old.hashes;
    return old.moved_to && !old.opaque && base !== null && local !== null && local !== base && old.action !== "error";
  });
  const byTarget = entriesAt(entries, new Set(olds.map((old) => old.moved_to!)));
  const pairs: Array<{ old: ContentEntry; moved: ContentEntry }> = [];
  for (const old of olds) {
    const moved = byTarget.get(old.moved_to!);
    // A file of the user's at the new path, or a binary: nothing to merge into; the warning stays.
    if (moved?.action === "new" && !moved.opaque && moved.source) pairs.push({ old, moved });
  }
  return pairs;
}

/** Carries edited moved files to their new paths (see above); returns what the plan says about each. */
export async function followMoves(entries: ContentEntry[], req: MoveRequest): Promise<Problem[]> {
  const pairs = movedPairs(entries);
  if (pairs.length === 0) return [];
  const bases = await req.base.contents(pairs.map((p) => p.old.target));
  const said: Problem[] = [];
  for (const { old, moved } of pairs) {
    const base = bases.get(old.target);
    if (!base) continue; // no base bytes: the edit cannot be carried; the warning stays
    const local = fs.readFileSync(insideJoin(req.installDir, old.target));
    const m = await mergeFile(local, base, fs.readFileSync(insideJoin(req.sourceRoot, moved.source!)), req.signal);
    moved.moved_from = { target: old.target, base: old.hashes.base!, local: old.hashes.local! };
    moved.conflict = "both-changed";
    moved.three_way = m.clean ? "clean" : "conflict";
    for (const k of ["conflict", "decision", "decided_by"] as const) delete old[k];
    if (m.clean) {
      moved.action = "merge";
      moved.reason = `moved upstream from ${old.target}; your edit merges cleanly`;
      moved.merged_hash = sha256(m.content);
      old.action = "delete";
      old.reason = `moved upstream to ${moved.target}; your edit is carried there`;
      said.push({ code: "UPSTREAM_MOVED_CARRIED", target: old.target, message: `${old.target} (edited) was moved upstream to ${moved.target}: your edit is merged there and the old path removed`, fix: `Review ${moved.target}` });
      continue;
    }
    moved.action = "conflict";
    moved.reason = `moved upstream from ${old.target}; changed locally and upstream`;
    const d = req.decide(moved.target);
    if (d) Object.assign(moved, { decision: d.decision, decided_by: d.by });
    old.action = "keep";
    old.reason = `moved upstream to ${moved.target}; the decision for ${moved.target} decides (merge or theirs remove this path)`;
    said.push({
      code: "UPSTREAM_MOVED_EDITED",
      target: old.target,
      message: `${old.target} (edited) was moved upstream to ${moved.target}, and the merge there has conflicts: merge writes them marked at ${moved.target} and removes ${old.target}`,
      fix: `Decide for ${moved.target}: merge (then remove the markers), theirs (upstream's file; yours stays in the backup) or keep (yours stays at ${old.target})`,
    });
  }
  return said;
}
