/**
 * Phase 0, pre-flight (SPEC §5.0): every check runs, every failure is reported at once with
 * its fix, and nothing is written. The checks are read-only by construction: git is only
 * queried, the filesystem only stat'ed and read.
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { RECORD_PATHS } from "./ownership.ts";
import { parsePluginOptions } from "../core/config.ts";
import type { EvidenceDraft } from "../core/evidence.ts";
import { isDir } from "../core/layout.ts";
import { describeLock, readLock } from "../core/lock.ts";
import { definePlugin } from "../core/plugin.ts";
import type { Findings, UpgradeContext } from "../core/types.ts";
import { hiddenChanges } from "./content/gitobj.ts";
import { checkAccess, checkPlanAccess } from "./preflight/access.ts";
import { diskNeeds, treeSize } from "./preflight/disk.ts";
import { manifestJsonOf } from "./content/manifest.ts";
import { sourceGit } from "./source/git.ts";
import { readVersionFile } from "./version-file.ts";
import { contentRunOptions } from "./content/run-options.ts";
import { evidenceReader } from "../core/evidence.ts";
import { activeLayout, migratedFrom, runLayouts } from "./layouts/detect.ts";
import { checkHistory, checkInferredBase, checkLayouts } from "./preflight/trust.ts";
import { PREFLIGHT_RUN_OPTIONS } from "./preflight/run-options.ts";

export const PreflightOptions = z.strictObject({
  /** Untracked files in the source: report them as a warning, refuse, or ignore them. */
  untracked: z.enum(["report", "refuse", "ignore"]).default("report"),
  /** Free space must be at least this many times what will be backed up and written. */
  diskFactor: z.number().positive().default(2),
  /** Folders the installation must have; default: its layout's markers (`standards/` and the server package). */
  requiredTargetDirs: z.array(z.string().min(1)).optional(),
  /** Folders the source must have; default: the markers of a known layout. */
  requiredSourceDirs: z.array(z.string().min(1)).optional(),
  /** Installation paths (relative) that the upgrade writes into: none may be a symlink; default: the layout's non-user paths and our records. */
  noSymlinks: z.array(z.string().min(1)).optional(),
});
export type PreflightOptionsInput = z.input<typeof PreflightOptions>;

export { treeSize };

