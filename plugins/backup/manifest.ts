/**
 * MANIFEST.json: what a backup holds, written last, so a folder with a manifest (and no
 * in-progress marker) is a finished, verified backup. Its own sha256 sits beside it in
 * MANIFEST.sha256 (`sha256sum -c` format), so a damaged manifest is caught before anything
 * trusts it.
 *
 * Every path under the roots has an entry (a compact tuple):
 *   ["d", mode, mtimeMs, ctimeS, ino]                        a folder
 *   ["f", mode, size, mtimeMs, ctimeS, ino, copyIno, copyCtimeS]  a regular file
 *   ["l", target]                                           a symbolic link (never followed)
 *   ["o", kind]                                             a socket/fifo/device: not copied, left alone
 * `ctimeS`/`ino` fingerprint the original when it was copied: a live file with the same
 * fingerprint has not been written since (ctime cannot be set by a program), so rollback need
 * not read it; a folder with the same fingerprint has had no entry added, removed or renamed,
 * so rollback need not list it. `copyIno`/`copyCtimeS` do the same for the copy in the backup. ctime is kept in
 * whole seconds and mtime in whole milliseconds because Deno's node:fs rounds them so.
 *
 * The file is plain JSON, one entry per line, read back by JSON.parse and a shape check.
 * Format 1 is unchanged since the first release (a columnar byte-level reader was dropped
 * when backups became scoped), so a backup made by an older version still rolls back.
 */
import fs from "node:fs";
import { Buffer } from "node:buffer";
import path from "node:path";
import { createHash } from "node:crypto";
import { fsyncDir, writeFileAtomic, tempPathFor } from "../../core/atomic.ts";
import { UpgradeError } from "../../core/errors.ts";
import { hostname, pidAlive, processStartTime } from "../../core/proc.ts";
import type { MovedRecord } from "./moved.ts";

export const MANIFEST = "MANIFEST.json";
export const MANIFEST_SUM = "MANIFEST.sha256";
/** Beside the manifest, not part of the copy: what a completed upgrade left (since.ts), why a backup was made (retention.ts). */
export const AFTER = "AFTER.json";
export const LABEL = "LABEL";
export const MARKER = ".in-progress.json";
/** Inside a backup: what an automatic rollback replaced or removed, kept (see restore.ts `keep`). */
export const REPLACED = "replaced-by-rollback";
export const MANIFEST_FORMAT = 1;

export type DirEntry = ["d", number, number, number, number];
export type FileEntry = ["f", number, number, number, number, number, number, number];
export type LinkEntry = ["l", string];
export type OtherEntry = ["o", string];
export type Entry = DirEntry | FileEntry | LinkEntry | OtherEntry;
export type RootKind = "dir" | "file" | "link" | "missing";

export const K_DIR = "d";
export const K_FILE = "f";
export const K_LINK = "l";
export const K_OTHER = "o";
export type Kind = Entry[0];

/**
 * The entries as MANIFEST.json holds them (tuples), with their files' hashes, by index.
 * Sorted by key once complete, so a folder's parent is found by binary search.
 */
export class EntryTable {
  keys: string[] = [];
  entries: Entry[] = [];
  /** sha256 (hex) of each file entry; "" for other kinds. */
  sha: string[] = [];
  #index: Map<string, number> | null = null;

  get length(): number {
    return this.keys.length;
  }

  add(key: string, entry: Entry, sha = ""): number {
    this.keys.push(key);
    this.entries.push(entry);
    this.sha.push(sha);
    this.#index = null;
    return this.keys.length - 1;
  }

  kind(i: number): Kind {
    return this.entries[i][0];
  }
  mode(i: number): number {
    const e = this.entries[i];
    return e[0] === "d" || e[0] === "f" ? e[1] : 0;
  }
  size(i: number): number {
    const e = this.entries[i];
    return e[0] === "f" ? e[2] : 0;
  }
  mtimeMs(i: number): number {
    const e = this.entries[i];
    return e[0] === "d" ? e[2] : e[0] === "f" ? e[3] : 0;
  }
  ctimeS(i: number): number {
    const e = this.entries[i];
    return e[0] === "d" ? e[3] : e[0] === "f" ? e[4] : 0;
  }
  ino(i: number): number {
    const e = this.entries[i];
    return e[0] === "d" ? e[4] : e[0] === "f" ? e[5] : 0;
  }
  copyIno(i: number): number {
    const e = this.entries[i];
    return e[0] === "f" ? e[6] : 0;
  }
  copyCtimeS(i: number): number {
    const e = this.entries[i];
    return e[0] === "f" ? e[7] : 0;
  }
  /** A link's target, or a special file's kind. */
  text(i: number): string {
    const e = this.entries[i];
    return e[0] === "l" || e[0] === "o" ? e[1] : "";
  }
  shaHex(i: number): string {
    return this.sha[i];
  }

