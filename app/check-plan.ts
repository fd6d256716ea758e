/**
 * Is there an update? The engine's own dry run (the plan the real run would execute, every
 * plugin's part of it), read for what it would change. `check` reports it; `upgrade` asks it
 * first when the install already records the source's commit, and then writes nothing at
 * all when nothing would change ("already up to date": no backup, no log line, no timestamp).
 */
import fs from "node:fs";
import path from "node:path";
import type { ResolvedConfig } from "../core/config.ts";
import { resolveLayout } from "../core/layout.ts";
import { runLifecycle } from "../core/upgrader.ts";
import type { Finding, PlanEntry, RunOptions, UpgradeResult } from "../core/types.ts";
import { runGit } from "../plugins/content/gitobj.ts";
import { readVersionFile } from "../plugins/version-file.ts";

/** `check`'s own exit codes (its contract; other commands use core/errors.ts's). */
export const CHECK_EXIT = Object.freeze({ upToDate: 0, cannotTell: 1, updateAvailable: 2 });

export interface CheckReport {
  status: "up_to_date" | "update_available" | "unknown";
  exit_code: number;
  /** One line saying why. */
  reason: string;
  source: { path: string | null; url: string | null; ref: string | null };
  installed: { commit: string | null; via: string | null };
  available: { commit: string | null; version: string | null };
  /** Every file the upgrade would write or delete, relative to the project root. */
  changes: { path: string; action: string }[];
  /** Files edited here and upstream whose merge would conflict. */
  conflicts: string[];
  /** Whether the source has another layout than the install (a `migrate`, not an upgrade). */
  migration: { needed: boolean | null; reason: string };
  /** Files edited since they were installed (relative to the project root). */
  drift: string[];
  /**
   * Files whose drift was not checked: nothing of ours records what was installed and
   * upstream did not change them, so the upgrade keeps them as they are without reading them.
   */
  drift_not_checked: number;
  findings: Finding[];
}

/** The report when nothing could be judged: the CLI's and the MCP tool's "cannot tell". */
export function cannotTell(reason: string): CheckReport {
  return {
    status: "unknown",
    exit_code: CHECK_EXIT.cannotTell,
    reason,
    source: { path: null, url: null, ref: null },
    installed: { commit: null, via: null },
    available: { commit: null, version: null },
    changes: [],
    conflicts: [],
    migration: { needed: null, reason: "not checked" },
    drift: [],
    drift_not_checked: 0,
    findings: [],
  };
}

/** Plan actions that write or delete the file. */
const WRITES = new Set(["new", "update", "merge", "conflict", "delete", "error"]);

interface PlanParts {
  base?: { kind: string; ref?: string; via?: string };
  source?: { commit?: string | null; version?: string | null };
  entries?: PlanEntry[];
  gitignore?: { file: string; add: string[] };
  server_swap?: { added: string[]; removed: string[]; changed: string[] };
  launch_migrations?: { file: string; status: string }[];
  /** Set by a layout-detection plugin: the source's layout differs from the install's. */
  layout_migration?: { needed: boolean; reason: string };
}

/** What the plan would write, every plugin's part of it, relative to the project root. */
export function pendingChanges(plan: PlanParts, installRel: string): CheckReport["changes"] {
  const inInstall = (p: string) => path.posix.join(installRel, p);
  const out: CheckReport["changes"] = [];
  for (const e of plan.entries ?? []) if (WRITES.has(e.action)) out.push({ path: inInstall(e.target), action: e.action });
  if (plan.gitignore?.add.length) out.push({ path: plan.gitignore.file, action: "update" });
  const swap = plan.server_swap;
  for (const [list, action] of [[swap?.added, "new"], [swap?.changed, "update"], [swap?.removed, "delete"]] as const) {
    for (const f of list ?? []) out.push({ path: inInstall(f), action });
  }
  for (const m of plan.launch_migrations ?? []) if (m.status === "applied") out.push({ path: m.file, action: "update" });
  return out;
}

/** Files whose bytes differ from what was installed (the plan's base), deleted ones included; files not read are not. */
function driftOf(plan: PlanParts, installRel: string): string[] {
  return (plan.entries ?? []).filter((e) => e.action !== "not_checked" && e.hashes.base !== null && e.hashes.local !== e.hashes.base).map((e) => path.posix.join(installRel, e.target));
}

/**
 * A migration, not an upgrade: a plugin's verdict on the plan (`layout_migration`), else
 * pre-flight's LAYOUT_MISMATCH, else the layouts the run detected (`result.layout`) differ.
 */
