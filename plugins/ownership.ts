/**
 * The vocabulary of SPEC §2's ownership table: who owns a path and how an upgrade may change
 * it. The tables themselves are per layout (`layouts.ts`), since each layout upstream
 * shipped maps other source folders into its installation.
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

/** Our own records inside the installation: no mapping may write into them, and none may be a link. */
export const RECORD_PATHS: readonly string[] = [".backups", ".cache", ".upgrade", ".upgrade-lock", ".upgrade_lock"];