  indexOf(key: string): number {
    if (!this.#index) this.#index = new Map(this.keys.map((k, i) => [k, i]));
    return this.#index.get(key) ?? -1;
  }

  /** The entry as the tuple written in MANIFEST.json. */
  tuple(i: number): Entry {
    return this.entries[i];
  }

  /** A copy in key order, without the entries `drop` names. */
  sorted(drop?: ReadonlySet<number>): EntryTable {
    const order = this.keys.map((_, i) => i).filter((i) => !drop?.has(i));
    order.sort((a, b) => (this.keys[a] < this.keys[b] ? -1 : this.keys[a] > this.keys[b] ? 1 : 0));
    const t = new EntryTable();
    for (const j of order) t.add(this.keys[j], this.entries[j], this.sha[j]);
    return t;
  }

  /**
   * Index of the parent folder entry of each entry (-1 for a root). Found by key, not by
   * position: in string order a folder is not always followed by its subtree
   * ("pkg1" < "pkg1-1.0.dist-info" < "pkg1/__init__.py"). The keys are sorted, so a binary
   * search finds it.
   */
  parents(): Int32Array {
    const out = new Int32Array(this.length).fill(-1);
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const want = k.slice(0, k.lastIndexOf("/"));
      let lo = 0;
      let hi = i; // a parent sorts before its children
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (keys[mid] < want) lo = mid + 1;
        else hi = mid;
      }
      if (lo < i && keys[lo] === want && this.kind(lo) === K_DIR) out[i] = lo;
    }
    return out;
  }
}

/** Everything in MANIFEST.json but the entries: what listing and reporting need. */
export interface ManifestHead {
  format: typeof MANIFEST_FORMAT;
  tool: "agent-os-upgrade";
  backup_id: string;
  /** When the backup started (ISO, UTC). */
  timestamp: string;
  started_at_ms: number;
  /** When the copies were re-read for verification: copies whose ctime is this close are hashed by a rollback, not trusted by stat. */
  verify_started_ms: number;
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
  /** Folders the upgrade moves into this backup instead of copying them (see moved.ts), with their recorded entries. */
  moved: Record<string, MovedRecord>;
  /**
   * Files recorded (from their writer's plan hash and a stat) but not copied: the writer links
   * each into the backup just before replacing or deleting it. One missing from the backup was
   * never replaced: the rollback leaves it as it is.
   */
  taken?: string[];
}

export interface Manifest extends ManifestHead {
  /** Sorted by key. */
  entries: EntryTable;
}

export const ENTRY_FORMAT = "d: [mode, mtimeMs, ctimeS, ino] | f: [mode, size, mtimeMs, ctimeS, ino, copyIno, copyCtimeS] | l: [target] | o: [kind]";

const SCALARS = [
  "format", "tool", "backup_id", "timestamp", "started_at_ms", "verify_started_ms", "duration_ms", "backup_path", "session_id",
  "project_root", "install_dir", "method", "roots", "missing", "missing_parents", "total_size", "file_count",
  "dir_count", "symlink_count", "skipped", "entry_format", "moved", "taken",
] as const;

/**
 * One line per entry: readable, diffable, no giant indented arrays. `entries` (every path)
 * comes before `files` ({relpath: sha256} of every regular file), both in key order.
 */
export function* manifestLines(m: Manifest): Generator<string> {
  yield "{";
  for (const k of SCALARS) yield `  ${JSON.stringify(k)}: ${JSON.stringify(m[k] ?? (k === "taken" ? [] : null))},`;
  const t = m.entries;
  yield `  "entries": {`;
  for (let i = 0; i < t.length; i++) yield `    ${JSON.stringify(t.keys[i])}: ${JSON.stringify(t.tuple(i))}${i < t.length - 1 ? "," : ""}`;
  yield "  },";
  yield `  "files": {`;
  let last = -1;
  for (let i = 0; i < t.length; i++) if (t.kind(i) === K_FILE) last = i;
  for (let i = 0; i <= last; i++) {
    if (t.kind(i) === K_FILE) yield `    ${JSON.stringify(t.keys[i])}: "${t.shaHex(i)}"${i < last ? "," : ""}`;
  }
  yield "  }";
  yield "}";
}

/**
 * Writes the manifest durably (temp file, fsync, rename, fsync the folder), streamed in
 * chunks and hashed on the way — at 100k files the text is ~30 MB, which as one string would
 * double the peak memory of a backup — then its checksum, the same way.
 */
