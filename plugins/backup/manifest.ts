/**
 * MANIFEST.json: what a backup holds, written last, so a folder with a manifest (and no
 * in-progress marker) is a finished, verified backup. Its own sha256 sits beside it in
 * MANIFEST.sha256 (`sha256sum -c` format), so a damaged manifest is caught before anything
 * trusts it.
 *
 * Every path under the roots has an entry (a compact tuple: a venv has 100k of them):
 *   ["d", mode, mtimeMs]                                     a folder
 *   ["f", mode, size, mtimeMs, ctimeS, ino, copyIno, copyCtimeS]  a regular file
 *   ["l", target]                                           a symbolic link (never followed)
 *   ["o", kind]                                             a socket/fifo/device: not copied, left alone
 * `ctimeS`/`ino` fingerprint the original when it was copied: a live file with the same
 * fingerprint has not been written since (ctime cannot be set by a program), so rollback need
 * not read it. `copyIno`/`copyCtimeS` do the same for the copy in the backup. ctime is kept in
 * whole seconds and mtime in whole milliseconds because Deno's node:fs rounds them so.
 */
import fs from "node:fs";
import path from "node:path";
import { createHash } from "node:crypto";
import { fsyncDir, writeFileAtomic } from "../../core/atomic.ts";
import { UpgradeError } from "../../core/errors.ts";
import { hostname, pidAlive, processStartTime } from "../../core/proc.ts";

export const MANIFEST = "MANIFEST.json";
export const MANIFEST_SUM = "MANIFEST.sha256";
export const MARKER = ".in-progress.json";
export const MANIFEST_FORMAT = 1;

export type DirEntry = ["d", number, number];
export type FileEntry = ["f", number, number, number, number, number, number, number];
export type LinkEntry = ["l", string];
export type OtherEntry = ["o", string];
export type Entry = DirEntry | FileEntry | LinkEntry | OtherEntry;
export type RootKind = "dir" | "file" | "missing";

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  tool: "agent-os-upgrade";
  backup_id: string;
  /** When the backup started (ISO, UTC). */
  timestamp: string;
  started_at_ms: number;
  duration_ms: number;
  backup_path: string;
  session_id: string | null;
  project_root: string;
  install_dir: string;
  /** "clone" (copy-on-write) or "copy" (streamed, hashed while copying). */
  method: "clone" | "copy";
  roots: Record<string, RootKind>;
  /** Roots that did not exist: the upgrade may create them, so rollback removes them. */
  missing: string[];
  /** For each missing root, its parent folders that did not exist either (removed if left empty). */
  missing_parents: Record<string, string[]>;
  total_size: number;
  file_count: number;
  dir_count: number;
  symlink_count: number;
  /** Special files seen and left alone. */
  skipped: string[];
  entry_format: string;
  /** sha256 of every regular file, taken from the original's bytes while copying. */
  files: Record<string, string>;
  entries: Record<string, Entry>;
}

export const ENTRY_FORMAT = 'd: [mode, mtimeMs] | f: [mode, size, mtimeMs, ctimeS, ino, copyIno, copyCtimeS] | l: [target] | o: [kind]';

const SCALARS = [
  "format", "tool", "backup_id", "timestamp", "started_at_ms", "duration_ms", "backup_path", "session_id",
  "project_root", "install_dir", "method", "roots", "missing", "missing_parents", "total_size", "file_count",
  "dir_count", "symlink_count", "skipped", "entry_format",
] as const;

