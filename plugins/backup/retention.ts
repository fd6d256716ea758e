/**
 * The backups folder as a whole: listing, verifying one, pruning to the newest N, and
 * sweeping what killed processes left (half-made backups, trash, restore staging).
 * A backup whose session is not completed (running, interrupted, rolled back, failed) is
 * never pruned: it may be the only way back for that session.
 */
import fs from "node:fs";
import { Buffer } from "node:buffer";
import path from "node:path";
import { UpgradeError } from "../../core/errors.ts";
import type { Layout } from "../../core/layout.ts";
import { pidAlive } from "../../core/proc.ts";
import { listSessions, parseBrief } from "../../core/state-read.ts";
import { compareIdsDesc, isBackupId } from "./names.ts";
import { backupState, type BackupState, LABEL, type Manifest, MANIFEST, readManifest, readMarker } from "./manifest.ts";
import { emptyTrash, lstatOrNull, moveToTrash, removeTree, rmForce } from "./fsutil.ts";
import { sweepStaging } from "./restore.ts";
import { verifySnapshot, type VerifyReport } from "./verify.ts";

export interface BackupInfo {
  id: string;
  path: string;
  state: BackupState;
  /** ISO time the backup started (from its manifest or marker). */
  timestamp: string | null;
  session_id: string | null;
  /** The status of that session in `.cache/state/`: "missing" when its state file is gone, "corrupt" when unreadable. */
  session_status: string | null;
  files: number | null;
  bytes: number | null;
  /** Why it was made, when not by an upgrade's phase 1 (e.g. "before rollback of <id>"). */
  label: string | null;
}

type Head = Pick<Manifest, "backup_id" | "timestamp" | "session_id" | "file_count" | "total_size"> & Partial<Pick<Manifest, "moved" | "taken">>;

/** Reads the summary lines at the top of MANIFEST.json without parsing its (large) file list. */
export function readManifestHead(dir: string): Head | null {
  let fd: number;
  try {
    fd = fs.openSync(path.join(dir, MANIFEST), "r");
  } catch {
    return null;
  }
  try {
    const buf = Buffer.alloc(1 << 16);
    let text = "";
    let pos = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) break;
      pos += n;
      text += buf.subarray(0, n).toString("utf8");
      const at = text.indexOf('\n  "entries": {');
      if (at >= 0) {
        const head = JSON.parse(text.slice(0, at).replace(/,\s*$/, "") + "\n}") as Head;
        return head;
      }
      if (pos > 1 << 24) break;
    }
    return null;
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/** Bytes of the folders the swap moved into the backup (those that are there now). */
function movedBytes(dir: string, moved: Manifest["moved"] | undefined): number {
  let n = 0;
  for (const [key, rec] of Object.entries(moved ?? {})) if (lstatOrNull(path.join(dir, key))) n += rec.bytes;
  return n;
}

/** Each session's status; the fields read are checked without the full schema (a listing loads no zod). */
function sessionStatuses(layout: Layout): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of listSessions(layout.stateDir, parseBrief)) out.set(s.id, s.state?.status ?? "corrupt");
  return out;
}

/** A backup made for another reason than an upgrade says so in a LABEL file beside its manifest. */

function readLabel(dir: string): string | null {
  try {
    return fs.readFileSync(path.join(dir, LABEL), "utf8").trim() || null;
  } catch {
    return null;
  }
}

/** Every backup, newest first. */
export function listBackups(layout: Layout): BackupInfo[] {
  let names: string[];
  try {
    names = fs.readdirSync(layout.backupsDir);
  } catch {
    return [];
  }
  const statuses = sessionStatuses(layout);
  return names.filter(isBackupId).sort(compareIdsDesc).map((id) => {
    const dir = path.join(layout.backupsDir, id);
    const state = backupState(dir);
    const head = state === "complete" ? readManifestHead(dir) : null;
    const marker = state === "complete" ? null : readMarker(dir);
    const session = head?.session_id ?? marker?.session_id ?? null;
    return {
      id,
      path: dir,
      state,
      timestamp: head?.timestamp ?? marker?.started_at ?? null,
      session_id: session,
      session_status: session ? statuses.get(session) ?? "missing" : null,
      files: head?.file_count ?? null,
      bytes: head ? head.total_size + movedBytes(dir, head.moved) : null,
      label: readLabel(dir),
    };
  });
}

export function backupDirOf(layout: Layout, id: string): string {
  if (!isBackupId(id)) {
    throw new UpgradeError("USAGE", `Cannot find backup "${id}": a backup id looks like 2025-10-11-143022 or 2025-10-11-143022-1`, {
      hint: "Run `agent-os-upgrade backups list` to see the backups of this project",
    });
  }
  const dir = path.join(layout.backupsDir, id);
  if (!lstatOrNull(dir)?.isDirectory()) {
    throw new UpgradeError("BACKUP_INVALID", `Cannot find backup ${id}: ${dir} does not exist`, {
      hint: "Run `agent-os-upgrade backups list` to see the backups of this project",
      details: { backup_id: id },
    });
  }
  return dir;
}

