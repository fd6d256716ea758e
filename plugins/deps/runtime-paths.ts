/**
 * Where this machine's runtime record is, and whether there is a runtime to judge at all —
 * without node:fs (`status` runs it on its start-up path, reading through `host`).
 */
import path from "node:path";
import { INSTALL_DIR_NAMES, type Layout } from "../../core/layout.ts";

/** The machine-local record of the last sync, in the installation's git-ignored `.cache/`. */
export const RECORD_NAME = "runtime-sync.json";

/**
 * False on a machine that never had a runtime for this install (no venv, no record, no venv
 * of a moved install folder): nothing is behind there, the install guide (or `sync`) makes one.
 */
export function mayHaveRuntime(layout: Layout, exists: (p: string) => boolean): boolean {
  return exists(path.join(layout.cacheDir, RECORD_NAME)) ||
    INSTALL_DIR_NAMES.some((n) => exists(path.join(layout.projectRoot, n, "venv", "bin", "python")));
}
