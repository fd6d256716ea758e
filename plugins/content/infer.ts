/**
 * Inferring what was installed when nothing recorded it (upstream's installer writes no
 * VERSION.txt and no manifest): the source's own history says it.
 *
 *   per file       a local file whose git blob id is one of the versions its source path
 *                  ever had (renames followed) is unedited: that version is its base;
 *   installed      the commit whose tree of the mapped folders matches the most local files
 *   commit         is the base of the rest — the edited files get a real three-way merge, and
 *                  files missing locally were deleted by the user. Several commits can match
 *                  equally (a commit that changed only files the user then edited ties with
 *                  its parent; one that only added files the user lacks ties with the one
 *                  before): the oldest of them is the installed commit for files that are
 *                  not edited (a file added later in the range is new, not deleted by the
 *                  user), and an edited file whose versions differ among them gets each of
 *                  those versions as `choices`, for the caller to take the one the user's
 *                  file is closest to — never a version picked by a tie-break.
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
  /** Every commit that matches as many local files as `commit` does, oldest first (`commit` is the first). */
  tied: string[];
  /** Edited local files (source path) whose versions differ among the tied commits: each distinct version, oldest first. */
  choices: Map<string, Choice[]>;
}

/** One tied commit's version of a path (the first tied commit that has it). */
export interface Choice {
  oid: string;
  commit: string;
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

/**
 * Every version a path ever had: most paths have one, held as the blob id itself (a Set per
 * path is ~100 bytes, and a source can have 100k paths).
 */
type Versions = Map<string, string | Set<string>>;

function addVersion(versions: Versions, path: string, oid: string): void {
  const had = versions.get(path);
  if (had === undefined) versions.set(path, oid);
  else if (typeof had === "string") {
    if (had !== oid) versions.set(path, new Set([had, oid]));
  } else had.add(oid);
}

function hasVersion(versions: Versions, path: string, oid: string): boolean {
  const had = versions.get(path);
  return had === oid || (typeof had === "object" && had.has(oid));
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
  const versions: Versions = new Map();
  const lineage = new Lineage();
  const tree = new Map<string, string>();
  let score = 0;
  let tied: number[] = [];
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
      if (ch.after !== null) addVersion(versions, ch.path, ch.after);
    }
    if (score > bestScore) {
      bestScore = score;
      tied = [index];
    } else if (score === bestScore && score > 0) tied.push(index);
  });
  const best = tied.length ? tied[0] : -1;

  const installed = new Map<string, string>();
  for (let i = 0; i <= best; i++) for (const ch of history[i].changes) applyChange(installed, ch.from, ch.path, ch.after);

  const byLineage = lineageVersions(versions, lineage, local, installed);
  // The installed tree, each unedited file's base put in: not needed as it was after this.
  const bases = installed;
  let unedited = 0;
  for (const [path, oid] of local) {
    if (hasVersion(versions, path, oid) || byLineage.get(lineage.find(path))?.has(oid)) {
      bases.set(path, oid);
      unedited++;
    }
  }
  const edited = new Set([...local.keys()].filter((p) => bases.get(p) !== local.get(p)));
  return {
    commit: best >= 0 ? history[best].commit : null,
    matched: bestScore,
    unedited,
    total: local.size,
    bases,
    tied: tied.map((i) => history[i].commit),
    choices: tied.length > 1 ? tiedChoices(history, tied, edited) : new Map(),
  };
}

/**
 * The versions the tied commits hold of the given paths, where they differ: the tree is
 * replayed up to the newest tied commit, and each tied commit's version is read of the
 * paths changed since the oldest one (the only paths they can disagree on).
 */
function tiedChoices(history: readonly CommitChanges[], tied: readonly number[], paths: ReadonlySet<string>): Map<string, Choice[]> {
  const tree = new Map<string, string>();
  const found = new Map<string, Choice[]>();
  const touched = new Set<string>();
  let first = new Map<string, string>();
  const note = (p: string, oid: string | undefined, commit: string) => {
    if (oid === undefined || !paths.has(p)) return;
    const list = found.get(p) ?? [];
    if (!list.some((c) => c.oid === oid)) list.push({ oid, commit });
    found.set(p, list);
  };
  for (let i = 0, t = 0; i <= tied[tied.length - 1]; i++) {
    for (const ch of history[i].changes) {
      applyChange(tree, ch.from, ch.path, ch.after);
      if (i > tied[0]) touched.add(ch.path);
    }
    if (i !== tied[t]) continue;
    if (t === 0) first = new Map(tree);
    for (const p of t === 0 ? [] : touched) {
      // The oldest tied commit's version comes first.
      if (!found.has(p)) note(p, first.get(p), history[tied[0]].commit);
      note(p, tree.get(p), history[i].commit);
    }
    t++;
  }
  for (const [p, list] of found) if (list.length < 2) found.delete(p);
  return found;
}

/** All versions of every lineage that holds a local file not found under its own path (built only for those). */
function lineageVersions(
  versions: Versions,
  lineage: Lineage,
  local: ReadonlyMap<string, string>,
  installed: ReadonlyMap<string, string>,
): Map<string, Set<string>> {
  const wanted = new Set<string>();
  for (const [path, oid] of local) if (installed.get(path) !== oid && !hasVersion(versions, path, oid)) wanted.add(lineage.find(path));
  const out = new Map<string, Set<string>>();
  if (wanted.size === 0) return out;
  for (const [path, had] of versions) {
    const root = lineage.find(path);
    if (!wanted.has(root)) continue;
    let all = out.get(root);
    if (!all) out.set(root, all = new Set());
    if (typeof had === "string") all.add(had);
    else for (const v of had) all.add(v);
  }
  return out;
}
