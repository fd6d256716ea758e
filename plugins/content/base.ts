/**
 * The base B of the three-way comparison is what was installed, found in this order:
 *   1. the installed manifest we write (hashes; contents from the source's history at its commit),
 *   2. the source repository's own history at the installed commit: VERSION.txt `commit=`,
 *      else `--from <ref>`,
 *   3. inferred from the source's history (infer.ts), when nothing recorded the installed commit,
 *   4. none — only when the source has no history: every file that differs is a conflict.
 * Upstream compared against the wrong base and silently dropped upstream changes to every
 * file a user had touched; a wrong base is worse than none, so an unreadable manifest stops
 * the plan instead of falling through.
 */
import path from "node:path";
import { readVersionFile } from "../version-file.ts";
import { catFiles, type CommitChanges, firstParentHistory, lsTree, lsTreeEach, resolveCommit, type Vouched } from "./gitobj.ts";
import { sha256 } from "./hash.ts";
import { type Choice, inferBase } from "./infer.ts";
import { type ManifestJson, readInstalledManifest } from "./manifest.ts";
import type { Mapping } from "./options.ts";
import type { PathMap } from "./paths.ts";
import type { Problem } from "./scan.ts";
import { closestVersions } from "./tied.ts";

export type BaseKind = "manifest" | "git" | "none";

export interface ResolvedBase {
  kind: BaseKind;
  /** The installed source commit, when known. */
  ref?: string;
  /** Where the installed commit came from. */
  via?: "installed-manifest" | "VERSION.txt" | "--from" | "inferred";
  /** A commit of the source's history the installation derives from (where to look for upstream's renames). */
  commit?: string;
  /** How well an inferred base fits the installation. */
  inference?: InferenceFacts;
  /**
   * Set when nothing recorded the installed commit but the source has history: infers the
   * base from the installed files' git blob ids (installation path → blob id); `readLocal`
   * gives an installed file's bytes (an edited file's base among tied commits, tied.ts).
   */
  infer?: (local: ReadonlyMap<string, string>, readLocal: (target: string) => Buffer | null) => Promise<ResolvedBase>;
  /** Installation path → why its base is one of several versions the tied installed commits hold (infer.ts `choices`). */
  notes?: Map<string, string>;
  /** Installation path → sha256 of the installed content (for a git base: as far as `fill` has learnt). */
  hashes: Map<string, string>;
  /** When the plan that resolved this base began reading files (epoch ms); manifest stats trust only files unchanged since well before. */
  readAt?: number;
  /** A manifest base: installation path → the stat recorded with its hash (manifest.ts `stats`). */
  stats?: ReadonlyMap<string, string>;
  /** A git base: installation path → git blob id, so that most paths compare without reading the blob. */
  oids: Map<string, string> | null;
  /** A base read from a commit's tree: source path → blob id of every file under the mapped folders. */
  tree?: Vouched;
  /** Reads the base blobs of these paths and records their sha256 in `hashes` (a git base only). */
  fill(targets: readonly string[]): Promise<void>;
  /** Stop the plan (pre-flight errors). */
  problems: Problem[];
  /** Worth saying, not stopping for. */
  warnings: Problem[];
  /** Base contents for merges, checked against `hashes`; a target is absent when its base cannot be read. */
  contents(targets: readonly string[]): Promise<Map<string, Buffer>>;
}

export interface InferenceFacts {
  /** Several commits match equally: the oldest and the newest of them, and how many (`ref` is the oldest). */
  range?: { from: string; to: string; commits: number };
  /** Local files identical to their version at the inferred commit. */
  matched: number;
  /** Local files identical to some version upstream ever had (hand-copied ones included). */
  unedited: number;
  /** Local files of the mapped folders. */
  total: number;
}

export interface BaseInput {
  sourceRoot: string;
  /** Source is a git work tree (history is available). */
  sourceIsGit: boolean;
  installedManifest: string;
  /** The installed manifest as this run parsed it already (see manifest.ts `manifestJsonOf`); else read here. */
  manifestJson?: () => ManifestJson;
  versionFile: string;
  from: string | null;
  /** Three-way mappings only. */
  mappings: readonly Mapping[];
  pathMap: PathMap;
  signal?: AbortSignal;
}

