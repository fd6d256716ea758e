/**
 * Where things are: the project, its installation folder and the records we own (SPEC §2).
 * Every path the tool writes is derived here, so there is one name for each record.
 */
import path from "node:path";
import { host } from "./runtime.ts";

/** Install folder names, newest first: the successor project renamed `.agent-os/` to `.praxis-os/`. */
export const INSTALL_DIR_NAMES = [".agent-os", ".praxis-os"] as const;

export interface Layout {
  /** The user's project root (holds `.gitignore`, `.cursor/`). */
  projectRoot: string;
  /** The installation folder, e.g. `<project>/.agent-os`. */
  installDir: string;
  /** Whether the installation folder exists at all (pre-flight reports when it does not). */
  installExists: boolean;
  lockFile: string;
  legacyLockFile: string;
  cacheDir: string;
  stateDir: string;
  backupsDir: string;
  upgradeDir: string;
  installedManifest: string;
  serverStateFile: string;
  versionFile: string;
  updateLog: string;
  installationSummary: string;
  gitignore: string;
  mcpJson: string;
  venvDir: string;
  /** A migration's move of the installation folder (`migrate`); null for an upgrade. */
  relocation: Relocation | null;
}

/**
 * `migrate` moves `.agent-os/` to `.praxis-os/` (the successor's name) with one rename, as
 * the first step of phase 1; the engine then derives every path from the new folder, and a
 * rollback renames it back first. The rename is atomic, so the folder's name is the record
 * of whether it happened.
 */
export interface Relocation {
  from: string;
  to: string;
}

export const relocationIn = (projectRoot: string): Relocation => ({
  from: path.join(projectRoot, INSTALL_DIR_NAMES[0]),
  to: path.join(projectRoot, INSTALL_DIR_NAMES[1]),
});

export const isDir = (p: string): boolean => host.isDir(p);

/**
 * Resolves `--target` (default: the working directory) to a layout. The target may be the
 * project root or the installation folder itself; a missing installation still yields a
 * layout (with `installExists: false`) so that pre-flight can report it with a fix.
 */
export function resolveLayout(target: string): Layout {
  const abs = path.resolve(target);
  const base = path.basename(abs);
  let projectRoot = abs;
  let installDir = path.join(abs, INSTALL_DIR_NAMES[0]);
  if ((INSTALL_DIR_NAMES as readonly string[]).includes(base)) {
    projectRoot = path.dirname(abs);
    installDir = abs;
    // A migration renamed it (or its rollback renamed it back): the folder is at the other name now.
    const other = path.join(projectRoot, INSTALL_DIR_NAMES.find((n) => n !== base)!);
    if (!isDir(abs) && isDir(other)) installDir = other;
  } else {
    const found = INSTALL_DIR_NAMES.map((n) => path.join(abs, n)).filter(isDir);
    if (found.length) installDir = found.length === 1 ? found[0] : preferredOf(found);
  }
  return layoutOf(projectRoot, installDir);
}

/**
 * Both folders in one project: the one that holds an installation (`standards/`: a teammate
 * who pulled a migration keeps an `.agent-os/` of ignored leftovers, its venv and caches),
 * then the one whose sessions are newest (a migration's `.praxis-os/` when an `.agent-os/`
 * appeared after it, so that `rollback` finds the migration and names the folder in its
 * way), else the first name.
 */
function preferredOf(all: string[]): string {
  const installed = all.filter((d) => isDir(path.join(d, "standards")));
  const dirs = installed.length === 1 ? installed : all;
  const newest = (dir: string): number => {
    const state = path.join(dir, ".cache", "state");
    try {
      return Math.max(0, ...host.list(state).map((n) => host.mtime(path.join(state, n))));
    } catch {
      return 0;
    }
  };
  const times = dirs.map(newest);
  return times[1] > times[0] ? dirs[1] : dirs[0];
}

export function layoutOf(projectRoot: string, installDir: string): Layout {
  const cacheDir = path.join(installDir, ".cache");
  return {
    projectRoot,
    installDir,
    installExists: isDir(installDir),
    lockFile: path.join(installDir, ".upgrade-lock"),
    legacyLockFile: path.join(installDir, ".upgrade_lock"),
    cacheDir,
    stateDir: path.join(cacheDir, "state"),
    backupsDir: path.join(installDir, ".backups"),
    upgradeDir: path.join(installDir, ".upgrade"),
    installedManifest: path.join(installDir, ".upgrade", "installed-manifest.json"),
    serverStateFile: path.join(installDir, ".mcp_server_state.json"),
    versionFile: path.join(installDir, "VERSION.txt"),
    updateLog: path.join(installDir, "UPDATE_LOG.txt"),
    installationSummary: path.join(installDir, "INSTALLATION_SUMMARY.md"),
    gitignore: path.join(projectRoot, ".gitignore"),
    mcpJson: path.join(projectRoot, ".cursor", "mcp.json"),
    venvDir: path.join(installDir, "venv"),
    relocation: null,
  };
}
