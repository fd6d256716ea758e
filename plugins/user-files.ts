/**
 * The user-files guard (SPEC §5.5 "user-owned files are byte-identical"): before anything
 * changes (phase 1) it records a digest of every user-owned file; in validation (phase 4)
 * it compares, and names every file that was added, removed or changed. The digests live in
 * the phase-1 evidence, so the check also works for a session resumed after a crash.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { activeLayout } from "./layouts/detect.ts";
import { layoutUserPaths } from "./layouts.ts";
import { parsePluginOptions } from "../core/config.ts";
import { defineChannel } from "../core/channel.ts";
import type { UpgradeContext } from "../core/types.ts";
import { definePlugin } from "../core/plugin.ts";

export const UserFilesOptions = z.strictObject({
  /** User-owned paths, relative to the installation folder (SPEC §2); default: the run's layout's. */
  paths: z.array(z.string().min(1)).optional(),
});
export type UserFilesOptionsInput = z.input<typeof UserFilesOptions>;

/** `{relpath: digest}` of every file and symlink under the given paths (folders are implied). */
export function digestUserFiles(installDir: string, paths: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (abs: string) => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
    } catch {
      return;
    }
    const rel = path.relative(installDir, abs).split(path.sep).join("/");
    if (st.isSymbolicLink()) out[rel] = `link:${fs.readlinkSync(abs)}`;
    else if (st.isDirectory()) for (const n of fs.readdirSync(abs)) visit(path.join(abs, n));
    else if (st.isFile()) out[rel] = `${(st.mode & 0o7777).toString(8)}:${crypto.createHash("sha256").update(fs.readFileSync(abs)).digest("hex")}`;
  };
  for (const p of paths) visit(path.join(installDir, p));
  return out;
}

export function diffDigests(before: Record<string, string>, after: Record<string, string>): string[] {
  const changed: string[] = [];
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (!(k in after)) changed.push(`${k} (removed)`);
    else if (!(k in before)) changed.push(`${k} (added)`);
    else if (before[k] !== after[k]) changed.push(`${k} (changed)`);
  }
  return changed.sort();
}

/**
 * User files a plugin changes on the user's own decision (a migration's rewrite of the old
 * folder's name in a spec): install-relative, registered before phase 4 compares; any other
 * change is still refused.
 */
const DecidedChanges = defineChannel<Set<string>>("user-files.decided");

export function allowUserFileChange(ctx: UpgradeContext, installRel: string): void {
  ctx.channels.ensure(DecidedChanges, () => new Set<string>()).add(installRel);
}

/** Phase 4's gate, for this plugin: every user-owned file is as phase 1 found it. */
export const UserFilesEvidence = z.looseObject({ user_files_unchanged: z.literal(true) });

export function userFilesPlugin(options: UserFilesOptionsInput = {}) {
  const opts = parsePluginOptions("user-files", UserFilesOptions, options);
  return definePlugin({
    name: "user-files",
    whenDisabled: "your own files (specs/, standards/development/, workspace/) are not checked to be unchanged",
    evidence: { 4: UserFilesEvidence },
    apply(hooks) {
      hooks.backup.tap((ctx, ev) => {
        ev.user_files = digestUserFiles(ctx.layout.installDir, opts.paths ?? layoutUserPaths(activeLayout(ctx)));
      });
      hooks.validate.tap((ctx, findings, ev) => {
        const before = ctx.evidence(1, "user-files")?.user_files as Record<string, string> | undefined;
        if (!before) {
          findings.error("USER_FILES_UNKNOWN", "Cannot check user-owned files: phase 1 recorded no digest of them", "Run the upgrade with the user-files plugin enabled from the start");
          return;
        }
        const decided = ctx.channels.get(DecidedChanges) ?? new Set<string>();
        const changed = diffDigests(before, digestUserFiles(ctx.layout.installDir, opts.paths ?? layoutUserPaths(activeLayout(ctx))))
          .filter((c) => !decided.has(c.replace(/ \((changed|added|removed)\)$/, "")) || !c.endsWith("(changed)"));
        (ev as Record<string, unknown>).user_files_unchanged = changed.length === 0;
        if (changed.length) {
          findings.error("USER_FILES_CHANGED", `User-owned files changed during the upgrade: ${changed.slice(0, 5).join(", ")}${changed.length > 5 ? `, … (${changed.length})` : ""}`, "This is a bug in a plugin that wrote into user-owned folders; the upgrade is rolled back");
        }
      });
    },
  });
}