const none = (problems: Problem[] = [], warnings: Problem[] = []): ResolvedBase => ({
  kind: "none",
  hashes: new Map(),
  oids: null,
  fill: async () => {},
  problems,
  warnings,
  contents: async () => new Map(),
});

/** Reads `<commit>:<sourcePath>` for each target and keeps only bytes that match the expected hash. */
function gitContents(input: BaseInput, commit: string | undefined, hashes: Map<string, string>) {
  return async (targets: readonly string[]): Promise<Map<string, Buffer>> => {
    const out = new Map<string, Buffer>();
    if (!commit || !input.sourceIsGit) return out;
    const names = new Map<string, string>();
    for (const t of targets) {
      const src = input.pathMap.toSource(t);
      if (src && hashes.has(t)) names.set(`${commit}:${src.source}`, t);
    }
    const got = await catFiles(input.sourceRoot, [...names.keys()], input.signal);
    for (const [name, buf] of got) {
      const t = names.get(name)!;
      if (buf && sha256(buf) === hashes.get(t)) out.set(t, buf);
    }
    return out;
  };
}

/** A base given as a blob id per installation path; contents are read by blob id, in one batch. */
function fromOids(input: BaseInput, oids: Map<string, string>, ref: string, via: ResolvedBase["via"]): ResolvedBase {
  const hashes = new Map<string, string>();
  const read = async (targets: readonly string[]) => {
    const want = targets.filter((t) => oids.has(t));
    const got = await catFiles(input.sourceRoot, [...new Set(want.map((t) => oids.get(t)!))], input.signal);
    return { want, got };
  };
  const fill = async (targets: readonly string[]) => {
    const { want, got } = await read(targets.filter((t) => !hashes.has(t)));
    for (const t of want) {
      const buf = got.get(oids.get(t)!);
      if (buf) hashes.set(t, sha256(buf));
    }
  };
  const contents = async (targets: readonly string[]) => {
    const { want, got } = await read(targets.filter((t) => hashes.has(t)));
    const out = new Map<string, Buffer>();
    for (const t of want) {
      const buf = got.get(oids.get(t)!);
      if (buf && sha256(buf) === hashes.get(t)) out.set(t, buf);
    }
    return out;
  };
  return { kind: "git", ref, via, commit: ref, hashes, oids, fill, problems: [], warnings: [], contents };
}

async function fromGit(input: BaseInput, commit: string, via: ResolvedBase["via"]): Promise<ResolvedBase> {
  const dirs = input.mappings.map((m) => m.from);
  const oids = new Map<string, string>();
  let clash = false;
  await lsTreeEach(input.sourceRoot, commit, dirs, (p, oid) => {
    const t = input.pathMap.toTarget(p);
    if (!t) return;
    if (oids.has(t.target)) clash = true;
    oids.set(t.target, oid);
  }, input.signal);
  // The tree by source path is a view of `oids` (a second map of every path was 16 MiB at 100k
  // files), exact where each path maps to its own installation path; else it is read as it is.
  const tree: Vouched = clash ? await lsTree(input.sourceRoot, commit, dirs, input.signal) : {
    get: (p) => {
      const t = input.pathMap.toTarget(p);
      return t && input.pathMap.toSource(t.target)?.source === p ? oids.get(t.target) : undefined;
    },
  };
  return { ...fromOids(input, oids, commit, via), tree };
}

const short = (sha: string) => sha.slice(0, 7);

