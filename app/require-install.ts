/**
 * The commands that act on an existing installation (resume, rollback, status, backups)
 * first check that there is one, so a folder without an install gets one line naming the
 * folder and the fix, not an error from deep inside (e.g. the lock's temp file).
 */
import { UpgradeError } from "../core/errors.ts";
import type { Layout } from "../core/layout.ts";

/** Throws a PREFLIGHT_FAILED error (exit 4) when the layout's installation folder does not exist. */
export function requireInstall(layout: Layout): void {
  if (layout.installExists) return;
  throw new UpgradeError(
    "PREFLIGHT_FAILED",
    `No Agent OS installation at ${layout.installDir}: run this in the project that holds .agent-os/ (or .praxis-os/), or pass --target <project>`,
  );
}
