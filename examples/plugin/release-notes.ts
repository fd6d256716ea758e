/**
 * A third-party plugin, as a plugin author writes one against the published package (the
 * tests run it from the packed tarball): a pre-flight check with its own findings, its own
 * evidence with a gate, a built-in's channel and a built-in's evidence reader.
 *
 * It keeps a copy of the project's RELEASE_NOTES.md in every backup (so a rollback restores
 * it too) and refuses to upgrade when the notes do not mention the source's commit.
 */
import { definePlugin, z } from "agent-os-upgrade";
import { backupScope, preflightEvidence } from "agent-os-upgrade/plugins";
import fs from "node:fs";
import path from "node:path";

/** What this plugin's phase-0 record must show: the notes were read. */
const ReleaseNotesEvidence = z.looseObject({ notes_found: z.literal(true), notes_bytes: z.number().int().positive() });

export function releaseNotesPlugin(options: { file?: string; requireCommit?: boolean } = {}) {
  const file = options.file ?? "RELEASE_NOTES.md";
  return definePlugin({
    name: "release-notes",
    evidence: { 0: ReleaseNotesEvidence },
    apply(hooks) {
      // A built-in's channel: the backup plugin backs up whatever the plugins add to its scope.
      hooks.start.tap((ctx) => {
        backupScope(ctx).add("release-notes", (c) => ({ paths: [path.join(c.layout.projectRoot, file)] }));
      });
      // Its own pre-flight check: findings (with their fix) and its own evidence.
      hooks.preflight.tap((ctx, findings, evidence) => {
        const notes = path.join(ctx.layout.projectRoot, file);
        if (!fs.existsSync(notes)) {
          findings.error("RELEASE_NOTES_MISSING", `Cannot upgrade without ${file}`, `Write ${file} in the project root, saying what this upgrade brings`);
          return;
        }
        evidence.notes_found = true;
        evidence.notes_bytes = fs.statSync(notes).size;
      });
      // A built-in's evidence, through the reader it exports (phase 0 is in the session by phase 1).
      hooks.backup.tap((ctx) => {
        const commit = preflightEvidence(ctx)?.source_commit;
        const notes = fs.readFileSync(path.join(ctx.layout.projectRoot, file), "utf8");
        if (options.requireCommit && commit && !notes.includes(commit.slice(0, 7))) {
          ctx.log.warn(`${file} does not mention the source commit ${commit.slice(0, 7)}`);
        }
      });
    },
  });
}