/** `backups verify <id>`: re-reads and hashes every file. A problem is reported, not thrown. */
export async function verifyBackup(layout: Layout, id: string): Promise<VerifyReport> {
  const dir = backupDirOf(layout, id);
  const t0 = performance.now();
  const state = backupState(dir);
  const fail = (problem: string): VerifyReport => ({
    backup_id: id,
    ok: false,
    mode: "full",
    files_checked: 0,
    files_hashed: 0,
    problems: [{ path: MANIFEST, problem }],
    duration_ms: Math.round(performance.now() - t0),
  });
  if (state !== "complete") {
    return fail(state === "in-progress" ? "the backup is still being written" : "the backup never finished (its writer stopped before MANIFEST.json was written)");
  }
  let m: Manifest;
  try {
    m = readManifest(dir);
  } catch (err) {
    return fail((err as Error).message.replace(/^Cannot use backup [^:]+: /, ""));
  }
  return await verifySnapshot(dir, m, "full");
}

export interface PruneResult {
  removed: string[];
  kept: string[];
  /** Why each kept backup was kept, by id. */
  reasons: Record<string, string>;
  /** Backups left alone that are not counted (still being written, or not ours). */
  skipped: Array<{ id: string; reason: string }>;
  /** The bytes the removed backups held (their manifests' count, moved folders included). */
  freed_bytes: number;
  /** True when the removed backups wait in `.backups/.trash/` to be deleted after the command (`defer`). */
  deferred: boolean;
}

/** Sessions whose backup may be their only way back: still running, or stopped midway (interrupted). */
const UNFINISHED = new Set(["in_progress", "rolling_back"]);

/** Why a backup must stay whatever the count, or null when only the count decides. */
function mustKeep(b: BackupInfo, protect: ReadonlySet<string>): string | null {
  if (protect.has(b.id)) return "the backup of this run";
  if (b.session_status !== null && UNFINISHED.has(b.session_status)) return `its session ${b.session_id} is unfinished (${b.session_status}): it may be the only way back; finish it with \`resume\` or \`rollback\``;
  if (b.session_status === "corrupt") return `the state file of its session ${b.session_id} cannot be read, so whether that session is finished is unknown`;
  return null;
}

/**
 * Keeps `keep` backups: every backup counts, whatever its session's status (failed and
 * rolled-back runs leave backups too). Never removes the newest one, the ids in
 * `protectIds`, or the backup of an unfinished (interrupted) session; those count toward
 * `keep`, and the rest of it goes to the newest others. Every kept backup has a reason.
 */
export function pruneBackups(layout: Layout, keep: number, protectIds: readonly string[] = [], opts: { defer?: boolean } = {}): PruneResult {
  if (!Number.isInteger(keep) || keep < 1) {
    throw new UpgradeError("USAGE", `Cannot prune backups: --keep-backups must be a whole number of at least 1 (got ${keep})`, {
      hint: "Pass e.g. --keep-backups 3",
    });
  }
  sweepBackups(layout);
  const all = listBackups(layout);
  const protect = new Set(protectIds);
  const result: PruneResult = { removed: [], kept: [], reasons: {}, skipped: [], freed_bytes: 0, deferred: opts.defer === true };
  const counted: BackupInfo[] = [];
  for (const b of all) {
    if (b.state === "in-progress" || b.state === "incomplete") {
      result.skipped.push({ id: b.id, reason: b.state === "in-progress" ? "still being written" : "no MANIFEST.json and no marker: not made by this tool, left alone" });
    } else if (b.state !== "abandoned") counted.push(b); // abandoned ones were removed by the sweep above
  }
  const forced = new Map<string, string>();
  counted.forEach((b, i) => {
    const why = i === 0 ? "the newest backup" : mustKeep(b, protect);
    if (why) forced.set(b.id, why);
  });
  let room = Math.max(0, keep - forced.size);
  for (const b of counted) {
    const why = forced.get(b.id) ?? (room > 0 ? `one of the newest ${keep} (keepBackups)` : null);
    if (why) {
      if (!forced.has(b.id)) room--;
      result.kept.push(b.id);
      result.reasons[b.id] = why;
      continue;
    }
    // One rename each: the deletion itself happens after the command (`defer`) or here, from the trash.
    moveToTrash(layout.backupsDir, b.path);
    result.removed.push(b.id);
    result.freed_bytes += b.bytes ?? 0;
  }
  if (!opts.defer) emptyTrash(layout.backupsDir);
  return result;
}

/** Removes half-made backups whose writer is dead, leftover trash, and dead rollbacks' staging. */
export function sweepBackups(layout: Layout): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(layout.backupsDir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const p = path.join(layout.backupsDir, n);
    const trash = /^\.trash-.+-(\d+)-\d+$/.exec(n);
    if (trash && !pidAlive(Number(trash[1]))) {
      rmForce(p);
      removed.push(n);
    } else if (isBackupId(n) && backupState(p) === "abandoned") {
      removeTree(p);
      removed.push(n);
    }
  }
  removed.push(...sweepStaging(layout.backupsDir));
  removed.push(...emptyTrash(layout.backupsDir, { onlyDead: true }));
  return removed;
}
