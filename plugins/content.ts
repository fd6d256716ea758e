/**
 * The content plugin (SPEC §5.2): a three-way upgrade of the system and shared folders of
 * an installation, with the base B = what was installed, L = the installation, N = the source.
 *
 *   planContent  builds the plan once per run, read-only, in pre-flight (the same plan a dry
 *                run renders, with diffs on --diff); stops the run on unsafe paths, plan
 *                errors, and conflicts nobody can decide (no terminal, no policy) — before
 *                any lock or write
 *   applyContent decides, writes through ctx.fs, verifies every hash, adds .gitignore lines,
 *                and stages the new installed manifest
 *   cleanup      on a completed upgrade, promotes the staged manifest (adding the server files
 *                phase 3 installed); otherwise drops it
 *
 * The manifest is promoted only at the very end because it is the base of the next upgrade:
 * if phase 3 or 4 fails, the rollback restores the old files and the old manifest must
 * still describe them.
 */
import fs from "node:fs";
import path from "node:path";
import { defineChannel } from "../core/channel.ts";
import { parsePluginOptions } from "../core/config.ts";
import { UpgradeError } from "../core/errors.ts";
import { definePlugin } from "../core/plugin.ts";
import type { EvidenceDraft } from "../core/evidence.ts";
import type { ContentPlan, Findings, Outcome, UpgradeContext } from "../core/types.ts";
import { claimedDecisionKeys, ContentBase, ContentEvidence } from "./content/channel.ts";
import { backupScope } from "./backup/scope.ts";
import { diskNeeds } from "./preflight/disk.ts";
import { applyPlan } from "./content/apply.ts";
import { buildPlan, type BuiltPlan } from "./content/build.ts";
import { abortedByYou, askMissing, terminalPrompt, unknownDecisions, unresolvedMessage } from "./content/decide.ts";
import { fileFacts } from "./content/hash.ts";
import { type InstalledManifest, manifestJsonOf, readInstalledManifest, writeManifestFile } from "./content/manifest.ts";
import { mergeFile } from "./content/merge.ts";
import { activeLayout, migratedFrom, runLayouts } from "./layouts/detect.ts";
import { ContentOptions, type ContentOptionsInput, settingsFor } from "./content/options.ts";
import { matcher } from "./content/paths.ts";
import { canMerge, type ContentEntry, type ContentPlanX, localTarget } from "./content/plan.ts";
import { planDiffs } from "./content/render.ts";
import { renderView, threeWayView, type ThreeWayView } from "./content/views.ts";
import { scanSource } from "./content/scan.ts";
import { sourceGit } from "./source/git.ts";
import { contentSummaryOf } from "./content/summary.ts";
import { CONTENT_RUN_OPTIONS, contentRunOptions } from "./content/run-options.ts";

export { ContentOptions, type ContentOptionsInput, DEFAULT_EXCLUDES, DEFAULT_MAPPINGS, DEFAULT_USER_PATHS } from "./content/options.ts";
export type { ContentEntry, ContentPlanX, PlanCounts } from "./content/plan.ts";
export { renderPlanJson, renderPlanText } from "./content/render.ts";

export const PLUGIN_NAME = "content";
export { ContentBase, ContentEvidence, type ContentResult, contentResultOf } from "./content/channel.ts";

/** Where the manifest of a running upgrade waits for the upgrade to complete. */
export const pendingManifestOf = (installedManifest: string) => installedManifest.replace(/\.json$/, ".pending.json");