/** The base from the source's history alone (see infer.ts); none when not one local file matches it. */
async function inferred(
  input: BaseInput,
  history: Promise<CommitChanges[]>,
  local: ReadonlyMap<string, string>,
  readLocal: (target: string) => Buffer | null,
  warnings: Problem[],
): Promise<ResolvedBase> {
  const bySource = new Map<string, string>();
  for (const [target, oid] of local) {
    const src = input.pathMap.toSource(target);
    if (src) bySource.set(src.source, oid);
  }
  let commits: CommitChanges[];
  try {
    commits = await history;
  } catch (err) {
    if (input.signal?.aborted) throw err;
    // A history git cannot read (no commit yet, a broken clone) leaves no base, never a guess.
    return none([], [...warnings, {
      code: "BASE_REF_UNKNOWN",
      message: `The installed version is unknown and the source's history cannot be read (${gitReason(err)}): every file that differs from the source is a conflict`,
      fix: "Use a healthy git clone of the source as --source, or pass --from <the source commit that was installed>",
    }]);
  }
  const inf = inferBase(commits, bySource);
  if (!inf.commit) {
    return none([], [...warnings, {
      code: "BASE_REF_UNKNOWN",
      message: `The installed version is unknown (no ${path.basename(input.installedManifest)}, no commit= in ${input.versionFile}) and not one of the ${inf.total} installed files matches a version in the source's history: every file that differs from the source is a conflict`,
      fix: "Pass --from <the source commit that was installed> to upgrade files you did not change without asking",
    }]);
  }
  const oids = new Map<string, string>();
  for (const [source, oid] of inf.bases) {
    const t = input.pathMap.toTarget(source);
    if (t) oids.set(t.target, oid);
  }
  const base = fromOids(input, oids, inf.commit, "inferred");
  const range = inf.tied.length > 1 ? { from: inf.tied[0], to: inf.tied[inf.tied.length - 1], commits: inf.tied.length } : undefined;
  base.inference = { ...(range ? { range } : {}), matched: inf.matched, unedited: inf.unedited, total: inf.total };
  const others = inf.unedited - inf.matched;
  const edited = inf.total - inf.unedited;
  const which = range ? `${short(range.from)}..${short(range.to)} (${range.commits} commits match equally)` : short(inf.commit);
  base.warnings.push(...warnings, {
    code: "BASE_INFERRED",
    message: `Base inferred: ${which}, ${inf.matched} of ${inf.total} files match${others ? `; ${others} more ${others === 1 ? "matches" : "match"} another upstream version` : ""}${edited ? `; ${edited} edited or your own` : ""}`,
    fix: `Nothing recorded which commit was installed, so the source's history was searched; pass --from <commit> if another commit was installed`,
  });
  if (range) await pickTiedBases(input, inf.choices, readLocal, base, range);
  return base;
}

/**
 * An edited file the tied commits hold in different versions: its base is the version the
 * user's file is closest to (tied.ts), and the plan says that the installed version was not
 * certain (a note on its entry, a warning).
 */
async function pickTiedBases(
  input: BaseInput,
  choices: ReadonlyMap<string, Choice[]>,
  readLocal: (target: string) => Buffer | null,
  base: ResolvedBase,
  range: { from: string; to: string },
): Promise<void> {
  const targets = new Map<string, string>();
  for (const source of choices.keys()) {
    const t = input.pathMap.toTarget(source);
    if (t) targets.set(source, t.target);
  }
  const picks = await closestVersions(input.sourceRoot, choices, (source) => readLocal(targets.get(source) ?? ""), input.signal);
  base.notes = new Map();
  for (const [source, pick] of picks) {
    const target = targets.get(source);
    if (!target) continue;
    base.oids!.set(target, pick.oid);
    const note = `the commits that match the installation (${short(range.from)}..${short(range.to)}) hold ${pick.versions} versions of this file; its base is ${short(pick.commit)}'s, the closest to yours`;
    base.notes.set(target, note);
    base.warnings.push({
      code: "BASE_AMBIGUOUS",
      target,
      message: `${target}: ${note}`,
      fix: `Pass --from <commit> naming the commit that was installed if that is not the version you edited`,
    });
  }
}

