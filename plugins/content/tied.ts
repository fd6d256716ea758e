/**
 * The base of an edited file when several commits match the installation equally (infer.ts
 * `choices`): the version among them that the user's file is closest to (fewest lines
 * added and removed), the newest on equal distance. A commit that changed only the file the
 * user then edited ties with its parent; a tie-break would merge against a version the user
 * never had, and give false conflicts.
 */
import { catFiles } from "./gitobj.ts";
import type { Choice } from "./infer.ts";

export interface TiedPick {
  /** The chosen version's blob id. */
  oid: string;
  /** The (first tied) commit that holds it. */
  commit: string;
  /** How many distinct versions the tied commits hold of the file. */
  versions: number;
}

/** Lines added plus removed from `a` to `b`; binary content is only equal or not. */
function distance(diffLines: (a: string, b: string) => Array<{ added?: boolean; removed?: boolean; count?: number }>, a: Buffer, b: Buffer): number {
  if (a.equals(b)) return 0;
  if (a.includes(0) || b.includes(0)) return Number.POSITIVE_INFINITY;
  let n = 0;
  for (const part of diffLines(a.toString("utf8"), b.toString("utf8"))) if (part.added || part.removed) n += part.count ?? 0;
  return n;
}

/**
 * For each path with choices (path → versions, oldest first), the version its local bytes are
 * closest to. `readLocal` gives the user's file by the same path; a path it cannot read gets
 * the newest version.
 */
export async function closestVersions(
  repo: string,
  choices: ReadonlyMap<string, Choice[]>,
  readLocal: (path: string) => Buffer | null,
  signal?: AbortSignal,
): Promise<Map<string, TiedPick>> {
  const out = new Map<string, TiedPick>();
  if (choices.size === 0) return out;
  const blobs = await catFiles(repo, [...new Set([...choices.values()].flat().map((c) => c.oid))], signal);
  const { diffLines } = await import("diff");
  for (const [p, list] of choices) {
    const local = readLocal(p);
    let best = list[list.length - 1];
    if (local) {
      let bestDistance = Number.POSITIVE_INFINITY;
      for (const c of list) {
        const bytes = blobs.get(c.oid);
        const d = bytes ? distance(diffLines, local, bytes) : Number.POSITIVE_INFINITY;
        // `<=`: on equal distance the newer version wins.
        if (d <= bestDistance) {
          bestDistance = d;
          best = c;
        }
      }
    }
    out.set(p, { oid: best.oid, commit: best.commit, versions: list.length });
  }
  return out;
}
