/**
 * The planner: scans the source (N) and the installation (L), resolves the base (B), and
 * classifies every path of L ∪ N. It only reads; pre-flight, the dry run and phase 2 all
 * call it, so the plan a dry run shows is the plan phase 2 executes.
 *
 * What it reads: every local file once (unless the manifest's stats vouch for it), since
 * "unchanged" and "kept local" differ only by the local bytes and the manifest records the
 * hash of each; the source's copy only where git cannot vouch that it is the base commit's
 * blob the local copy already is (upstream changed it, or the user did); the base only where
 * its blob id matches neither side. A first upgrade from a known commit (VERSION.txt,
 * `--from`: no manifest of ours) does not read the local copy of a path upstream left alone
 * since that commit: whatever the user did to it, it is kept (`not_checked`).
 */
import fs from "node:fs";
import path from "node:path";
import type { ConflictPolicy } from "../../core/types.ts";
import { resolveBase, type ResolvedBase } from "./base.ts";
import { staticDeciderOf } from "./decide.ts";
import { renamesBetween, runGit, unchangedSince, type Vouched } from "./gitobj.ts";
import { settleBothChanged } from "./merge.ts";
import { followMoves, type MoveRequest } from "./moves.ts";
import { missingLines, standardLines, withFolderRenamed } from "./gitignore.ts";
import { type FileFacts, fileFacts, modeOf, smallFileFacts } from "./hash.ts";
import type { ContentSettings, Decision, Mapping } from "./options.ts";
import { insideJoin, matcher, PathMap } from "./paths.ts";
import { classify, type ContentEntry, type ContentPlanX, countPlan } from "./plan.ts";
import { type LocalFile, type Problem, scanLocal, scanSource, type SourceFile } from "./scan.ts";
import { type ManifestJson, parseStatRecord, statKey } from "./manifest.ts";

export interface PlanRequest {
  signal?: AbortSignal;
  sourceRoot: string;
  projectRoot: string;
  installDir: string;
  installedManifest: string;
  versionFile: string;
  gitignoreFile: string;
  /** A migration's folder move (core/layout.ts): `.gitignore` follows it. */
  relocation?: { from: string; to: string } | null;
  from: string | null;
  policy: ConflictPolicy | null;
  /** Per-path decisions of this run, by installation path (`--decisions`). */
  decisions?: Readonly<Record<string, Decision>>;
  options: ContentSettings;
  /**
   * The source's git facts when the run already has them (pre-flight asked git once, see
   * plugins/source/git.ts); without it the planner asks git itself.
   */
  sourceGit?: () => Promise<{ isGit: boolean; commit: string | null; tag: string | null }>;
  /** The installed manifest as this run parsed it already (pre-flight read its version); else read by the planner. */
  manifestJson?: () => ManifestJson;
}

export interface BuiltPlan {
  plan: ContentPlanX;
  /** Kept beside the plan (not in it: it holds functions) for the merges of phase 2. */
  base: ResolvedBase;
}

const toPosix = (p: string) => p.split(path.sep).join("/");

async function askGit(root: string, signal?: AbortSignal): Promise<{ isGit: boolean; commit: string | null; tag: string | null }> {
  const text = async (...args: string[]) => {
    const r = await runGit(["-C", root, ...args], { signal });
    return r.code === 0 ? r.stdout.toString("utf8").trim() : null;
  };
  if ((await text("rev-parse", "--is-inside-work-tree")) !== "true") return { isGit: false, commit: null, tag: null };
  const commit = await text("rev-parse", "--verify", "--quiet", "HEAD");
  const tag = commit ? await text("describe", "--tags", "--exact-match", "HEAD") : null;
  return { isGit: true, commit, tag };
}

async function sourceFacts(req: PlanRequest): Promise<{ isGit: boolean; commit: string | null; version: string | null }> {
  const root = req.sourceRoot;
  const { isGit, commit, tag } = req.sourceGit ? await req.sourceGit() : await askGit(root, req.signal);
  if (!isGit) return { isGit: false, commit: null, version: null };
  let version: string | null = tag || null;
  if (!version) {
    try {
      // Upstream's manifest is stale for files but its version string is the only label a release has.
      const m = JSON.parse(fs.readFileSync(path.join(root, "universal", ".universal-manifest.json"), "utf8"));
      version = typeof m.version === "string" ? m.version : null;
    } catch { /* no label */ }
  }
  return { isGit: true, commit, version };
}