function isDir(p: string | null): p is string {
  try {
    return p !== null && fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** Plan actions that change the file at the entry's target (a conflict may, depending on the decision). */
const WRITES: ReadonlySet<string> = new Set(["new", "update", "merge", "conflict", "delete"]);

/** The run's plan, started in pre-flight (one plan per run: planContent takes it, or builds it when pre-flight did not run). */
const EarlyPlan = defineChannel<Promise<BuiltPlan> | undefined>("content.early-plan");

/**
 * The manifest this run staged in phase 2, as written: phase 5 promotes it without parsing the
 * file again (at 100k files the parse was the run's peak memory). A resumed run reads the file.
 */
const StagedManifest = defineChannel<InstalledManifest | undefined>("content.staged-manifest");

/** The content plugin factory; options default to SPEC §2's mapping table and excludes. */
export function contentPlugin(options: ContentOptionsInput = {}) {
  const opts = parsePluginOptions(PLUGIN_NAME, ContentOptions, options);
  return definePlugin({
    name: PLUGIN_NAME,
    evidence: { 2: ContentEvidence },
    options: CONTENT_RUN_OPTIONS,
    // The files it writes are restored by the backup plugin.
    requires: ["backup"],
    apply(hooks) {
      hooks.summarize.tap((ctx, outcome, result) => {
        const part = contentSummaryOf(ctx, outcome);
        if (part) Object.assign(result.summary, part);
      });
      hooks.start.tap(declareNeeds);
      // The plan only reads: started first, it walks the trees while pre-flight's checks run and
      // git answers; planContent takes it.
      hooks.preflight.tap({ before: "preflight" }, (ctx) => startEarlyPlan(ctx, opts));
      hooks.planContent.tap((incoming: ContentPlan, ctx, findings) => takePlan(incoming, ctx, findings, opts));
      hooks.applyContent.tap((p, ctx, ev) => applyContent(p as ContentPlanX, ctx, ev, opts));
      // Before the report: the manifest is part of the upgrade, the report describes it.
      hooks.cleanup.tap({ before: "report" }, (ctx, outcome, ev) => settleManifest(ctx, outcome, ev, opts));
    },
  });
}

/** The options of this run: paths the config left out come from the run's layout. */
const settings = (ctx: UpgradeContext, opts: ContentOptions) => settingsFor(opts, activeLayout(ctx), migratedFrom(ctx));

/** A source, an installation and layouts an upgrade can bridge: else there is nothing to plan (pre-flight's findings say why). */
const plannable = (ctx: UpgradeContext) => isDir(ctx.options.source) && ctx.layout.installExists && !runLayouts(ctx).mismatch;

/** The run's plan, read-only. */
async function plan(ctx: UpgradeContext, opts: ContentOptions): Promise<BuiltPlan> {
  const t0 = performance.now();
  const run = contentRunOptions(ctx);
  const built = await buildPlan({
    signal: ctx.signal,
    sourceRoot: path.resolve(ctx.options.source!),
    projectRoot: ctx.layout.projectRoot,
    installDir: ctx.layout.installDir,
    installedManifest: ctx.layout.installedManifest,
    versionFile: ctx.layout.versionFile,
    gitignoreFile: ctx.layout.gitignore,
    relocation: ctx.layout.relocation,
    from: run.from,
    policy: run.onConflict,
    decisions: run.decisions,
    options: settings(ctx, opts),
    sourceGit: () => sourceGit(ctx, ctx.options.source!),
    manifestJson: () => manifestJsonOf(ctx, ctx.layout.installedManifest),
  });
  // Its own time: started in pre-flight, it overlaps the checks, so the engine's "content planned" is only the wait.
  ctx.log.debug("content: plan built", { ms: Math.round(performance.now() - t0), entries: built.plan.entries.length });
  return built;
}

/**
 * What phase 2 will write, delete or create: the plan's changes, .gitignore, the manifests.
 * Files that exist are replaced by rename or deleted, never written in place: the backup
 * takes them by a link just before (apply.ts), with the hash the plan read; new ones are created.
 */
function declareNeeds(ctx: UpgradeContext): void {
  backupScope(ctx).add(PLUGIN_NAME, (c) => {
    const changing = (c.plan?.entries ?? []).filter((e) => WRITES.has(e.action));
    return {
      paths: [
        ...changing.filter((e) => !e.hashes.local).map((e) => path.join(c.layout.installDir, e.target)),
        c.layout.gitignore,
        path.dirname(c.layout.installedManifest),
      ],
      taken: new Map(changing.filter((e) => e.hashes.local).map((e) => [path.join(c.layout.installDir, e.target), e.hashes.local!])),
    };
  });
  // The new bytes phase 2 writes (what they replace is counted by the backup).
  diskNeeds(ctx).add(PLUGIN_NAME, (c) => ({
    what: "new content",
    bytes: (c.plan?.entries ?? []).filter((e) => e.action !== "delete" && WRITES.has(e.action) && e.source)
      .reduce((n, e) => n + fileSize(path.join(c.options.source!, e.source!)), 0),
  }));
}

function startEarlyPlan(ctx: UpgradeContext, opts: ContentOptions): void {
  if (!plannable(ctx)) return;
  const early = plan(ctx, opts);
  early.catch(() => {}); // awaited, and its error thrown, by planContent
  ctx.channels.set(EarlyPlan, early);
}

/** planContent: the early plan (or a new one), its questions and problems, the dry run's views and diffs. */
async function takePlan(incoming: ContentPlan, ctx: UpgradeContext, findings: Findings, opts: ContentOptions): Promise<ContentPlan> {
  if (!plannable(ctx)) return incoming;
  const early = ctx.channels.get(EarlyPlan);
  ctx.channels.set(EarlyPlan, undefined);
  const built = await (early ?? plan(ctx, opts));
  ctx.channels.set(ContentBase, built.base);
  const mine: ContentPlanX = built.plan;
  // A resumed run's plan is of a half-upgraded tree: its decisions were checked when it began.
  if (!ctx.session) refuseUnknownDecisions(ctx, mine, findings);
  // Questions only for a run that can go ahead: pre-flight problems are reported first.
  if (!findings.errors.length) await askInPreflight(ctx, mine, opts);
  reportPlanProblems(ctx, mine, findings);
  const merged: ContentPlanX = { ...incoming, ...mine, entries: [...incoming.entries, ...mine.entries] };
  if (ctx.dryRun && !mine.problems.length) merged.views = await viewsOf(ctx, built);
  if (ctx.dryRun && contentRunOptions(ctx).diff) merged.diffs = await diffsOf(ctx, built);
  return merged;
}

/** Phase 2: the plan applied (apply.ts), its report as the evidence. */
async function applyContent(planX: ContentPlanX, ctx: UpgradeContext, ev: EvidenceDraft<2>, opts: ContentOptions): Promise<void> {
  const base = ctx.channels.get(ContentBase);
  if (!planX.source?.root || !Array.isArray(planX.problems) || !base) {
    throw new UpgradeError("CONTENT_FAILED", "Cannot apply the content upgrade: the plan was not made by the content plugin's planContent tap", {
      hint: "A plugin replaced the plan instead of extending it: return { ...plan, … } from planContent taps",
    });
  }
  const report = await applyPlan({
    plan: planX,
    fs: ctx.fs,
    base,
    options: settings(ctx, opts),
    projectRoot: ctx.layout.projectRoot,
    installDir: ctx.layout.installDir,
    gitignoreFile: ctx.layout.gitignore,
    pendingManifest: pendingManifestOf(ctx.layout.installedManifest),
    staged: (m) => ctx.channels.set(StagedManifest, m),
    take: (abs) => backupScope(ctx).take(abs),
    interactive: ctx.options.interactive,
    prompt: opts.prompt ?? terminalPrompt(),
    journal: async (step, data) => {
      await ctx.session?.journal(step, data);
    },
    log: ctx.log,
    signal: ctx.signal,
  });
  Object.assign(ev, report, { base: planX.base });
  const c = report.plan_counts;
  const n = (k: number, one: string, many = `${one}s`) => `${k} ${k === 1 ? one : many}`;
  const attention = report.needs_attention.length;
  ctx.log.info(`content: ${report.files_written} written, ${report.files_deleted} deleted, ${c.merged} merged cleanly, ${n(c.conflicts, "conflict")} decided${attention ? `, ${attention} need${attention === 1 ? "s" : ""} attention` : ""}`);
}

/** Cleanup: a completed upgrade's staged manifest becomes the installed one; any other outcome drops it. */
async function settleManifest(ctx: UpgradeContext, outcome: Outcome, ev: EvidenceDraft<5>, opts: ContentOptions): Promise<void> {
  if (ctx.dryRun) return;
  const pending = pendingManifestOf(ctx.layout.installedManifest);
  if (!fs.existsSync(pending)) return;
  if (outcome.status !== "completed") {
    ctx.fs.rmSync(pending, { force: true });
    return;
  }
  const installed = await promoteManifest(ctx, pending, opts);
  if (installed) ev.installed_manifest = installed;
}

/**
 * A person at a terminal decides the open conflicts here, before the lock and the backup:
 * an Abort then leaves nothing behind. (A resumed run plans in phase 2 and asks there.)
 */
async function askInPreflight(ctx: UpgradeContext, p: ContentPlanX, opts: ContentOptions): Promise<void> {
  if (ctx.dryRun || !ctx.options.interactive || p.problems.length) return;
  const entries = p.entries as ContentEntry[];
  await askMissing(entries, { interactive: true, prompt: opts.prompt ?? terminalPrompt(), diffOf: (e) => viewText(ctx, p, e) });
  const aborted = entries.find((e) => e.action === "conflict" && e.decision === "abort" && e.decided_by === "prompt");
  if (aborted) throw abortedByYou(aborted.target);
}

/** Plan problems and undecidable conflicts stop the run in pre-flight, before any lock or write. */
function refuseUnknownDecisions(ctx: UpgradeContext, p: ContentPlanX, findings: Findings): void {
  const unknown = unknownDecisions([...p.entries.map((e) => e.target), ...claimedDecisionKeys(ctx)], contentRunOptions(ctx).decisions ?? {});
  if (!unknown.length) return;
  const named = unknown.slice(0, 10).map((u) => `${u.key}${u.suggestion ? ` (did you mean ${u.suggestion}?)` : ""}`).join(", ") + (unknown.length > 10 ? `, and ${unknown.length - 10} more` : "");
  findings.error("DECISIONS_UNKNOWN", `Cannot use the decisions: ${unknown.length} path${unknown.length === 1 ? " is" : "s are"} not in the plan: ${named}`, "Name each path as the plan lists it, relative to the installation folder (`agent-os-upgrade --dry-run` lists them); nothing was written");
}

function reportPlanProblems(ctx: UpgradeContext, p: ContentPlanX, findings: Findings): void {
  for (const pr of p.problems) findings.error(pr.code, pr.message, pr.fix);
  for (const w of p.warnings) findings.warn(w.code, w.message, w.fix);
  // A plan with problems is not the plan that would run: its conflicts would only be noise.
  const conflicts = p.problems.length ? [] : p.entries.filter((e) => e.action === "conflict");
  const undecided = conflicts.filter((e) => !e.decision).map((e) => e.target);
  const aborting = conflicts.filter((e) => e.decision === "abort").map((e) => e.target);
  // A dry run exists to show the conflicts: it reports them without failing.
  const report = ctx.dryRun ? findings.warn.bind(findings) : findings.error.bind(findings);
  if (aborting.length) {
    report("CONFLICTS_UNRESOLVED", `Cannot upgrade the content: the conflict decision is abort for ${aborting.length} file${aborting.length === 1 ? "" : "s"} (${aborting.slice(0, 20).join(", ")}${aborting.length > 20 ? ", …" : ""})`, "Choose keep, theirs, merge or skip for them (--on-conflict or a rule), or resolve them by hand; nothing was written");
  }
  if (undecided.length && !ctx.options.interactive) {
    const { message, fix } = unresolvedMessage(undecided);
    report("CONFLICTS_UNRESOLVED", message, fix);
  }
}

/** One conflict's three-way view, with its base bytes from the run's base. */
async function viewOf(ctx: UpgradeContext, p: ContentPlanX, e: ContentEntry): Promise<ThreeWayView> {
  const base = ctx.channels.get(ContentBase);
  const bytes = base ? (await base.contents([localTarget(e)])).get(localTarget(e)) ?? null : null;
  return await threeWayView(p, e, bytes, ctx.signal);
}

async function viewText(ctx: UpgradeContext, p: ContentPlanX, e: ContentEntry): Promise<string> {
  return renderView(e.target, e.reason ?? "conflict", await viewOf(ctx, p, e));
}

/** The views of a dry run's true conflicts, by installation path (the `--json` plan and MCP's needs_decision carry them). */
async function viewsOf(ctx: UpgradeContext, built: BuiltPlan): Promise<Record<string, ThreeWayView>> {
  const out: Record<string, ThreeWayView> = {};
  for (const e of built.plan.entries as ContentEntry[]) if (e.action === "conflict") out[e.target] = await viewOf(ctx, built.plan, e);
  return out;
}

function diffsOf(ctx: UpgradeContext, built: BuiltPlan) {
  const mine = built.plan;
  return planDiffs(mine, {
    scope: diffScopeOf(contentRunOptions(ctx).diff),
    view: (e) => viewText(ctx, mine, e),
    merge: async (e: ContentEntry) => {
      if (!canMerge(e)) return null;
      const base = (await built.base.contents([localTarget(e)])).get(localTarget(e)) ?? null;
      return await mergeFile(fs.readFileSync(path.join(mine.install, localTarget(e))), base, fs.readFileSync(path.join(mine.source.root, e.source!)), ctx.signal);
    },
  });
}

/** The manifest phase 2 staged: this run's own, else (a resumed run) the file parsed and checked; null when it cannot be. */
function stagedManifest(ctx: UpgradeContext, pending: string): InstalledManifest | null {
  const mine = ctx.channels.get(StagedManifest);
  ctx.channels.set(StagedManifest, undefined);
  if (mine) return mine;
  const staged = readInstalledManifest(pending);
  if (staged.kind === "ok") return staged.manifest;
  ctx.log.warn(`Cannot promote ${pending}: ${staged.kind === "invalid" ? staged.problem.message : "it vanished"}`);
  return null;
}

/** The staged manifest becomes the installed one, with the server files phase 3 copied exactly. */
async function promoteManifest(ctx: UpgradeContext, pending: string, opts: ContentOptions): Promise<string | null> {
  const manifest = stagedManifest(ctx, pending);
  if (!manifest) return null;
  // Changed in place (a copy is 100k more properties at 100k files): nothing else reads it.
  const files = manifest.files;
  const replace = settings(ctx, opts).mappings.filter((m) => m.mode === "replace");
  if (ctx.options.source && replace.length) {
    const src = await scanSource(path.resolve(ctx.options.source), replace, matcher(opts.excludes));
    for (const f of src.files.values()) {
      const local = path.join(ctx.layout.installDir, f.target);
      try {
        const [a, b] = await Promise.all([fileFacts(f.abs, opts.largeFileBytes), fileFacts(local, opts.largeFileBytes)]);
        if (a.hash === b.hash) files[f.target] = a.hash;
      } catch { /* not installed: not ours to record */ }
    }
  }
  writeManifestFile(ctx.fs, ctx.layout.installedManifest, manifest);
  ctx.fs.rmSync(pending, { force: true });
  return ctx.layout.installedManifest;
}

/** `--diff`'s scope; `true` (a test's or an old caller's bare flag) is the default one. */
function diffScopeOf(d: unknown): "conflicts" | "changed" | "all" {
  return d === "conflicts" || d === "all" ? d : "changed";
}
