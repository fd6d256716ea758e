/**
 * Inferring what was installed when nothing recorded it (upstream's installer writes no
 * VERSION.txt and no manifest): the source's own history says it.
 *
 *   per file       a local file whose git blob id is one of the versions its source path
 *                  ever had (renames followed) is unedited: that version is its base;
 *   installed      the commit whose tree of the mapped folders matches the most local files
 *   commit         (ties: the oldest) is the base of the rest — the edited files get a real
 *                  three-way merge, and files missing locally were deleted by the user.
 *
 * Pure: it replays the changes of one `git log --raw` pass (see `firstParentHistory`), so a
 * run costs one git process whatever the number of files or commits.
 */
import type { CommitChanges } from "./gitobj.ts";

export interface Inference {
  /** The installed commit: the best-matching tree (null when no local file matches any commit). */
  commit: string | null;
  /** Local files identical to their version at `commit`. */
  matched: number;
  /** Local files identical to some version of their path (≥ matched: hand-copied files count here). */
  unedited: number;
  /** Local files considered. */
  total: number;
  /** Source path → the blob the file is compared against: its matching version, else `commit`'s. */
  bases: Map<string, string>;
}

/** Paths joined by renames: a file keeps its identity across moves. */
class Lineage {
  readonly #parent = new Map<string, string>();

  find(p: string): string {
    let root = p;
    for (let up = this.#parent.get(root); up !== undefined && up !== root; up = this.#parent.get(root)) root = up;
    // Path compression keeps long rename chains cheap.
    for (let q = p; q !== root;) {
      const up = this.#parent.get(q)!;
      this.#parent.set(q, root);
      q = up;
    }
    return root;
  }

  join(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.#parent.set(rb, ra);
  }
}

function applyChange(tree: Map<string, string>, from: string | undefined, path: string, after: string | null): void {
  if (from !== undefined) tree.delete(from);
  if (after === null) tree.delete(path);
  else tree.set(path, after);
}

/**
 * Infers the base of each local file from the history of the source paths.
 * `local`: source path → git blob id of the installed file.
 */
export function inferBase(history: readonly CommitChanges[], local: ReadonlyMap<string, string>): Inference {
  const versions = new Map<string, Set<string>>();
  const lineage = new Lineage();
  const tree = new Map<string, string>();
  let score = 0;
  let best = -1;
  let bestScore = 0;
  // The score of a commit is kept up to date from its changes alone: O(changes), not O(tree).
  const swap = (path: string, before: string | undefined, after: string | null) => {
    const want = local.get(path);
    if (want === undefined) return;
    if (before === want) score--;
    if (after === want) score++;
  };

  history.forEach((c, index) => {
    for (const ch of c.changes) {
      if (ch.from !== undefined) {
        lineage.join(ch.from, ch.path);
        swap(ch.from, tree.get(ch.from), null);
      }
      swap(ch.path, tree.get(ch.path), ch.after);
      applyChange(tree, ch.from, ch.path, ch.after);
      if (ch.after !== null) {
        let set = versions.get(ch.path);
        if (!set) versions.set(ch.path, set = new Set());
        set.add(ch.after);
      }
    }
    // Strictly better only: on a tie the oldest commit stays.
    if (score > bestScore) {
      bestScore = score;
      best = index;
    }
  });

  const installed = new Map<string, string>();
  for (let i = 0; i <= best; i++) for (const ch of history[i].changes) applyChange(installed, ch.from, ch.path, ch.after);

  const bases = new Map(installed);
  let unedited = 0;
  const byLineage = lineageVersions(versions, lineage, local, installed);
  for (const [path, oid] of local) {
    if (versions.get(path)?.has(oid) || byLineage.get(lineage.find(path))?.has(oid)) {
      bases.set(path, oid);
      unedited++;
    }
  }
  return { commit: best >= 0 ? history[best].commit : null, matched: bestScore, unedited, total: local.size, bases };
}

/** All versions of every lineage that holds a local file not found under its own path (built only for those). */
function lineageVersions(
  versions: ReadonlyMap<string, Set<string>>,
  lineage: Lineage,
  local: ReadonlyMap<string, string>,
  installed: ReadonlyMap<string, string>,
): Map<string, Set<string>> {
  const wanted = new Set<string>();
  for (const [path, oid] of local) if (installed.get(path) !== oid && !versions.get(path)?.has(oid)) wanted.add(lineage.find(path));
  const out = new Map<string, Set<string>>();
  if (wanted.size === 0) return out;
  for (const [path, set] of versions) {
    const root = lineage.find(path);
    if (!wanted.has(root)) continue;
    let all = out.get(root);
    if (!all) out.set(root, all = new Set());
    for (const v of set) all.add(v);
  }
  return out;
}
