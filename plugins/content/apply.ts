/**
 * Phase 2: executes a content plan. Every decision is taken and every byte to write is
 * computed (sources re-hashed, merges run) before the first write, so an abort or a bad
 * merge leaves the installation untouched. Writes go through the given fs (the context's,
 * which refuses to write in a dry run), each file is read back and checked against its
 * expected sha256, and a file the user changed after planning is left alone and listed.
 */
import fs from "node:fs";
import path from "node:path";
import { UpgradeError } from "../../core/errors.ts";
import type { Logger } from "../../core/log.ts";
import type { FsApi } from "../../core/types.ts";
import type { ResolvedBase } from "./base.ts";
import { askMissing } from "./decide.ts";
import { missingLines, withFolderRenamed, withLines } from "./gitignore.ts";
import { sha256 } from "./hash.ts";
import { type InstalledManifest, MANIFEST_SCHEMA_VERSION, statKey, writeManifestFile } from "./manifest.ts";
import { mergeFile } from "./merge.ts";
import type { ContentSettings, Decision, PromptFn } from "./options.ts";
import { insideJoin, PathMap } from "./paths.ts";
import { canMerge, type ContentEntry, type ContentPlanX, countPlan, entriesAt, localHash, localTarget, manifestHash, type PlanCounts } from "./plan.ts";
import { renderView, threeWayView } from "./views.ts";
import { writeAtomicVia } from "./write.ts";

export interface ApplyRequest {
  plan: ContentPlanX;
  fs: FsApi;
  base: ResolvedBase;
  options: ContentSettings;
  projectRoot: string;
  installDir: string;
  gitignoreFile: string;
  /** Where the manifest of this upgrade waits until the upgrade completes. */
  pendingManifest: string;
  /** Told the manifest just written to `pendingManifest`, so that the same run promotes it without parsing the file again. */
  staged?: (manifest: InstalledManifest) => void;
  /** Called just before an existing file is replaced or deleted: the backup keeps its inode by a hard link (backup/scope.ts `taken`). */
  take?: (abs: string) => boolean;
  interactive: boolean;
  prompt: PromptFn;
  journal: (step: string, data?: Record<string, unknown>) => Promise<void>;
  log: Logger;
  signal?: AbortSignal;
}

export interface DecisionRecord {
  target: string;
  decision: Decision;
  by: string;
  result: string;
}

export interface ApplyReport {
  plan_counts: PlanCounts;
  files_written: number;
  files_deleted: number;
  written_hashes_verified: true;
  needs_attention: string[];
  decisions: DecisionRecord[];
  changed_during_run: string[];
  gitignore_added: string[];
  installed_manifest_pending: string;
}

type Op =
  | { kind: "write"; entry: ContentEntry; abs: string; data: Buffer; expected: string; mode?: number }
  | { kind: "delete"; entry: ContentEntry; abs: string };

