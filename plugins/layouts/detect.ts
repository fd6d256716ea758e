/**
 * Which layout a source checkout and an installation have, judged once per run from their
 * markers and shared through a channel: pre-flight refuses a mismatch, and every plugin
 * takes its paths from the layout of the run.
 *
 * The two October layouts have the same shape (`universal/` + `mcp_server/`); what tells
 * them apart is the folder the source installs into, which its own README and
 * installation guide name (praxis-os's commit 925b10d renamed every `.agent-os/` there).
 */
import fs from "node:fs";
import path from "node:path";
import { defineChannel } from "../../core/channel.ts";
import { isDir } from "../../core/layout.ts";
import type { UpgradeContext } from "../../core/types.ts";
import { LAYOUTS, type LayoutDecl } from "../layouts.ts";

export interface Detected {
  layout: LayoutDecl;
  /** What decided it, for the plan and `--verbose`. */
  why: string;
}

export interface RunLayouts {
  /** The source's layout; null when it has no known layout's markers (or no source). */
  source: Detected | null;
  /** The installation's; null when the folder is missing or matches no layout. */
  install: Detected | null;
  /** The layout this run's paths come from: the installation's, else the source's, else the oldest. */
  active: LayoutDecl;
  /** Both known and different, in an upgrade: it cannot bridge them (`migrate` does; in a migration this is false). */
  mismatch: boolean;
}

const GUIDE_FILES = 50;

/** How often the source's README and installation guide name each install folder. */
function mentions(src: string): Record<string, number> {
  const counts: Record<string, number> = { ".agent-os": 0, ".praxis-os": 0 };
  const files = [path.join(src, "README.md")];
  const guide = path.join(src, "installation");
  if (isDir(guide)) {
    files.push(...fs.readdirSync(guide).filter((f) => f.endsWith(".md")).sort().slice(0, GUIDE_FILES).map((f) => path.join(guide, f)));
  }
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const name of Object.keys(counts)) counts[name] += text.split(`${name}/`).length - 1;
  }
  return counts;
}

/** The source's layout: the newest whose markers it has; between same-shaped ones, the folder its guide names. */
export function detectSourceLayout(src: string): Detected | null {
  const shaped = LAYOUTS.filter((l) => l.sourceMarkers.every((m) => isDir(path.join(src, m))));
  if (shaped.length === 0) return null;
  const newest = shaped.reduce((a, b) => (b.generation > a.generation ? b : a));
  const top = shaped.filter((l) => l.sourceMarkers.join() === newest.sourceMarkers.join());
  if (top.length === 1) return { layout: top[0], why: `it has ${top[0].sourceMarkers.map((m) => `${m}/`).join(" and ")}` };
  const counts = mentions(src);
  const [folder, other] = counts[".praxis-os"] > counts[".agent-os"] ? [".praxis-os", ".agent-os"] : [".agent-os", ".praxis-os"];
  const layout = top.find((l) => l.installDir === folder) ?? top[0];
  return { layout, why: `its README and installation guide name ${folder}/ (${counts[folder]} times, ${other}/ ${counts[other]})` };
}

/** The installation's layout: by its folder's name, then by the server package it holds. */
export function detectInstallLayout(installDir: string): Detected | null {
  if (!isDir(installDir)) return null;
  const named = LAYOUTS.filter((l) => l.installDir === path.basename(installDir));
  if (named.length === 1) return { layout: named[0], why: `it is a ${named[0].installDir}/ folder` };
  const serving = named.filter((l) => isDir(path.join(installDir, l.server.folder)));
  if (serving.length === 0) return null;
  const layout = serving.reduce((a, b) => (b.generation > a.generation ? b : a));
  return { layout, why: `its server package is ${layout.server.folder}/` };
}

const RunLayoutsChannel = defineChannel<RunLayouts>("layouts.run");

/** This run's layouts, judged on first use. */
export function runLayouts(ctx: UpgradeContext): RunLayouts {
  return ctx.channels.ensure(RunLayoutsChannel, () => judge(ctx.options.source, ctx.layout.installDir, ctx.layout.relocation !== null));
}

/** `migrating`: a `migrate` run, whose paths are the source's layout from the start (its folder moves in phase 1). */
export function judge(source: string | null | undefined, installDir: string, migrating = false): RunLayouts {
  const src = source && isDir(source) ? detectSourceLayout(source) : null;
  const inst = detectInstallLayout(installDir);
  const byName = LAYOUTS.find((l) => l.installDir === path.basename(installDir)) ?? LAYOUTS[0];
  const fallback = src && src.layout.installDir === path.basename(installDir) ? src.layout : byName;
  return {
    source: src,
    install: inst,
    active: migrating && src ? src.layout : inst?.layout ?? fallback,
    // A migration bridges them: its paths are the source's layout from the start.
    mismatch: !migrating && src !== null && inst !== null && src.layout.id !== inst.layout.id,
  };
}

/** In a migration, the layout its installation moves from (the old folder's); null in an upgrade. */
export function migratedFrom(ctx: UpgradeContext): LayoutDecl | null {
  const r = ctx.layout.relocation;
  return (r && LAYOUTS.find((l) => l.installDir === path.basename(r.from))) ?? null;
}

/** The active layout of the run: where every plugin's default paths come from. */
export const activeLayout = (ctx: UpgradeContext): LayoutDecl => runLayouts(ctx).active;

/** The installed server package's folder, e.g. `<project>/.agent-os/mcp_server` or `<project>/.praxis-os/ouroboros`. */
export const installedServerDir = (ctx: UpgradeContext): string => path.join(ctx.layout.installDir, activeLayout(ctx).server.folder);

/** The new server package's folder in the source, e.g. `<source>/mcp_server` or `<source>/dist/ouroboros`. */
export function sourceServerDir(ctx: UpgradeContext): string | null {
  const l = runLayouts(ctx).source?.layout ?? activeLayout(ctx);
  const row = l.paths.find((p) => p.install === l.server.folder && p.source);
  return ctx.options.source && row ? path.join(ctx.options.source, row.source!) : null;
}

/** A folder the server plugin replaces whole: where it is in the source and in the installation. */
export interface ReplacedFolder {
  from: string;
  to: string;
}

/** The layout's replaced folders (`mcp_server/` and `scripts/`; `dist/ouroboros` → `ouroboros/` …). */
export const replacedFolders = (l: LayoutDecl): ReplacedFolder[] =>
  l.paths.filter((p) => p.mode === "replace" && p.source).map((p) => ({ from: p.source!, to: p.install }));

/**
 * In a migration, the folders the old layout replaced whole that the new one does not have
 * (`mcp_server/` when the server is now `ouroboros/`): the server plugin moves them into the
 * backup, and a rollback brings them back.
 */
export function retiredFolders(ctx: UpgradeContext): string[] {
  const from = migratedFrom(ctx);
  if (!from) return [];
  const kept = new Set(activeLayout(ctx).paths.map((p) => p.install));
  return replacedFolders(from).map((f) => f.to).filter((to) => !kept.has(to));
}

/** Every layout's replaced folders (`mcp_server`, `ouroboros`, `scripts`): where a rollback looks for a swap's leftovers. */
export const everyReplacedFolder = (): string[] => [...new Set(LAYOUTS.flatMap((l) => replacedFolders(l).map((f) => f.to)))];