/** One line per entry: readable, diffable, and no giant indented arrays. */
export function serializeManifest(m: Manifest): string {
  const lines: string[] = ["{"];
  for (const k of SCALARS) lines.push(`  ${JSON.stringify(k)}: ${JSON.stringify(m[k])},`);
  for (const k of ["files", "entries"] as const) {
    const map = m[k] as Record<string, unknown>;
    const keys = Object.keys(map).sort();
    lines.push(`  ${JSON.stringify(k)}: {`);
    keys.forEach((key, i) => lines.push(`    ${JSON.stringify(key)}: ${JSON.stringify(map[key])}${i < keys.length - 1 ? "," : ""}`));
    lines.push(k === "files" ? "  }," : "  }");
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");

/** Writes the manifest and its checksum, durably; the manifest is written first (see readManifest). */
export function writeManifest(dir: string, m: Manifest): void {
  const text = serializeManifest(m);
  writeFileAtomic(path.join(dir, MANIFEST), text, 0o600);
  writeFileAtomic(path.join(dir, MANIFEST_SUM), `${sha256(text)}  ${MANIFEST}\n`, 0o600);
}

function invalid(id: string, state: string, hint?: string): UpgradeError {
  return new UpgradeError("BACKUP_INVALID", `Cannot use backup ${id}: ${state}`, {
    hint: hint ?? `Run \`agent-os-upgrade backups verify ${id}\`; to restore, pick another backup with \`agent-os-upgrade rollback --to <id>\` (\`agent-os-upgrade backups list\` shows them)`,
    details: { backup_id: id },
  });
}

export function readManifest(dir: string): Manifest {
  const id = path.basename(dir);
  let raw: Buffer;
  let sum: string;
  try {
    raw = fs.readFileSync(path.join(dir, MANIFEST));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw invalid(id, `${path.join(dir, MANIFEST)} does not exist (the backup never finished)`);
    }
    throw err;
  }
  try {
    sum = fs.readFileSync(path.join(dir, MANIFEST_SUM), "utf8").trim().split(/\s+/)[0] ?? "";
  } catch {
    throw invalid(id, `${path.join(dir, MANIFEST_SUM)} is missing, so MANIFEST.json cannot be trusted`);
  }
  if (sha256(raw) !== sum) {
    throw invalid(id, `MANIFEST.json does not match MANIFEST.sha256: it was changed or damaged after the backup`);
  }
  let m: Manifest;
  try {
    m = JSON.parse(raw.toString("utf8")) as Manifest;
  } catch (err) {
    throw invalid(id, `MANIFEST.json is not valid JSON (${(err as Error).message})`);
  }
  if (m?.format !== MANIFEST_FORMAT || typeof m.files !== "object" || typeof m.entries !== "object" || typeof m.roots !== "object") {
    throw invalid(id, `MANIFEST.json has format ${JSON.stringify(m?.format)}, expected ${MANIFEST_FORMAT}`, "It was written by another version of agent-os-upgrade; use that version to restore it");
  }
  return m;
}

export interface Marker {
  pid: number;
  pid_start: string | null;
  hostname: string;
  session_id: string | null;
  started_at: string;
}

export function writeMarker(dir: string, sessionId: string | null): void {
  const m: Marker = { pid: process.pid, pid_start: processStartTime(process.pid), hostname: hostname(), session_id: sessionId, started_at: new Date().toISOString() };
  writeFileAtomic(path.join(dir, MARKER), JSON.stringify(m, null, 2) + "\n", 0o600);
}

export function readMarker(dir: string): Marker | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, MARKER), "utf8")) as Marker;
  } catch {
    return null;
  }
}

/** Removes the marker: from here on the backup is complete. */
export function clearMarker(dir: string): void {
  fs.rmSync(path.join(dir, MARKER), { force: true });
  fsyncDir(dir);
}

export type BackupState = "complete" | "in-progress" | "abandoned" | "incomplete";

/** in-progress: its writer is alive; abandoned: its writer died (SIGKILL, power cut) before it finished. */
export function backupState(dir: string): BackupState {
  const marker = fs.existsSync(path.join(dir, MARKER)) ? readMarker(dir) : null;
  if (marker) {
    const alive = marker.hostname !== hostname() || pidAlive(marker.pid, marker.pid_start);
    return alive ? "in-progress" : "abandoned";
  }
  if (fs.existsSync(path.join(dir, MARKER))) return "abandoned"; // a marker cut off mid-write
  return fs.existsSync(path.join(dir, MANIFEST)) && fs.existsSync(path.join(dir, MANIFEST_SUM)) ? "complete" : "incomplete";
}

/** Normalised fingerprint parts (see the header comment). */
export const mtimeOf = (ms: number) => Math.floor(ms);
export const ctimeOf = (ms: number) => Math.floor(ms / 1000);
