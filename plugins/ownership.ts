/**
 * SPEC §2's ownership table, once: which folder of an installation comes from which folder
 * of the source, who owns it, and how an upgrade may change it. Every plugin that needs to
 * know (content, server, user-files, pre-flight, backup) derives its defaults from here.
 */

export type PathOwner = "system" | "shared" | "user";

/**
 * How an upgrade changes a path: `three-way` (content plugin, phase 2), `replace` (copied
 * exactly by the server plugin, phase 3), `deps` (packages installed into it, phase 3),
 * `never` (the user's: backed up only to prove it unchanged).
 */
export type UpgradeMode = "three-way" | "replace" | "deps" | "never";

export interface OwnedPath {
  /** Relative to the installation folder, `/` separators, no trailing slash. */
  install: string;
  /** Relative to the source root, when the source provides it. */
  source?: string;
  owner: PathOwner;
  mode: UpgradeMode;
}

export const OWNERSHIP: readonly OwnedPath[] = Object.freeze([
  { install: "standards/universal", source: "universal/standards", owner: "system", mode: "three-way" },
  { install: "workflows", source: "universal/workflows", owner: "system", mode: "three-way" },
  { install: "usage", source: "universal/usage", owner: "shared", mode: "three-way" },
  { install: "mcp_server", source: "mcp_server", owner: "system", mode: "replace" },
  { install: "scripts", source: "scripts", owner: "system", mode: "replace" },
  { install: "venv", owner: "system", mode: "deps" },
  { install: "standards/development", owner: "user", mode: "never" },
  { install: "specs", owner: "user", mode: "never" },
  { install: "workspace", owner: "user", mode: "never" },
  { install: "config.json", owner: "user", mode: "never" },
] as const satisfies readonly OwnedPath[]);

/** Paths of the table with a given mode. */
export const pathsWith = (mode: UpgradeMode): string[] => OWNERSHIP.filter((p) => p.mode === mode).map((p) => p.install);

/** The user's paths: never written, checked unchanged after the upgrade. */
export const USER_PATHS: readonly string[] = OWNERSHIP.filter((p) => p.owner === "user").map((p) => p.install);

/** Folders the server plugin replaces exactly. */
export const REPLACED_FOLDERS: readonly string[] = pathsWith("replace");

/** Our own records inside the installation: no mapping may write into them, and none may be a link. */
export const RECORD_PATHS: readonly string[] = [".backups", ".cache", ".upgrade", ".upgrade-lock", ".upgrade_lock"];

/** The folders every installation has (SPEC §2): `standards/`, `workflows/`, `mcp_server/`. */
export const REQUIRED_INSTALL_DIRS: readonly string[] = ["standards", "workflows", "mcp_server"];

/** The folders every source checkout has. */
export const REQUIRED_SOURCE_DIRS: readonly string[] = ["universal", "mcp_server"];