/**
 * A local file's facts from the installed manifest, without reading it: when its stat is the
 * one recorded with its hash (see manifest.ts `stats`). Null: read it.
 */
function recordedFacts(abs: string, recorded: string | undefined, hash: string | undefined): (FileFacts & { upstream: string }) | null {
  if (!recorded || !hash) return null;
  const st = fs.lstatSync(abs, { throwIfNoEntry: false });
  // A prefix test first: parsing 10k records that mostly match would cost more than the stat.
  const key = st?.isFile() ? statKey(st) : null;
  if (!key || !recorded.startsWith(key + ":")) return null;
  // The rest is `<opaque 0|1>:<source path>`: read in place (a split per file is measurable at 10k).
  const at = key.length + 1;
  if ((recorded[at] === "0" || recorded[at] === "1") && recorded[at + 1] === ":") {
    return { hash, size: st!.size, opaque: recorded[at] === "1", upstream: recorded.slice(at + 2) };
  }
  const rec = parseStatRecord(recorded);
  return rec ? { hash, size: st!.size, opaque: rec.opaque, upstream: rec.upstream } : null;
}

/** A path of L ∪ N as read: the local file's facts first, the source's once the base is known. */
interface ReadEntry {
  target: string;
  owner: "system" | "shared";
  nf?: SourceFile;
  /** Its absolute path is joined when asked for (only files written need it), not held per file. */
  lf?: LocalFile;
  l: FileFacts | null;
  n: FileFacts | null;
  /** The manifest's stat record vouched for the local copy: the source path it was upstream's file of ("" if none). */
  upstream?: string;
  /** Upstream left it alone since a commit no record of ours names: kept, the local copy not read (`l` null). */
  unchecked?: true;
}

/** An installed file's bytes, or null when it cannot be read. */
function readInstalled(installDir: string, target: string): Buffer | null {
  try {
    return fs.readFileSync(insideJoin(installDir, target));
  } catch {
    return null;
  }
}

function sizeOf(abs: string): number {
  return fs.statSync(abs).size;
}

/**
 * The source's copy of a path. Where git vouches that upstream left the path alone since the
 * base commit (`vouched`: source path → that commit's blob id), the source's bytes are that
 * blob: a local copy that is the same blob (or was recorded as upstream's file there) is
 * those bytes, and the source's copy is not read. Its size must agree too, so that a
 * checkout filter (line endings, LFS) that makes the file differ from the blob is noticed.
 */
async function newFacts(r: ReadEntry, nf: SourceFile, vouched: Vouched | null, largeFileBytes: number, withOid: boolean): Promise<FileFacts> {
  const oid = vouched && !nf.linked ? vouched.get(nf.source) : undefined;
  if (oid && r.l) {
    // The same bytes: the local facts serve for both sides (one object per file, not two).
    if (r.upstream === nf.source) return r.l;
    if (r.l.oid === oid && sizeOf(nf.abs) === r.l.size) return r.l;
  }
  return smallFileFacts(nf.abs, largeFileBytes, withOid) ?? await fileFacts(nf.abs, largeFileBytes, withOid);
}

/** What one plan works with, from the scans to the entries. */
interface PlanRun {
  req: PlanRequest;
  opts: ContentSettings;
  threeWay: Mapping[];
  pathMap: PathMap;
  /** The base's side: where the installed commit kept the mapped folders (see ContentSettings.baseMappings). */
  baseMap: PathMap;
  decide: MoveRequest["decide"];
  src: { isGit: boolean; commit: string | null; version: string | null };
  n: Awaited<ReturnType<typeof scanSource>>;
  l: Awaited<ReturnType<typeof scanLocal>>;
  base: ResolvedBase;
  problems: Problem[];
  entries: ContentEntry[];
  /** Upstream paths git vouches are unchanged since the base commit (see `newFacts`), asked while the installation is read. */
  untouched: Promise<Vouched | null>;
  /** Mapped folders the installation does not have (see `foldersNotInstalled`), once the base is final. */
  notInstalled: string[];
}

export async function buildPlan(req: PlanRequest): Promise<BuiltPlan> {
  // Files changed after this instant may differ from what the plan read (manifest stats).
  const readAt = Date.now();
  const run = await scanTrees(req);
  const read = await readLocalSide(run);
  await readNewSide(run, read);
  await classifyAll(run, read);
  const plan = await assemblePlan(run);
  run.base.readAt = readAt;
  return { plan, base: run.base };
}

