/**
 * What a backup holds (SPEC §5.1): every path the upgrade may change, and nothing a user
 * owns. Each root has a key that is also its place inside the backup folder:
 * `install/<path in .agent-os>` or `project/<path in the project>`. Two namespaces, because
 * `.gitignore` and `.cursor/mcp.json` live outside the installation folder.
 */
import fs from "node:fs";
import path from "node:path";
import { UpgradeError } from "../../core/errors.ts";
import type { Layout } from "../../core/layout.ts";

export type Namespace = "install" | "project";

export interface Root {
  /** `install/venv`, `project/.gitignore`: the path inside the backup folder and the manifest key. */
  key: string;
  /** The live path. */
  abs: string;
}

/**
 * What the built-in plugins change in a full upgrade, as the whole-install backup of earlier
 * versions held it. Not a default any more (the scope comes from the plugins, see scope.ts);
 * kept for `include` in tests and configs that want a wide backup on purpose.
 */
export const DEFAULT_INSTALL_PATHS = [
  "standards/universal",
  "workflows",
  "usage",
  "mcp_server",
  "scripts",
  "config.json",
  "VERSION.txt",
  "UPDATE_LOG.txt",
  "INSTALLATION_SUMMARY.md",
  ".upgrade",
  "venv",
] as const;

const isFile = (abs: string): boolean => fs.lstatSync(abs, { throwIfNoEntry: false })?.isFile() === true;

/** Project files the upgrade may edit. */
export const DEFAULT_PROJECT_PATHS = [".gitignore", ".cursor/mcp.json"] as const;

/** Install-relative paths a backup never holds and a rollback never touches (user-owned or ours). */
export const PROTECTED_PATHS = ["specs", "workspace", ".backups", ".cache/state", "standards/development"] as const;

export interface RootOptions {
  include: string[];
  includeProject: string[];
  exclude: string[];
}

const inside = (parent: string, child: string) => child === parent || child.startsWith(parent + "/");

function toPosix(p: string): string {
  return p.split(path.sep).join("/");
}

/** Maps a live path to its key; throws when it is outside both the project and the installation. */
export function keyOf(layout: Layout, abs: string): string {
  const inInstall = toPosix(path.relative(layout.installDir, abs));
  if (inInstall && !inInstall.startsWith("..") && !path.isAbsolute(inInstall)) return `install/${inInstall}`;
  const inProject = toPosix(path.relative(layout.projectRoot, abs));
  if (inProject && !inProject.startsWith("..") && !path.isAbsolute(inProject)) return `project/${inProject}`;
  throw new UpgradeError("CONFIG_INVALID", `Cannot back up ${abs}: it is outside the project ${layout.projectRoot}`, {
    hint: "List only paths inside the project in the backup plugin's options",
    plugin: "backup",
  });
}

/** The live path of a key, for the layout in use now (a moved project restores to its new place). */
export function absOf(layout: Layout, key: string): string {
  // Plain concatenation: keys come from walking real folders (no "." or ".." parts, and the
  // manifest that holds them is checksummed), and path.join costs more than the lstat after
  // it when a rollback resolves 100k of them.
  if (key.startsWith("install/")) return layout.installDir + SEP + (SEP === "/" ? key.slice(8) : key.slice(8).split("/").join(SEP));
  if (key.startsWith("project/")) return layout.projectRoot + SEP + (SEP === "/" ? key.slice(8) : key.slice(8).split("/").join(SEP));
  throw new Error(`Cannot resolve backup key "${key}": unknown namespace "${key.slice(0, key.indexOf("/"))}"`);
}

const SEP = path.sep;

/**
 * The roots of a backup from absolute paths (the scope plugins declared plus the options'
 * `include`s), checked: nothing protected inside or around one. A root inside another is
 * dropped (the outer one holds it), so plugins need not know each other's paths.
 */
export function resolveRoots(layout: Layout, paths: Iterable<string>, opts: RootOptions): Root[] {
  const abs = [
    ...paths,
    ...opts.include.map((p) => path.resolve(layout.installDir, p)),
    ...opts.includeProject.map((p) => path.resolve(layout.projectRoot, p)),
  ];
  const excluded = new Set(opts.exclude.map((e) => e.replace(/\/+$/, "")));
  const keys = [...new Set(abs.map((a) => keyOf(layout, a)))].filter((k) => !excluded.has(k.slice(k.indexOf("/") + 1)) && !excluded.has(k));
  const protectedKeys = PROTECTED_PATHS.map((p) => `install/${p}`);
  for (const k of keys) {
    for (const p of protectedKeys) {
      // One existing file a plugin rewrites on the user's decision (a migration's spec that names the old folder) is backed up and restored alone.
      if (inside(p, k) && k !== p && isFile(absOf(layout, k))) continue;
      if (inside(p, k) || inside(k, p)) {
        throw new UpgradeError("CONFIG_INVALID", `Cannot back up "${k.slice(8)}": it overlaps the protected path "${p.slice(8)}", which rollback must never touch`, {
          hint: `Remove it from the backup plugin's options, or name a narrower path that leaves "${p.slice(8)}" out`,
          plugin: "backup",
        });
      }
    }
  }
  const all = new Set(keys);
  const underAnother = (k: string) => {
    for (let i = k.indexOf("/", k.indexOf("/") + 1); i > 0; i = k.indexOf("/", i + 1)) if (all.has(k.slice(0, i))) return true;
    return false;
  };
  return keys.filter((k) => !underAnother(k)).sort().map((key) => ({ key, abs: absOf(layout, key) }));
}

/**
 * Refuses to work through a symbolic link: a root whose parent chain (inside the project)
 * is a link would make a restore write into whatever the link points at.
 */
/**
 * The nearest-to-the-base folder above `root` that is a symbolic link (a user's link inside
 * a content path), as a root of its own; null when there is none. The installation folder
 * itself being a link is not one of these (pre-flight refuses that install).
 */
export function linkedParentOf(layout: Layout, root: Root): Root | null {
  const base = root.key.startsWith("install/") ? layout.installDir : layout.projectRoot;
  const parts = path.relative(base, path.dirname(root.abs)).split(path.sep).filter(Boolean);
  let cur = base;
  let key = root.key.slice(0, root.key.indexOf("/"));
  for (const part of parts) {
    cur = path.join(cur, part);
    key = `${key}/${part}`;
    const st = fs.lstatSync(cur, { throwIfNoEntry: false });
    if (!st) return null;
    if (st.isSymbolicLink()) return { key, abs: cur };
  }
  return null;
}

export function assertNoLinkedParents(layout: Layout, root: Root): void {
  const base = root.key.startsWith("install/") ? layout.installDir : layout.projectRoot;
  const parts = path.relative(base, path.dirname(root.abs)).split(path.sep).filter(Boolean);
  let cur = base;
  // A project root reached through a link is harmless (nothing is restored through it); a linked
  // installation folder is the upstream "dogfood" install that pre-flight refuses too.
  const chain = [...(root.key.startsWith("install/") ? [base] : []), ...parts.map((p) => (cur = path.join(cur, p)))];
  for (const p of chain) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return; // a missing parent is created by a restore, never followed
    }
    if (st.isSymbolicLink()) {
      throw new UpgradeError("BACKUP_FAILED", `Cannot work on ${root.abs}: ${p} is a symbolic link`, {
        hint: "Replace the link by a real folder (an upgrade must never write through a link), then run again",
      });
    }
  }
}