async function checkSource(ctx: UpgradeContext, f: Findings, ev: EvidenceDraft<0>, opts: z.output<typeof PreflightOptions>) {
  const src = ctx.options.source;
  if (!src) {
    f.error("SOURCE_MISSING", "No source checkout was given", "Pass --source <path to your agent-os-enhanced clone> (or set `source` in upgrade.config.ts)");
    return;
  }
  if (!fs.existsSync(src)) {
    f.error("SOURCE_MISSING", `Source ${src} does not exist`, "Pass --source with the path of your agent-os-enhanced clone");
    return;
  }
  if (!isDir(src)) {
    f.error("SOURCE_NOT_DIR", `Source ${src} is not a directory`, "Pass --source with the folder of the clone, not a file in it");
    return;
  }
  ev.source_path = src;
  checkSourceShape(ctx, f, src, opts);
  // `git status` does not look at files marked assume-unchanged or skip-worktree: those are hashed apart.
  const [git, hidden] = await Promise.all([sourceGit(ctx, src), hiddenChanges(src, ctx.signal)]);
  if (!git.isGit) {
    f.error("SOURCE_NOT_GIT", `Source ${src} is not a git work tree, so its version cannot be known`, "Use a git clone of agent-os-enhanced (git clone …), not a copied folder");
    return;
  }
  if (!git.commit) {
    f.error("SOURCE_NOT_GIT", `Source ${src} has no commit yet`, "Check out a commit of agent-os-enhanced in the source");
    return;
  }
  if (git.statusError) {
    f.error("SOURCE_DIRTY", `Cannot tell whether source ${src} has uncommitted changes: git status failed (${git.statusError})`, "Repair the clone (git status must work in it; git fsck names damaged objects), then run the upgrade again");
  }
  ev.source_commit = git.commit;
  ev.source_branch = git.branch;
  ev.source_tag = git.tag;
  ev.to_version = git.tag ?? git.commit.slice(0, 12);
  const { changed, untracked } = git;
  if (changed.length) {
    f.error("SOURCE_DIRTY", `Source ${src} has ${changed.length} uncommitted change${changed.length === 1 ? "" : "s"} (${changed.slice(0, 3).join(", ")}${changed.length > 3 ? ", …" : ""})`, "Commit or stash them in the source (git stash), so that the upgrade installs a known commit");
  }
  if (hidden?.length) {
    const one = hidden.length === 1;
    const flags = [...new Set(hidden.flatMap((h) => h.flags))].sort();
    f.error(
      "SOURCE_DIRTY",
      `Source ${src} has ${hidden.length} change${one ? "" : "s"} git does not show, in ${one ? "a file" : "files"} marked ${flags.join(" or ")} (${hidden.slice(0, 3).map((h) => h.path).join(", ")}${hidden.length > 3 ? ", …" : ""})`,
      `Let git see ${one ? "it" : "them"} (git update-index ${flags.map((fl) => `--no-${fl}`).join(" ")} -- ${hidden.map((h) => shellWord(h.path)).join(" ")}), then commit or stash ${one ? "it" : "them"}`,
    );
  }
  if (untracked.length && opts.untracked === "refuse") {
    f.error("SOURCE_UNTRACKED", `Source ${src} has ${untracked.length} untracked file(s) (${untracked.slice(0, 3).join(", ")})`, "Remove or commit them (git clean -n shows them), or set preflight untracked: \"report\"");
  } else if (untracked.length && opts.untracked === "report") {
    f.warn("SOURCE_UNTRACKED", `Source ${src} has ${untracked.length} untracked file(s) (${untracked.slice(0, 3).join(", ")}${untracked.length > 3 ? ", …" : ""}); they may be installed`, "Remove them or commit them if they are not meant to be installed");
  }
  // Recorded as computed; the gate then requires true.
  (ev as Record<string, unknown>).source_git_clean = !git.statusError && changed.length === 0 && !hidden?.length && (opts.untracked !== "refuse" || untracked.length === 0);
}

/** The source has a known layout's folders (or the configured ones). */
function checkSourceShape(ctx: UpgradeContext, f: Findings, src: string, opts: z.output<typeof PreflightOptions>): void {
  if (opts.requiredSourceDirs) {
    const missing = opts.requiredSourceDirs.filter((d) => !isDir(path.join(src, d)));
    if (missing.length) f.error("SOURCE_LAYOUT", `Source ${src} has no ${missing.map((m) => `${m}/`).join(" or ")}: it is not an Agent OS source checkout`, "Point --source at the root of an agent-os-enhanced or praxis-os clone");
    return;
  }
  if (!runLayouts(ctx).source) {
    f.error("SOURCE_LAYOUT", `Source ${src} has neither universal/ and mcp_server/ (agent-os-enhanced, praxis-os of October 2025) nor dist/universal/ and dist/ouroboros/ (praxis-os): it is not an Agent OS source checkout`, "Point --source at the root of an agent-os-enhanced or praxis-os clone");
  }
}

/** A path as one word of a shell command the user can paste. */
function shellWord(p: string): string {
  return /^[\w./@%+=:,-]+$/.test(p) ? p : `'${p.replaceAll("'", "'\\''")}'`;
}