/** The two trees walked and the base resolved, at once (git answers while the trees are walked). */
async function scanTrees(req: PlanRequest): Promise<PlanRun> {
  const opts = req.options;
  const threeWay: Mapping[] = opts.mappings.filter((m) => m.mode === "three-way");
  const pathMap = new PathMap(threeWay);
  const baseMap = opts.baseMappings ? new PathMap(opts.baseMappings.filter((m) => m.mode === "three-way")) : pathMap;
  const excluded = matcher(opts.excludes);
  const facts = sourceFacts(req);
  const [src, n, l, base] = await Promise.all([
    facts,
    scanSource(req.sourceRoot, threeWay, excluded),
    scanLocal(req.installDir, threeWay, pathMap, excluded, matcher(opts.userPaths)),
    facts.then((f) => resolveBase({
      signal: req.signal,
      sourceRoot: req.sourceRoot,
      sourceIsGit: f.isGit,
      installedManifest: req.installedManifest,
      manifestJson: req.manifestJson,
      versionFile: req.versionFile,
      from: req.from,
      mappings: baseMap.mappings,
      pathMap: baseMap,
    })),
  ]);
  const problems: Problem[] = [...n.problems, ...l.problems, ...base.problems];
  for (const m of n.missing) {
    if (m.owner === "system") {
      // A missing system folder would read as "upstream deleted everything": refuse instead.
      problems.push({
        code: "CONTENT_PLAN_ERROR",
        message: `Cannot plan ${m.to}/: the source has no ${m.from}/ folder`,
        fix: "Check that --source is an agent-os-enhanced checkout, or change the content plugin's mappings for this source",
      });
    }
  }
  const decide = staticDeciderOf(opts.rules, req.policy, req.decisions);
  const run: PlanRun = { req, opts, threeWay, pathMap, baseMap, decide, src, n, l, base, problems, entries: [], untouched: Promise.resolve(null), notInstalled: [] };
  // An inferred base asks once it is known.
  if (!base.infer) run.untouched = vouch(run, base.commit);
  return run;
}

/** Upstream paths git vouches are unchanged since `commit` (null: none). */
function vouch(run: PlanRun, commit: string | undefined): Promise<Vouched | null> {
  // Across layouts the base kept these files elsewhere: git cannot vouch for them by path.
  if (run.baseMap !== run.pathMap) return Promise.resolve(null);
  const dirs = run.threeWay.map((m) => m.from);
  // A git base has read the commit's tree already.
  const p = commit ? unchangedSince(run.req.sourceRoot, commit, dirs, run.req.signal, run.base.commit === commit ? run.base.tree : undefined) : Promise.resolve(null);
  p.catch(() => {}); // awaited by readNewSide
  return p;
}

/** A path the plan cannot touch (unsafe, unreadable): an error entry, and for some a problem. */
function refuse(run: PlanRun, e: Omit<ContentEntry, "action" | "hashes">, problem?: Problem): void {
  if (problem) run.problems.push(problem);
  run.entries.push({ ...e, action: "error", hashes: { base: null, local: null, new: null } });
}

function unreadable(run: PlanRun, target: string, source: string | undefined, owner: "system" | "shared", err: unknown): void {
  refuse(run, { target, source, owner, reason: "unreadable" }, { code: "CONTENT_PLAN_ERROR", target, message: `Cannot read ${target}: ${(err as Error).message}`, fix: "Check the file's permissions, then run the upgrade again" });
}

/**
 * Paths of L ∪ N that cannot be planned as files, each as an error entry (or, for a local
 * symlink upstream does not have, a `keep`): refused by a problem, a symlink in the
 * installation, a local file or link standing in for one of its folders, a folder where
 * upstream has a file. Returns the check for one path: true when it is settled here.
 */