export function writeManifest(dir: string, m: Manifest): void {
  const file = path.join(dir, MANIFEST);
  const tmp = tempPathFor(path.join(dir, MANIFEST));
  const h = createHash("sha256");
  const fd = fs.openSync(tmp, "w", 0o600);
  try {
    let chunk = "";
    const flush = () => {
      const b = Buffer.from(chunk, "utf8");
      h.update(b);
      for (let off = 0; off < b.length;) off += fs.writeSync(fd, b, off, b.length - off);
      chunk = "";
    };
    for (const line of manifestLines(m)) {
      chunk += line + "\n";
      if (chunk.length >= 1 << 20) flush();
    }
    flush();
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  fsyncDir(dir);
  writeFileAtomic(path.join(dir, MANIFEST_SUM), `${h.digest("hex")}  ${MANIFEST}\n`, 0o600);
}

function invalid(id: string, state: string, hint?: string): UpgradeError {
  return new UpgradeError("BACKUP_INVALID", `Cannot use backup ${id}: ${state}`, {
    hint: hint ?? `Run \`agent-os-upgrade backups verify ${id}\`; to restore, pick another backup with \`agent-os-upgrade rollback --to <id>\` (\`agent-os-upgrade backups list\` shows them)`,
    details: { backup_id: id },
  });
}

function expectedSum(dir: string, id: string): string {
  const file = path.join(dir, MANIFEST);
  if (!fs.existsSync(file)) throw invalid(id, `${file} does not exist (the backup never finished)`);
  try {
    return fs.readFileSync(path.join(dir, MANIFEST_SUM), "utf8").trim().split(/\s+/)[0] ?? "";
  } catch {
    throw invalid(id, `${path.join(dir, MANIFEST_SUM)} is missing, so MANIFEST.json cannot be trusted`);
  }
}

/** The manifest's bytes, checked against MANIFEST.sha256 before anything trusts them. */
function checkedText(dir: string): string {
  const id = path.basename(dir);
  const want = expectedSum(dir, id);
  const raw = fs.readFileSync(path.join(dir, MANIFEST));
  if (createHash("sha256").update(raw).digest("hex") !== want) {
    throw invalid(id, "MANIFEST.json does not match MANIFEST.sha256: it was changed or damaged after the backup");
  }
  return raw.toString("utf8");
}

type RawManifest = ManifestHead & { entries: Record<string, Entry>; files: Record<string, string> };

/** The manifest as plain JSON (checked against its checksum and its format). */
export function readManifestJson(dir: string): RawManifest {
  const id = path.basename(dir);
  let raw: RawManifest;
  try {
    raw = JSON.parse(checkedText(dir));
  } catch (err) {
    if (err instanceof UpgradeError) throw err;
    throw invalid(id, `MANIFEST.json is not valid JSON (${(err as Error).message})`);
  }
  if (raw?.format !== MANIFEST_FORMAT) {
    throw invalid(id, `MANIFEST.json has format ${JSON.stringify(raw?.format)}, expected ${MANIFEST_FORMAT}`, "It was written by another version of agent-os-upgrade; use that version to restore it");
  }
  return raw;
}

const isNum = (v: unknown) => typeof v === "number" && Number.isFinite(v);
const SHA = /^[0-9a-f]{64}$/;

/** Why an entry tuple is malformed, or null when it is well-formed. */
function entryProblem(e: unknown): string | null {
  if (!Array.isArray(e)) return "is not a tuple";
  const nums = (n: number) => e.length === n + 1 && e.slice(1).every(isNum);
  const ok = e[0] === "d" ? nums(4) : e[0] === "f" ? nums(7) : (e[0] === "l" || e[0] === "o") ? e.length === 2 && typeof e[1] === "string" : false;
  return ok ? null : `is not a valid entry (${JSON.stringify(e).slice(0, 80)})`;
}

/** The entries and hashes of a parsed manifest, checked: every file has exactly one sha256 and nothing else does. */
function tableOf(raw: RawManifest): EntryTable {
  if (typeof raw.entries !== "object" || raw.entries === null) throw new Error(`"entries" is missing`);
  if (typeof raw.files !== "object" || raw.files === null) throw new Error(`"files" is missing`);
  const t = new EntryTable();
  let files = 0;
  for (const key of Object.keys(raw.entries).sort()) {
    const e = raw.entries[key];
    const problem = entryProblem(e);
    if (problem) throw new Error(`the entry "${key}" ${problem}`);
    const sha = e[0] === "f" ? raw.files[key] : "";
    if (e[0] === "f" && (typeof sha !== "string" || !SHA.test(sha))) throw new Error(`the file "${key}" has no valid sha256 in "files"`);
    if (e[0] === "f") files++;
    t.add(key, e, sha);
  }
  if (Object.keys(raw.files).length !== files) throw new Error(`"files" lists paths that "entries" does not hold as files`);
  return t;
}

/**
 * Reads and checks a manifest: its bytes must hash to MANIFEST.sha256, then it is parsed and
 * every entry's shape checked, so what the rollback trusts is exactly what the backup wrote.
 */
export function readManifest(dir: string): Manifest {
  const raw = readManifestJson(dir);
  let entries: EntryTable;
  try {
    entries = tableOf(raw);
  } catch (err) {
    throw invalid(path.basename(dir), `MANIFEST.json cannot be read (${(err as Error).message})`);
  }
  const { files: _files, entries: _entries, ...head } = raw;
  return { ...head, moved: head.moved ?? {}, taken: head.taken ?? [], entries };
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