function checkTarget(ctx: UpgradeContext, f: Findings, ev: EvidenceDraft<0>, opts: z.output<typeof PreflightOptions>) {
  const { layout } = ctx;
  let st: fs.Stats | null = null;
  try {
    st = fs.lstatSync(layout.installDir);
  } catch { /* missing */ }
  if (!st) {
    f.error("TARGET_MISSING", `No Agent OS installation at ${layout.installDir}`, "Run the command in your project root, or pass --target <project folder>; install Agent OS first if the project has none");
    return;
  }
  const links: string[] = [];
  if (st.isSymbolicLink()) links.push(layout.installDir);
  // A migration's installation is still of the layout it moves from until phase 1 moves it.
  const active = migratedFrom(ctx) ?? activeLayout(ctx);
  const noSymlinks = opts.noSymlinks ?? ["standards", ...active.paths.filter((p) => p.owner !== "user").map((p) => p.install), ...RECORD_PATHS.filter((p) => !p.includes("lock"))];
  for (const rel of noSymlinks) {
    const p = path.join(layout.installDir, rel);
    try {
      if (fs.lstatSync(p).isSymbolicLink()) links.push(`${p} -> ${fs.readlinkSync(p)}`);
    } catch { /* absent is fine */ }
  }
  if (links.length) {
    f.error("SYMLINKED_INSTALL", `The installation is linked, not copied: ${links.join(", ")}; an upgrade would write through the link into its source`, "Replace the links with real folders (copy the linked content in place), or upgrade the linked source repository with git instead");
    return;
  }
  const missing = (opts.requiredTargetDirs ?? active.installMarkers).filter((d) => !isDir(path.join(layout.installDir, d)));
  if (missing.length) {
    f.error("TARGET_STRUCTURE", `Installation ${layout.installDir} has no ${missing.map((m) => `${m}/`).join(", ")} (${active.id} layout)`, "Check --target points at a project with a complete Agent OS install (re-run the Agent OS installer if folders were deleted)");
    return;
  }
  ev.target_structure_valid = true;
  ev.target_path = layout.installDir;
}

function checkLock(ctx: UpgradeContext, f: Findings, ev: EvidenceDraft<0>) {
  if (!ctx.layout.installExists) return;
  const st = readLock(ctx.layout);
  if (st.kind === "absent") {
    ev.no_concurrent_workflows = true;
    return;
  }
  if (st.kind === "stale") {
    f.error("LOCK_STALE", `An interrupted upgrade was found: ${describeLock(st)}`, "Run `agent-os-upgrade resume` to finish it or `agent-os-upgrade rollback` to undo it (`unlock --force` discards it)");
  } else if (st.kind === "foreign") {
    f.error("LOCK_HELD", `A foreign lock is present: ${describeLock(st)}`, "Make sure no other upgrade runs, then delete that file");
  } else {
    const out = st.proven ? "" : `; if pid ${st.info.pid} is not an upgrade, \`agent-os-upgrade unlock --force\` removes the lock`;
    f.error("LOCK_HELD", `Another upgrade is running: ${describeLock(st)}`, `Wait for pid ${st.info.pid} to finish (\`agent-os-upgrade status\` shows it)${out}`);
  }
}

function checkVersions(ctx: UpgradeContext, ev: EvidenceDraft<0>) {
  let from: string | null = null;
  try {
    // Parsed once per run: the content plan reads the same file (MBs at 10k files).
    const read = manifestJsonOf(ctx, ctx.layout.installedManifest);
    const m = read.kind === "json" ? read.json as Record<string, unknown> : null;
    if (m && typeof m === "object") {
      from = (m.version as string | undefined) ?? (m.source_commit as string | undefined)?.slice(0, 12) ?? null;
      ev.from_commit = m.source_commit ?? null;
    }
  } catch { /* unreadable: the plan reports it */ }
  if (!from) {
    const v = readVersionFile(ctx.layout.versionFile);
    if (v.commit) {
      from = v.version ?? v.commit.slice(0, 12);
      ev.from_commit = v.commit;
    }
  }
  const given = contentRunOptions(ctx).from;
  if (!from && given) {
    from = given;
    ev.from_commit = given;
  }
  ev.from_version = from;
}

const RECORDS_BYTES = 64 * 1024;

function freeBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/**
 * Free space against what the plugins declared they will back up and write (the disk
 * channel), once the plan says what changes. `diskFactor` leaves room for what the estimate
 * cannot see (filesystem blocks, logs, the state records).
 */