function guards(run: PlanRun): (target: string, nf: SourceFile | undefined, lf: LocalFile | undefined, owner: "system" | "shared", source: string | undefined) => boolean {
  const { req, l } = run;
  const unsafeTargets = new Set(run.problems.filter((p) => p.target).map((p) => p.target!));
  const unsafeList = [...unsafeTargets];
  const localSymlinks = new Set([...l.files.values()].filter((f) => f.symlink).map((f) => f.target));
  // The first of a folder's ancestors (below the mapping's top) that is a local file, once per folder.
  const blockers = new Map<string, string | undefined>();
  const blockerOf = (dir: string): string | undefined => {
    if (!blockers.has(dir)) {
      const segs = dir.split("/");
      blockers.set(dir, segs.slice(1).map((_, i) => segs.slice(0, i + 2).join("/")).find((a) => l.files.has(a)));
    }
    return blockers.get(dir);
  };
  return (target, nf, lf, owner, source) => {
    if (unsafeTargets.has(target) || unsafeList.some((u) => target.startsWith(u + "/"))) {
      refuse(run, { target, source, owner, reason: "refused (see the error above)" });
      return true;
    }
    if (lf?.symlink) {
      if (!nf) run.entries.push({ target, owner, action: "keep", hashes: { base: null, local: null, new: null }, reason: "local symlink (never touched)" });
      else refuse(run, { target, source, owner, reason: "symlink in the installation" }, { code: "UNSAFE_PATH", target, message: `Cannot update ${target}: it is a symlink in the installation (${fs.readlinkSync(lf.abs)}); an upgrade never writes through a link`, fix: `Replace ${lf.abs} with a real file (or remove it), then run the upgrade again` });
      return true;
    }
    if (!nf) return false;
    // A file can only be written where no local file or link stands in for one of its folders.
    const blocker = blockerOf(target.slice(0, target.lastIndexOf("/")));
    if (blocker) {
      const link = localSymlinks.has(blocker);
      const why = link ? "a symlink" : "a file";
      refuse(run, { target, source, owner, reason: `${blocker} is ${why}` }, { code: link ? "UNSAFE_PATH" : "CONTENT_PLAN_ERROR", target, message: `Cannot install ${target}: ${blocker} is ${why} in the installation where upstream has a folder`, fix: `Move ${path.join(req.installDir, blocker)} aside, then run the upgrade again` });
      return true;
    }
    const st = lf ? undefined : fs.lstatSync(insideJoin(req.installDir, target), { throwIfNoEntry: false });
    if (st) {
      refuse(run, { target, source, owner, reason: "a folder stands where upstream has a file" }, { code: "CONTENT_PLAN_ERROR", target, message: `Cannot install ${target}: a ${st.isDirectory() ? "folder" : "non-file"} of that name is in the installation`, fix: `Move ${path.join(req.installDir, target)} aside, then run the upgrade again` });
      return true;
    }
    return false;
  };
}

/** Every path of L ∪ N past the guards, with its local file's facts (read, or vouched for by the manifest's stats). */
async function readLocalSide(run: PlanRun): Promise<ReadEntry[]> {
  const { n, l, base, opts, pathMap } = run;
  // Local blob ids: a git base compares by them, inference needs them, and a local copy that
  // is the base commit's blob of a path upstream left alone spares reading the source's copy.
  const withOid = base.oids !== null || base.infer !== undefined || base.commit !== undefined;
  const settled = guards(run);
  const unread = await unreadSince(run);
  const targets = [...new Set([...n.files.keys(), ...l.files.keys()])].sort();
  const read: ReadEntry[] = [];
  for (const target of targets) {
    const nf = n.files.get(target);
    const lf = l.files.get(target);
    const owner = (nf?.mapping ?? pathMap.toSource(target)?.mapping)?.owner ?? "system";
    const source = nf?.source ?? pathMap.toSource(target)?.source;
    if (settled(target, nf, lf, owner, source)) continue;
    if (lf && nf && unread(target, nf)) {
      read.push({ target, owner, nf, lf, l: null, n: null, unchecked: true });
      continue;
    }
    // Now and then the event loop runs: git's answers are read while the files are.
    if (read.length % 256 === 255) await new Promise((resolve) => setImmediate(resolve));
    try {
      // Synchronous for ordinary files: a promise per file is measurable at 10k files.
      const recorded = lf && !base.oids && !base.infer ? recordedFacts(lf.abs, base.stats?.get(target), base.hashes.get(target)) : null;
      const lFacts = !lf ? null : recorded ?? (smallFileFacts(lf.abs, opts.largeFileBytes, withOid) ?? await fileFacts(lf.abs, opts.largeFileBytes, withOid));
      read.push({ target, owner, nf, lf, l: lFacts, n: null, upstream: recorded?.upstream });
    } catch (err) {
      unreadable(run, target, source, owner, err);
    }
  }
  return read;
}

