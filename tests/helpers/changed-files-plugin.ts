/**
 * A stand-in for the built-in detection of files changed since an upgrade (the backup
 * plugin's `planRollback` tap, not on main yet): it names every file of the installed
 * manifest whose bytes no longer hash as the upgrade wrote them. Real files, real hashes;
 * it lets the MCP tests drive the engine's refusal (`CONFIRMATION_NEEDED`) end to end.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { definePlugin } from "../../core/plugin.ts";

export function changedFilesPlugin() {
  return definePlugin({
    name: "test-changed-files",
    apply(hooks) {
      hooks.planRollback.tap((preview, ctx) => {
        let files: Record<string, string>;
        try {
          files = JSON.parse(fs.readFileSync(ctx.layout.installedManifest, "utf8")).files;
        } catch {
          return preview;
        }
        const changed = Object.entries(files).filter(([rel, sha]) => {
          try {
            return createHash("sha256").update(fs.readFileSync(path.join(ctx.layout.installDir, rel))).digest("hex") !== sha;
          } catch {
            return true;
          }
        }).map(([rel]) => rel);
        return { ...preview, changed: [...preview.changed, ...changed.filter((f) => !preview.changed.includes(f))] };
      });
    },
  });
}