function migrationOf(plan: PlanParts, r: UpgradeResult): CheckReport["migration"] {
  if (plan.layout_migration) return plan.layout_migration;
  const f = r.findings.find((x) => x.code === "LAYOUT_MISMATCH");
  if (f) return { needed: true, reason: f.message };
  const l = r.layout;
  if (l?.source && l.install && l.source !== l.install) return { needed: true, reason: `the source is ${l.source}, the installation ${l.install}` };
  return { needed: false, reason: `the source has the install's layout${l?.source ? ` (${l.source})` : ""}` };
}

const sameCommit = (a: string | null | undefined, b: string | null | undefined): boolean =>
  Boolean(a && b && a.length >= 7 && b.length >= 7 && (a.startsWith(b) || b.startsWith(a)));

/** The engine's dry run, read-only and quiet: no prompt, no server started for the probe. */
export function quietDryRun(resolved: ResolvedConfig, options: RunOptions): Promise<UpgradeResult> {
  const plugin = { ...options.plugin, noValidate: true };
  return runLifecycle({ resolved, options: { ...options, dryRun: true, interactive: false, yes: true, json: true, plugin } }, {});
}

/** Reads a dry run's result as `check`'s answer. */
export function reportOf(r: UpgradeResult, options: RunOptions): CheckReport {
  const layout = resolveLayout(options.target);
  const installRel = path.relative(layout.projectRoot, layout.installDir).split(path.sep).join("/");
  const plan = (r.plan ?? {}) as PlanParts;
  const findings = r.findings.filter((f) => f.code !== "CONFLICTS_UNRESOLVED");
  const base = plan.base;
  const report: CheckReport = {
    status: "unknown",
    exit_code: CHECK_EXIT.cannotTell,
    reason: "",
    source: { path: options.source, url: options.origin?.url ?? null, ref: options.origin?.ref ?? null },
    installed: { commit: base?.kind !== "none" ? base?.ref ?? null : null, via: base?.kind !== "none" ? base?.via ?? base?.kind ?? null : null },
    available: { commit: plan.source?.commit ?? options.origin?.commit ?? null, version: plan.source?.version ?? null },
    changes: pendingChanges(plan, installRel),
    conflicts: (plan.entries ?? []).filter((e) => e.action === "conflict").map((e) => path.posix.join(installRel, e.target)),
    migration: migrationOf(plan, r),
    drift: driftOf(plan, installRel),
    drift_not_checked: (plan.entries ?? []).filter((e) => e.action === "not_checked").length,
    findings,
  };
  const blocking = findings.find((f) => f.level === "error");
  if (!r.plan || !plan.entries || !plan.source?.commit) {
    report.reason = blocking ? `Cannot tell: ${blocking.message}` : `Cannot tell: ${String(r.error?.message ?? "the source could not be planned")}`;
  } else if (!report.installed.commit) {
    report.reason = "Cannot tell: nothing records what is installed, and the source's history does not show it";
  } else if (report.changes.length || report.migration.needed || !sameCommit(report.installed.commit, report.available.commit)) {
    Object.assign(report, { status: "update_available", exit_code: CHECK_EXIT.updateAvailable });
    report.reason = `Update available: ${report.installed.commit.slice(0, 12)} → ${report.available.commit!.slice(0, 12)}, ${report.changes.length} file${report.changes.length === 1 ? "" : "s"} would change`;
  } else {
    Object.assign(report, { status: "up_to_date", exit_code: CHECK_EXIT.upToDate });
    report.reason = `Up to date at ${report.available.commit!.slice(0, 12)}`;
  }
  return report;
}

/** The commit the install records: the installed manifest's, else VERSION.txt's. */
function recordedCommit(options: RunOptions): string | null {
  const layout = resolveLayout(options.target);
  try {
    const m = JSON.parse(fs.readFileSync(layout.installedManifest, "utf8")) as { source_commit?: unknown };
    if (typeof m.source_commit === "string") return m.source_commit;
  } catch { /* no manifest: VERSION.txt says */ }
  return readVersionFile(layout.versionFile).commit;
}

/**
 * The dry run's report when the upgrade would change nothing at all, else null. Asked only
 * when the install records the source's very commit (and, for a fetched source, its URL and
 * ref), so an ordinary upgrade does not plan twice.
 */
export async function upToDate(resolved: ResolvedConfig, options: RunOptions): Promise<CheckReport | null> {
  if (!options.source) return null;
  const recorded = recordedCommit(options);
  const head = options.origin?.commit ?? (await runGit(["-C", options.source, "rev-parse", "--verify", "--quiet", "HEAD"])).stdout.toString("utf8").trim();
  if (!sameCommit(recorded, head)) return null;
  if (options.origin) {
    const v = readVersionFile(resolveLayout(options.target).versionFile);
    if (v.source !== options.origin.url || v.ref !== options.origin.ref) return null;
  }
  const r = await quietDryRun(resolved, options);
  const report = reportOf(r, options);
  const clean = report.status === "up_to_date" && !report.findings.some((f) => f.level === "error");
  return clean ? report : null;
}