/**
 * A first upgrade from a commit named by VERSION.txt or `--from` (a git base, no manifest of
 * ours): the paths whose local copy is not read, because git vouches that upstream's file is
 * the base commit's blob there. An inferred base reads every file (inference needs their
 * blob ids); a manifest base knows its files' hashes, so its drift stays exact.
 */
async function unreadSince(run: PlanRun): Promise<(target: string, nf: SourceFile) => boolean> {
  const { base } = run;
  const oids = base.oids;
  if (base.kind !== "git" || base.infer || !oids) return () => false;
  const vouched = await run.untouched;
  if (!vouched) return () => false;
  return (target, nf) => {
    if (nf.linked) return false;
    const oid = vouched.get(nf.source);
    return oid !== undefined && oids.get(target) === oid;
  };
}

/** The base inferred now that the local blob ids are known (if it must be), then the source's facts of each path. */
async function readNewSide(run: PlanRun, read: ReadEntry[]): Promise<void> {
  const { req, opts } = run;
  if (run.base.infer) {
    const local = new Map<string, string>();
    for (const r of read) if (r.l?.oid) local.set(r.target, r.l.oid);
    run.base = await run.base.infer(local, (t) => readInstalled(req.installDir, t));
    run.untouched = vouch(run, run.base.commit);
  }
  const vouched = await run.untouched;
  // Needed only for that question: the base travels on to phase 2 (its merges).
  run.base.tree = undefined;
  let kept = 0;
  for (const r of read) {
    try {
      // An unread local copy's base is the new content (no blob id to compare with).
      r.n = r.nf ? await newFacts(r, r.nf, vouched, opts.largeFileBytes, run.base.oids !== null && !r.unchecked) : null;
      read[kept++] = r;
    } catch (err) {
      unreadable(run, r.target, r.nf?.source, r.owner, err);
    }
  }
  read.length = kept;
}

/** Each read path classified (plan.ts), with its decision when a rule or policy gives one; clean merges settled. */
async function classifyAll(run: PlanRun, read: readonly ReadEntry[]): Promise<void> {
  const { base, req } = run;
  const baseKnown = base.kind !== "none";
  const notInstalled = run.notInstalled = foldersNotInstalled(run.threeWay, run.l.files, base);
  const absent = (target: string) => notInstalled.some((to) => target.startsWith(to + "/"));
  const baseHash = await baseHashes(read, base, absent);
  for (const r of read) {
    const hashes = { base: baseHash.get(r.target) ?? null, local: r.l?.hash ?? null, new: r.n?.hash ?? null };
    if (r.unchecked) {
      // Upstream's file is the base commit's: the base is the new content, and the local one unknown.
      run.entries.push({ target: r.target, owner: r.owner, source: r.nf!.source, action: "not_checked", hashes: { ...hashes, base: hashes.new }, reason: "upstream did not change it: kept as it is, not read", ...(r.n?.opaque ? { opaque: true } : {}) });
      continue;
    }
    const c = classify({ ...hashes, owner: r.owner, baseKnown });
    if (!c) continue;
    if (c.action === "new" && absent(r.target)) c.reason = `not installed: the installation has no ${notInstalled.find((to) => r.target.startsWith(to + "/"))}/`;
    const entry: ContentEntry = { target: r.target, owner: r.owner, action: c.action, hashes, reason: c.reason };
    if (r.nf) entry.source = r.nf.source;
    if (c.conflict) entry.conflict = c.conflict;
    const note = base.notes?.get(r.target);
    if (note && r.l) entry.base_note = note;
    if (r.l?.opaque || r.n?.opaque) entry.opaque = true;
    // A new file gets the source's permission bits; an updated one keeps the user's.
    if (r.nf && (c.action === "new" || c.action === "update" || c.action === "conflict")) entry.mode = modeOf(r.lf?.abs ?? r.nf.abs);
    const d = c.action === "conflict" ? run.decide(r.target) : null;
    if (d) {
      entry.decision = d.decision;
      entry.decided_by = d.by;
    }
    run.entries.push(entry);
  }
  await settleBothChanged(run.entries, { base, installDir: req.installDir, sourceRoot: req.sourceRoot, signal: req.signal });
  run.entries.sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
}

