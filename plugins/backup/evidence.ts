/**
 * The backup plugin's options and its phase-1 evidence (the schema its gate checks, and the
 * typed reader others use), apart from the plugin so that its rollback module reads them too.
 */
import { z } from "zod";
import { evidenceReader } from "../../core/evidence.ts";

export const BackupOptionsSchema = z.strictObject({
  /** More paths to back up, relative to the installation folder (e.g. targets added to the content mapping). */
  include: z.array(z.string().min(1)).default([]),
  /** More paths to back up, relative to the project root. */
  includeProject: z.array(z.string().min(1)).default([]),
  /** Default paths to leave out, as written in the defaults (`venv`, `.cursor/mcp.json`). */
  exclude: z.array(z.string().min(1)).default([]),
  /** Ignored: backups no longer use worker threads (a scoped backup is too small to pay for them). Accepted so that older configs still load. */
  threads: z.number().int().min(1).max(32).optional(),
  /** Files copied or hashed between two turns of the event loop (signals and progress run between them). */
  batchSize: z.number().int().min(1).max(100000).default(128),
  /** Flush the backup to disk before phase 2 may change anything. */
  sync: z.boolean().default(true),
  /** How a rollback checks the backup first: "stat" (every file's fingerprint, hashing the ones that changed and every file it restores) or "full" (hash everything). */
  rollbackVerify: z.enum(["stat", "full"]).default("stat"),
});

export type BackupPluginOptions = z.input<typeof BackupOptionsSchema>;
/** The options once parsed (defaults filled): what the plugin's functions receive. */
export type BackupOpts = z.output<typeof BackupOptionsSchema>;

/** What phase 1's gate demands of this plugin: a backup that exists and was verified. */
export const BackupEvidence = z.looseObject({
  backup_path: z.string().min(1),
  backup_id: z.string().min(1),
  files_backed_up: z.number().int().nonnegative(),
  backup_size_bytes: z.number().int().nonnegative(),
  integrity_verified: z.literal(true),
});

/** This plugin's phase-1 evidence, for others (the report, the MCP summary): the backup's id and path. */
export const backupEvidence = evidenceReader("backup", 1, BackupEvidence);