async function checkDisk(ctx: UpgradeContext, f: Findings, ev: EvidenceDraft<0>, opts: z.output<typeof PreflightOptions>) {
  const { layout } = ctx;
  if (!layout.installExists) return;
  // Our own records (session state, lock, log) are written whatever the plugins do.
  const needs = [{ by: "preflight", what: "session records", bytes: RECORDS_BYTES }, ...await diskNeeds(ctx).collect(ctx)];
  const estimate = needs.reduce((n, d) => n + d.bytes, 0);
  const required = Math.ceil(opts.diskFactor * estimate);
  const available = freeBytes(layout.installDir);
  ev.disk_space_required = required;
  ev.disk_space_available = available;
  ev.disk_space_needs = Object.fromEntries(needs.map((d) => [`${d.by}: ${d.what}`, d.bytes]));
  if (available < required) {
    const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
    const parts = needs.filter((d) => d.bytes > 0).map((d) => `${d.what} ${mb(d.bytes)}`).join(", ");
    f.error("DISK_SPACE", `Not enough free disk space on ${layout.installDir}: ${mb(available)} free, ${mb(required)} needed (${opts.diskFactor} × ${mb(estimate)}: ${parts || "nothing"})`, "Free some space (old backups in .agent-os/.backups/ can go: `agent-os-upgrade backups prune`), then run again");
  }
}

const sha1 = z.string().regex(/^[0-9a-f]{40}$/, "expected a 40-hex git commit");

/** Phase 0's gate, for this plugin: a clean source at a known commit, a valid target, room on disk, no other upgrade. */
export const PreflightEvidence = z
  .looseObject({
    source_path: z.string().min(1),
    source_commit: sha1,
    source_branch: z.string().nullable(),
    source_git_clean: z.literal(true),
    target_structure_valid: z.literal(true),
    disk_space_available: z.number().nonnegative(),
    disk_space_required: z.number().nonnegative(),
    no_concurrent_workflows: z.literal(true),
    from_version: z.string().nullable(),
    to_version: z.string().min(1),
  })
  .refine((e) => e.disk_space_available >= e.disk_space_required, {
    message: "not enough free disk space",
    path: ["disk_space_available"],
  });

/** This plugin's phase-0 evidence, for others: the source's commit and branch, the versions from and to. */
export const preflightEvidence = evidenceReader("preflight", 0, PreflightEvidence);

export function preflightPlugin(options: PreflightOptionsInput = {}) {
  const opts = parsePluginOptions("preflight", PreflightOptions, options);
  return definePlugin({
    name: "preflight",
    whenDisabled: "nothing is checked before writing (the source, the installation, the disk space, another upgrade's lock)",
    evidence: { 0: PreflightEvidence },
    options: PREFLIGHT_RUN_OPTIONS,
    apply(hooks) {
      // Which layouts this run saw: in the result (plan, --json, MCP) whatever the outcome.
      hooks.summarize.tap((ctx, _outcome, result) => {
        const { source, install } = runLayouts(ctx);
        const r = ctx.layout.relocation;
        result.layout = { source: source?.layout.id ?? null, install: install?.layout.id ?? null, ...(r ? { move: { from: r.from, to: r.to } } : {}) };
      });
      hooks.preflight.tap(async (ctx, findings, ev) => {
        // git answers while the checks before checkSource stat and read (awaited there).
        if (ctx.options.source && isDir(ctx.options.source)) sourceGit(ctx, ctx.options.source).catch(() => {});
        checkTarget(ctx, findings, ev, opts);
        checkLock(ctx, findings, ev);
        checkVersions(ctx, ev);
        await checkSource(ctx, findings, ev, opts);
        if (ctx.layout.installExists && runLayouts(ctx).source) checkLayouts(ctx, findings, ev);
        if (typeof ev.source_commit === "string" && !runLayouts(ctx).mismatch) await checkHistory(ctx, findings, ev);
        checkAccess(ctx, findings);
      });
      // The space needed depends on what changes: checked once the plan is built.
      hooks.checkPlan.tap(async (ctx, findings, ev) => {
        checkPlanAccess(ctx, findings);
        checkInferredBase(ctx, findings);
        await checkDisk(ctx, findings, ev, opts);
      });
    },
  });
}