/** The plan as the renderers and phase 2 take it: entries, deletions told, folders not installed, .gitignore lines. */
async function assemblePlan(run: PlanRun): Promise<ContentPlanX> {
  const { req, base, entries, src } = run;
  const deletions = await reportDeletions(req, entries, base, src.commit, run);
  // Said only of folders upstream has files in, and that the installed layout has (a migration's new folders are new).
  const missing = run.notInstalled.filter((to) => run.baseMap.mappings.some((m) => m.to === to) && entries.some((e) => e.action === "new" && e.target.startsWith(to + "/")));
  return {
    base: { kind: base.kind, ...(base.ref ? { ref: base.ref } : {}), ...(base.via ? { via: base.via } : {}), ...base.inference },
    entries,
    source: { root: req.sourceRoot, commit: src.commit, version: src.version },
    install: req.installDir,
    counts: countPlan(entries),
    gitignore: planGitignore(req, run.n.files, run.opts),
    ...(missing.length ? { not_installed: missing } : {}),
    problems: run.problems,
    warnings: [...base.warnings, ...notInstalledWarnings(missing, entries), ...deletions],
  };
}

/**
 * Each read path's base hash. A git base is compared by blob id: only a base that matches
 * neither side is read. A path under a folder the installation never had has none.
 */
async function baseHashes(read: readonly ReadEntry[], base: ResolvedBase, absent: (target: string) => boolean): Promise<Map<string, string | null>> {
  const baseHash = new Map<string, string | null>();
  const unread: string[] = [];
  for (const r of read) {
    // Its base is the new content (classifyAll): no blob to read.
    if (r.unchecked) continue;
    if (absent(r.target)) {
      // A folder the installation never had: its files are new, not deleted by the user.
      baseHash.set(r.target, null);
      continue;
    }
    const oid = base.oids?.get(r.target);
    if (!base.oids) baseHash.set(r.target, base.hashes.get(r.target) ?? null);
    else if (!oid) baseHash.set(r.target, null);
    else if (oid === r.l?.oid) baseHash.set(r.target, r.l.hash);
    else if (oid === r.n?.oid) baseHash.set(r.target, r.n.hash);
    else unread.push(r.target);
    // Merges check the base bytes they read against this hash.
    const known = baseHash.get(r.target);
    if (known) base.hashes.set(r.target, known);
  }
  await base.fill(unread);
  for (const t of unread) baseHash.set(t, base.hashes.get(t) ?? null);
  return baseHash;
}

/**
 * Mapped folders the installation does not have, or has with no file in them: early installs
 * never copied `workflows/` (upstream's first installation guide). Their upstream files are
 * new, not files the user deleted. Only the installed manifest we write knows what was
 * installed for certain: with it, a folder emptied by the user is the user's deletion.
 */
function foldersNotInstalled(threeWay: readonly Mapping[], localFiles: ReadonlyMap<string, unknown>, base: ResolvedBase): string[] {
  if (base.kind === "manifest") return [];
  const present = new Set<string>();
  for (const t of localFiles.keys()) for (const m of threeWay) if (t.startsWith(m.to + "/")) present.add(m.to);
  return threeWay.map((m) => m.to).filter((to) => !present.has(to));
}

function notInstalledWarnings(folders: readonly string[], entries: readonly ContentEntry[]): Problem[] {
  return folders.map((to) => {
    const count = entries.filter((e) => e.action === "new" && e.target.startsWith(to + "/")).length;
    return {
      code: "MAPPED_FOLDER_NOT_INSTALLED" as const,
      message: `${to}/ is not installed (no file in it): its ${count} upstream file${count === 1 ? " is" : "s are"} installed as new`,
      fix: `Nothing to do; to leave ${to}/ out, change the content plugin's mappings`,
    };
  });
}

/**
 * Upstream's deletions, told with where the file went when upstream moved it (git's rename
 * detection from the installed commit to the new one, one `git diff` per run); and a warning
 * for every edited file a deletion leaves behind, so that the user can carry the edit over.
 */