/** What git said, without the command line around it. */
function gitReason(err: unknown): string {
  const said = (err as { details?: { git_stderr?: unknown } }).details?.git_stderr;
  return typeof said === "string" && said ? said.split("\n")[0] : (err as Error).message;
}

/** No recorded base yet, to be inferred from the source's history once the installed files' blob ids are known. */
function inferable(input: BaseInput, warnings: Problem[]): ResolvedBase {
  // Read now: git walks the history while the planner hashes the installation.
  const history = firstParentHistory(input.sourceRoot, input.mappings.map((m) => m.from), input.signal);
  history.catch(() => {}); // awaited (and its error thrown) by infer; never left unhandled
  return { ...none([], warnings), infer: (local, readLocal) => inferred(input, history, local, readLocal, warnings) };
}

export async function resolveBase(input: BaseInput): Promise<ResolvedBase> {
  const m = readInstalledManifest(input.installedManifest, input.manifestJson?.());
  if (m.kind === "invalid") return none([m.problem]);
  if (m.kind === "ok") {
    const hashes = new Map(Object.entries(m.manifest.files));
    const commit = m.manifest.source_commit ?? undefined;
    const known = commit && input.sourceIsGit ? await resolveCommit(input.sourceRoot, commit, input.signal) : null;
    const warnings: Problem[] = [];
    if (commit && !known) {
      warnings.push({
        code: "BASE_REF_UNKNOWN",
        message: `The installed commit ${commit.slice(0, 12)} is not in the source's history: conflicts can be kept or replaced, but a merge has no base and marks the whole file`,
        fix: "Fetch the source's full history (git fetch --unshallow) to merge against the installed version",
      });
    }
    const stats = new Map(Object.entries(m.manifest.stats ?? {}));
    return { kind: "manifest", ref: commit, via: "installed-manifest", ...(known ? { commit: known } : {}), hashes, stats, oids: null, fill: async () => {}, problems: [], warnings, contents: gitContents(input, known ?? undefined, hashes) };
  }

  const version = readVersionFile(input.versionFile);
  const candidates: Array<{ ref: string; via: "VERSION.txt" | "--from" }> = [];
  if (version.commit) candidates.push({ ref: version.commit, via: "VERSION.txt" });
  if (input.from) candidates.push({ ref: input.from, via: "--from" });
  if (candidates.length === 0) {
    if (input.sourceIsGit) return inferable(input, []);
    return none([], [{
      code: "BASE_REF_UNKNOWN",
      message: `The installed version is unknown (no ${path.basename(input.installedManifest)}, no commit= in ${input.versionFile}) and the source ${input.sourceRoot} is not a git repository, so it cannot be inferred: every file that differs from the source is a conflict`,
      fix: "Use a git clone of the source as --source, or pass --from <the source commit that was installed> with one",
    }]);
  }
  if (!input.sourceIsGit) {
    return none([], [{
      code: "BASE_REF_UNKNOWN",
      message: `The source ${input.sourceRoot} is not a git repository, so the installed commit ${candidates[0].ref} cannot be read: every file that differs is a conflict`,
      fix: "Use a git clone of the source as --source",
    }]);
  }
  const warnings: Problem[] = [];
  for (const c of candidates) {
    const commit = await resolveCommit(input.sourceRoot, c.ref, input.signal);
    if (commit) {
      const base = await fromGit(input, commit, c.via);
      base.warnings.push(...warnings);
      return base;
    }
    const p: Problem = {
      code: "BASE_REF_UNKNOWN",
      message: `Cannot find the installed commit ${JSON.stringify(c.ref)} (from ${c.via}) in the source ${input.sourceRoot}`,
      fix: c.via === "--from" ? "Pass a commit, tag or branch that exists in the source to --from" : "Fetch the source's full history, or pass --from <ref> naming the installed commit",
    };
    // The user named this ref on purpose: a typo must stop the run, not quietly turn every edit into a conflict.
    if (c.via === "--from") return none([p], warnings);
    warnings.push(p);
  }
  // A recorded commit the source does not know: the history can still tell what was installed.
  return inferable(input, warnings);
}