function hashOf(abs: string): string | null {
  try {
    return sha256(fs.readFileSync(abs));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

function failed(message: string, hint: string, details?: unknown): UpgradeError {
  return new UpgradeError("CONTENT_FAILED", message, { hint, details });
}

export async function applyPlan(req: ApplyRequest): Promise<ApplyReport> {
  const pathMap = new PathMap(req.options.mappings.filter((m) => m.mode === "three-way"));
  // Only the entries of our mappings: other plugins may add entries of their own to the plan.
  const entries = (req.plan.entries as ContentEntry[]).filter((e) => pathMap.toSource(e.target));
  refuseErrors(req.plan, entries);
  await decideConflicts(req, entries);
  const work = await prepareOps(req, entries);
  if (work.decisions.length) await req.journal("content:decisions", { decisions: work.decisions });
  const done = writeOps(req, work);
  pruneEmptyDirs(req, pathMap, done.prunable);
  const gitignoreAdded = applyGitignore(req);
  writePendingManifest(req, entries, work.changed, work.applied);
  await req.journal("content:applied", { written: done.written, deleted: done.deleted });
  // The report lists journal steps named `warning:…`: how the base was found, edited files upstream deleted or moved.
  for (const w of req.plan.warnings ?? []) await req.journal(`warning:${w.message}`, { code: w.code, ...(w.target ? { target: w.target } : {}) });
  return {
    plan_counts: countPlan(entries),
    files_written: done.written,
    files_deleted: done.deleted,
    written_hashes_verified: true,
    needs_attention: [...new Set(work.needsAttention)].sort(),
    decisions: work.decisions,
    changed_during_run: work.changed,
    gitignore_added: gitignoreAdded,
    installed_manifest_pending: req.pendingManifest,
  };
}

/** Every conflict without a decision asked (or decided by policy); an `abort` stops here, before any write. */
async function decideConflicts(req: ApplyRequest, entries: ContentEntry[]): Promise<void> {
  const plan = req.plan;
  await askMissing(entries, {
    interactive: req.interactive,
    prompt: req.prompt,
    diffOf: async (e) => renderView(e.target, e.reason ?? "conflict", await threeWayView(plan, e, (await req.base.contents([localTarget(e)])).get(localTarget(e)) ?? null, req.signal)),
  });
  const aborted = entries.find((e) => e.action === "conflict" && e.decision === "abort");
  if (aborted) {
    throw new UpgradeError("CONFLICTS_UNRESOLVED", `Cannot apply the content upgrade: the decision for ${aborted.target} is abort; nothing was written`, {
      hint: "Run again and choose keep, theirs, merge or skip (--on-conflict or a rule), or resolve the file by hand first",
      details: { conflict: aborted.target },
    });
  }
}

/** Every byte to write, computed before the first write, with what the run decided and what it left alone. */
interface Prepared {
  ops: Op[];
  needsAttention: string[];
  changed: string[];
  decisions: DecisionRecord[];
  applied: Map<string, Decision | "kept">;
  /** The entries at moved files' old paths, by target. */
  byTarget: Map<string, ContentEntry>;
  /** Entries merged (clean merges and conflicts decided `merge` that can be), with their base contents. */
  toMerge: ContentEntry[];
  baseContents: Map<string, Buffer>;
}

/** The operations of phase 2, in plan order: merges run, sources re-hashed, nothing written yet. */
async function prepareOps(req: ApplyRequest, entries: ContentEntry[]): Promise<Prepared> {
  // Merges first: they need the base contents, fetched in one batch.
  const toMerge = entries.filter((e) => e.action === "merge" || (e.action === "conflict" && e.decision === "merge" && canMerge(e)));
  const work: Prepared = {
    ops: [],
    needsAttention: [],
    changed: [],
    decisions: [],
    applied: new Map(),
    byTarget: entriesAt(entries, new Set(entries.filter((e) => e.moved_from).map((e) => e.moved_from!.target))),
    toMerge,
    baseContents: await req.base.contents(toMerge.map(localTarget)),
  };
  for (const e of entries) {
    switch (e.action) {
      case "new":
      case "update":
        work.ops.push(writeOf(req, e, readSource(req, e)));
        break;
      case "delete":
        work.ops.push({ kind: "delete", entry: e, abs: insideJoin(req.installDir, e.target) });
        break;
      case "merge":
        await prepareCleanMerge(req, work, e);
        break;
      case "conflict":
        await prepareConflict(req, work, e);
        break;
      default:
        break;
    }
  }
  return work;
}

/** The source's bytes for an entry, checked against the plan's hash. */
function readSource(req: ApplyRequest, e: ContentEntry): Buffer {
  const abs = insideJoin(req.plan.source.root, e.source!);
  const data = fs.readFileSync(abs);
  if (sha256(data) !== e.hashes.new) {
    throw failed(`Cannot install ${e.target}: ${abs} changed since the plan was made`, "Leave the source alone while an upgrade runs, then run it again");
  }
  return data;
}

/** The user's side of a merge (the old path's file for a moved one); null when it changed since the plan. */
function localOf(req: ApplyRequest, e: ContentEntry): Buffer | null {
  const local = fs.readFileSync(insideJoin(req.installDir, localTarget(e)));
  return sha256(local) === localHash(e) ? local : null;
}

function writeOf(req: ApplyRequest, e: ContentEntry, data: Buffer): Op {
  return { kind: "write", entry: e, abs: insideJoin(req.installDir, e.target), data, expected: sha256(data), mode: e.mode };
}

/** A moved file's old path goes once its merge (or upstream's copy) is written at the new one (moves.ts). */
function dropOld(req: ApplyRequest, work: Prepared, e: ContentEntry): void {
  const old = e.moved_from && work.byTarget.get(e.moved_from.target);
  // A clean merge's old path is a `delete` entry of its own already.
  if (old && old.action !== "delete") work.ops.push({ kind: "delete", entry: old, abs: insideJoin(req.installDir, old.target) });
}

/** A file both sides changed that merges cleanly: the plan's merge made again (or left alone if the user changed it since). */
async function prepareCleanMerge(req: ApplyRequest, work: Prepared, e: ContentEntry): Promise<void> {
  const local = localOf(req, e);
  if (!local) {
    work.changed.push(e.target);
    work.needsAttention.push(e.target);
    return;
  }
  work.ops.push(writeOf(req, e, await cleanMerge(e, local, readSource(req, e), work.baseContents.get(localTarget(e)), req.signal)));
  dropOld(req, work, e);
  work.decisions.push({ target: e.target, decision: "merge", by: "clean merge", result: "merged cleanly" });
}

/** A conflict, as decided: keep, skip, theirs or merge. */
async function prepareConflict(req: ApplyRequest, work: Prepared, e: ContentEntry): Promise<void> {
  const decision = e.decision as Decision;
  let result: string | null;
  if (decision === "keep") {
    // A moved file kept: yours stays at the old path, upstream's is installed at the new one.
    if (e.moved_from) work.ops.push(writeOf(req, e, readSource(req, e)));
    result = e.moved_from ? `kept yours at ${e.moved_from.target}; upstream's installed here` : "kept local";
  } else if (decision === "skip") result = "skipped (asked again next upgrade)";
  else if (decision === "theirs") result = prepareTheirs(req, work, e);
  else result = await prepareMerge(req, work, e, decision);
  if (result === null) return;
  work.applied.set(e.target, decision);
  work.decisions.push({ target: e.target, decision, by: e.decided_by ?? "policy", result });
}

/** `theirs`: upstream's file installed (or the file deleted, as upstream did). */
function prepareTheirs(req: ApplyRequest, work: Prepared, e: ContentEntry): string {
  if (e.hashes.new) {
    work.ops.push(writeOf(req, e, readSource(req, e)));
    dropOld(req, work, e);
    return "replaced by upstream";
  }
  work.ops.push({ kind: "delete", entry: e, abs: insideJoin(req.installDir, e.target) });
  return "deleted (as upstream)";
}

/** `merge` of a conflict: git's merge with conflict markers; null when the file is kept or left alone (recorded here). */
async function prepareMerge(req: ApplyRequest, work: Prepared, e: ContentEntry, decision: Decision): Promise<string | null> {
  if (!work.toMerge.includes(e)) {
    const why = e.opaque ? "binary or large file" : e.conflict === "deleted-locally" ? "deleted locally" : "deleted upstream";
    work.applied.set(e.target, "kept");
    work.needsAttention.push(e.target);
    work.decisions.push({ target: e.target, decision, by: e.decided_by ?? "policy", result: `kept local: cannot merge (${why})` });
    return null;
  }
  const local = localOf(req, e);
  if (!local) {
    work.changed.push(e.target);
    work.needsAttention.push(e.target);
    work.decisions.push({ target: e.target, decision, by: e.decided_by ?? "policy", result: "left alone: changed during the upgrade" });
    return null;
  }
  const t0 = performance.now();
  const m = await mergeFile(local, work.baseContents.get(localTarget(e)) ?? null, readSource(req, e), req.signal);
  req.log.debug(`merged ${e.target}`, { clean: m.clean, ms: Math.round(performance.now() - t0) });
  work.ops.push(writeOf(req, e, m.content));
  dropOld(req, work, e);
  if (!m.clean) work.needsAttention.push(e.target);
  return m.clean ? "merged cleanly" : `merged with ${m.conflicts} conflict${m.conflicts === 1 ? "" : "s"} marked`;
}

/** Writes and deletes each operation, each verified; a file the user changed since the plan is left alone and listed. */
function writeOps(req: ApplyRequest, work: Prepared): { written: number; deleted: number; prunable: Set<string> } {
  const done = { written: 0, deleted: 0, prunable: new Set<string>() };
  const { ops } = work;
  for (const [i, op] of ops.entries()) {
    if (req.signal?.aborted) {
      throw new UpgradeError("INTERRUPTED", `Cannot finish the content upgrade: interrupted after ${done.written} of ${ops.length} files`, { hint: "The upgrade is rolled back; run it again when ready" });
    }
    // The user may have saved a file since the plan was made: never overwrite that.
    const now = hashOf(op.abs);
    if (now !== op.entry.hashes.local && !(op.kind === "write" && now === op.expected)) {
      leaveAlone(req, work, op);
      continue;
    }
    // Checked equal to the plan's bytes just above: the backup links this very file, then it is replaced.
    if (now !== null && !(op.kind === "write" && now === op.expected)) req.take?.(op.abs);
    if (op.kind === "write") {
      writeVerified(req, op, now);
      done.written++;
    } else {
      deleteVerified(req, op);
      done.deleted++;
      done.prunable.add(path.dirname(op.abs));
    }
    if ((i + 1) % 200 === 0 || i + 1 === ops.length) req.log.progress("content files", i + 1, ops.length);
  }
  return done;
}

/** A file changed after the plan was made: not written, its decision's result says so. */
function leaveAlone(req: ApplyRequest, work: Prepared, op: Op): void {
  work.changed.push(op.entry.target);
  work.needsAttention.push(op.entry.target);
  work.applied.set(op.entry.target, "skip");
  const d = work.decisions.find((x) => x.target === op.entry.target);
  if (d) d.result = "left alone: changed during the upgrade";
  req.log.warn(`Left ${op.entry.target} alone: it changed after the plan was made`);
}

/** Writes the file (unless it already holds those bytes) and reads it back against the expected hash. */
function writeVerified(req: ApplyRequest, op: Extract<Op, { kind: "write" }>, now: string | null): void {
  if (now !== op.expected) writeAtomicVia(req.fs, op.abs, op.data, op.mode);
  const got = hashOf(op.abs);
  if (got !== op.expected) {
    throw failed(`Cannot verify ${op.entry.target}: its sha256 is ${got ?? "(missing)"} after writing, expected ${op.expected}`, "Check the disk (space, errors) and run the upgrade again; it is rolled back");
  }
  req.log.debug(`wrote ${op.entry.target}`, { bytes: op.data.length, sha256: op.expected.slice(0, 12) });
}

function deleteVerified(req: ApplyRequest, op: Extract<Op, { kind: "delete" }>): void {
  req.fs.rmSync(op.abs, { force: true });
  if (fs.existsSync(op.abs)) throw failed(`Cannot delete ${op.entry.target}: it is still there`, "Check the folder's permissions, then run the upgrade again");
  req.log.debug(`deleted ${op.entry.target}`);
}

/** A plan with errors is never applied. */
function refuseErrors(plan: ContentPlanX, entries: readonly ContentEntry[]): void {
  const errors = entries.filter((e) => e.action === "error");
  if (errors.length || plan.problems?.length) {
    throw failed(
      `Cannot apply the content plan: it has ${errors.length || plan.problems.length} error(s) (${(plan.problems?.[0]?.message ?? errors[0]?.target) || ""})`,
      "Fix the problems pre-flight reports, then run the upgrade again",
      { problems: plan.problems, errors: errors.map((e) => e.target) },
    );
  }
}

/** The manifest of this upgrade, waiting (`pendingManifest`) until the upgrade completes. */
function writePendingManifest(req: ApplyRequest, entries: readonly ContentEntry[], changed: readonly string[], applied: ReadonlyMap<string, Decision | "kept">): void {
  const plan = req.plan;
  const files: Record<string, string> = {};
  const left = new Set(changed);
  for (const e of entries) {
    const h = left.has(e.target) ? e.hashes.base : manifestHash(e, applied.get(e.target));
    if (h) files[e.target] = h;
  }
  const manifest: InstalledManifest = {
    schema_version: MANIFEST_SCHEMA_VERSION,
    source_commit: plan.source.commit,
    version: plan.source.version,
    installed_at: new Date().toISOString(),
    files,
    stats: statsOf(req.installDir, entries, files, req.base.readAt),
  };
  writeManifestFile(req.fs, req.pendingManifest, manifest);
  req.staged?.(manifest);
}

/** A clean merge of the plan, made again from the same three inputs: the bytes the plan saw, or a refusal. */
async function cleanMerge(e: ContentEntry, local: Buffer, theirs: Buffer, base: Buffer | undefined, signal?: AbortSignal): Promise<Buffer> {
  const m = base ? await mergeFile(local, base, theirs, signal) : null;
  if (!m?.clean || sha256(m.content) !== e.merged_hash) {
    throw failed(`Cannot merge ${e.target}: the merge differs from the plan's`, "Run the upgrade again: the new plan merges the file as it is now");
  }
  return m.content;
}

/** ctime granularity (Deno reports whole seconds) plus clock slack: a change this close to the plan's read is not trusted. */
const RACY_MS = 3000;

/**
 * The stats the next plan may trust (manifest.ts `stats`): files whose bytes the plan read
 * and found equal to their manifest hash, and that have not changed since well before that
 * read (their ctime). Files this upgrade wrote have a newer ctime and are read next time.
 */
function statsOf(installDir: string, entries: readonly ContentEntry[], files: Record<string, string>, readAt: number | undefined): Record<string, string> | undefined {
  if (readAt === undefined) return undefined;
  const stats: Record<string, string> = {};
  for (const e of entries) {
    if (!e.hashes.local || files[e.target] !== e.hashes.local) continue;
    const st = fs.lstatSync(path.join(installDir, e.target), { throwIfNoEntry: false });
    if (!st?.isFile() || st.ctimeMs >= readAt - RACY_MS) continue;
    // Equal to upstream's file at this upgrade's commit: the next plan can also skip reading
    // the source's copy when git says upstream left that path alone (build.ts).
    const upstream = e.source && e.hashes.local === e.hashes.new ? e.source : "";
    stats[e.target] = `${statKey(st)}:${e.opaque ? 1 : 0}:${upstream}`;
  }
  return stats;
}

/** Folders emptied by deletions go too, up to (not including) their mapping's root. */
function pruneEmptyDirs(req: ApplyRequest, pathMap: PathMap, dirs: Set<string>): void {
  const roots = new Set(pathMap.mappings.map((m) => insideJoin(req.installDir, m.to)));
  const sorted = [...dirs].sort((a, b) => b.length - a.length);
  for (let dir of sorted) {
    while (!roots.has(dir) && dir.startsWith(req.installDir + path.sep)) {
      let names: string[];
      try {
        names = fs.readdirSync(dir);
      } catch {
        break;
      }
      if (names.length) break;
      req.fs.rmdirSync(dir);
      dir = path.dirname(dir);
    }
  }
}

function applyGitignore(req: ApplyRequest): string[] {
  const wanted = req.plan.gitignore?.add ?? [];
  const rename = req.plan.gitignore?.rename;
  if (wanted.length === 0 && !rename) return [];
  let existing: string | null = null;
  try {
    existing = fs.readFileSync(req.gitignoreFile, "utf8");
  } catch { /* created below */ }
  // A migration renames the old folder's lines in place first (a resumed run finds them renamed already).
  const base = rename && existing !== null ? withFolderRenamed(existing, rename.from, rename.to, wanted).text : existing;
  const add = missingLines(base, wanted);
  if (add.length === 0 && base === existing) return [];
  const text = withLines(base, add);
  writeAtomicVia(req.fs, req.gitignoreFile, text, existing === null ? 0o644 : fs.statSync(req.gitignoreFile).mode & 0o777);
  if (hashOf(req.gitignoreFile) !== sha256(text)) {
    throw failed(`Cannot verify ${req.gitignoreFile} after adding ${add.length} line(s)`, "Check the disk, then run the upgrade again");
  }
  return add;
}