async function reportDeletions(
  req: PlanRequest,
  entries: ContentEntry[],
  base: ResolvedBase,
  head: string | null,
  { pathMap, baseMap, decide }: Pick<PlanRun, "pathMap" | "baseMap" | "decide">,
): Promise<Problem[]> {
  const gone = entries.filter((e) => e.hashes.new === null && e.hashes.base !== null && e.hashes.local !== null && e.action !== "error");
  if (gone.length === 0) return [];
  // Both sides' folders: across layouts, git sees every file renamed into the new ones (a path that stays a target is no move).
  const dirs = [...new Set([...baseMap.mappings, ...pathMap.mappings].map((m) => m.from))];
  const moves = base.commit && head && base.commit !== head
    ? await renamesBetween(req.sourceRoot, base.commit, head, dirs, req.signal)
    : new Map<string, string>();
  const whereOf = new Map<ContentEntry, string>();
  for (const e of gone) {
    const from = baseMap.toSource(e.target)?.source;
    const to = from ? moves.get(from) : undefined;
    if (!to) continue;
    whereOf.set(e, pathMap.toTarget(to)?.target ?? `${to} in the source (not installed)`);
    e.moved_to = pathMap.toTarget(to)?.target ?? to;
  }
  // Edited files upstream moved: carried to their new paths (moves.ts).
  const warnings = await followMoves(entries, { base, installDir: req.installDir, sourceRoot: req.sourceRoot, decide, signal: req.signal });
  const carried = new Set(warnings.map((w) => w.target));
  for (const e of gone) {
    if (carried.has(e.target)) continue;
    const where = whereOf.get(e);
    const edited = e.hashes.local !== e.hashes.base;
    if (!edited) {
      if (where) e.reason = `moved upstream to ${where}`;
      continue;
    }
    if (where) {
      e.reason = e.action === "keep"
        ? `moved upstream to ${where}; kept because you edited it: carry your edit there`
        : `moved upstream to ${where}, changed locally: if you keep it, carry your edit there`;
      warnings.push({
        code: "UPSTREAM_MOVED_EDITED",
        target: e.target,
        message: e.action === "keep"
          ? `Kept ${e.target} (edited); upstream moved it to ${where}: carry your edit there`
          : `${e.target} (edited) was moved upstream to ${where}: if you keep it, carry your edit there`,
        fix: `Copy your change into ${where}, then delete ${e.target}`,
      });
    } else if (e.action === "keep") {
      warnings.push({
        code: "UPSTREAM_DELETED_EDITED",
        target: e.target,
        message: `Kept ${e.target} (edited): upstream deleted it`,
        fix: `Delete ${e.target} once you no longer need your version of it`,
      });
    }
  }
  return warnings;
}

function planGitignore(
  req: PlanRequest,
  sourceFiles: Map<string, { abs: string }>,
  opts: ContentSettings,
): ContentPlanX["gitignore"] {
  const file = toPosix(path.relative(req.projectRoot, req.gitignoreFile));
  if (!opts.gitignore.enabled) return { file, add: [] };
  // The standard as it will be after the upgrade: upstream's copy when it has one.
  const std = opts.gitignore.standard;
  const candidates = [sourceFiles.get(std)?.abs, insideJoin(req.installDir, std)];
  let text: string | null = null;
  for (const c of candidates) {
    if (!c) continue;
    try {
      text = fs.readFileSync(c, "utf8");
      break;
    } catch { /* try the next */ }
  }
  // A migration's lines are the new folder's, and the old folder's lines are renamed in place.
  const installRel = toPosix(path.relative(req.projectRoot, req.relocation?.to ?? req.installDir));
  const own = installRel && !installRel.startsWith("..") ? opts.gitignore.own.map((o) => `${installRel}/${o}`) : [];
  // After a move the old folder holds only what git ignored there in each clone (a venv, caches): ignored whole, so no one commits it.
  const oldRel = req.relocation ? toPosix(path.relative(req.projectRoot, req.relocation.from)) : "";
  const wanted = [...(text ? standardLines(text) : []), ...own, ...(oldRel && !oldRel.startsWith("..") ? [`${oldRel}/`] : [])];
  let existing: string | null = null;
  try {
    existing = fs.readFileSync(req.gitignoreFile, "utf8");
  } catch { /* no .gitignore yet */ }
  const names = req.relocation ? { from: path.basename(req.relocation.from), to: path.basename(req.relocation.to) } : null;
  const moved = names && existing !== null ? withFolderRenamed(existing, names.from, names.to, wanted) : null;
  return { file, add: missingLines(moved?.text ?? existing, wanted), ...(moved?.renamed.length ? { rename: { ...names!, lines: moved.renamed } } : {}) };
}
