/**
 * MANIFEST.json: what a backup holds, written last, so a folder with a manifest (and no
 * in-progress marker) is a finished, verified backup. Its own sha256 sits beside it in
 * MANIFEST.sha256 (`sha256sum -c` format), so a damaged manifest is caught before anything
 * trusts it.
 *
 * Every path under the roots has an entry (a compact tuple: a venv has 100k of them):
 *   ["d", mode, mtimeMs, ctimeS, ino]                        a folder
 *   ["f", mode, size, mtimeMs, ctimeS, ino, copyIno, copyCtimeS]  a regular file
 *   ["l", target]                                           a symbolic link (never followed)
 *   ["o", kind]                                             a socket/fifo/device: not copied, left alone
 * `ctimeS`/`ino` fingerprint the original when it was copied: a live file with the same
 * fingerprint has not been written since (ctime cannot be set by a program), so rollback need
 * not read it; a folder with the same fingerprint has had no entry added, removed or renamed,
 * so rollback need not list it. `copyIno`/`copyCtimeS` do the same for the copy in the backup. ctime is kept in
 * whole seconds and mtime in whole milliseconds because Deno's node:fs rounds them so.
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
export const MANIFEST_FORMAT = 1;

export type DirEntry = ["d", number, number, number, number];
export type FileEntry = ["f", number, number, number, number, number, number, number];
export type LinkEntry = ["l", string];
export type OtherEntry = ["o", string];
export type Entry = DirEntry | FileEntry | LinkEntry | OtherEntry;
export type RootKind = "dir" | "file" | "missing";

export const K_DIR = 0;
export const K_FILE = 1;
export const K_LINK = 2;
export const K_OTHER = 3;
/** Numbers kept per entry: mode, size, mtimeMs, ctimeS, ino, copyIno, copyCtimeS. */
const N = 7;

/**
 * The entries, in columns: a key array, a kind byte, seven numbers and 32 hash bytes per
 * entry. At 100k files this is ~20 MB where a map of tuples and hex strings is ~60 MB, and
 * it is filled by a line parser instead of one 30 MB JSON.parse. Sorted by key once complete,
 * so every folder's subtree is one contiguous range.
 */
export class EntryTable {
  keys: string[] = [];
  kind = new Uint8Array(1024);
  num = new Float64Array(1024 * N);
  sha = new Uint8Array(1024 * 32);
  /** Link targets and special-file kinds, by index. */
  text = new Map<number, string>();
  #index: Map<string, number> | null = null;

  get length(): number {
    return this.keys.length;
  }

  add(key: string, kind: number): number {
    const i = this.keys.length;
    if (i >= this.kind.length) this.#grow(this.kind.length * 2);
    this.keys.push(key);
    this.kind[i] = kind;
    this.#index = null;
    return i;
  }

  #grow(cap: number): void {
    const kind = new Uint8Array(cap);
    kind.set(this.kind);
    const num = new Float64Array(cap * N);
    num.set(this.num);
    const sha = new Uint8Array(cap * 32);
    sha.set(this.sha);
    this.kind = kind;
    this.num = num;
    this.sha = sha;
  }

  mode(i: number): number {
    return this.num[i * N];
  }
  size(i: number): number {
    return this.num[i * N + 1];
  }
  mtimeMs(i: number): number {
    return this.num[i * N + 2];
  }
  ctimeS(i: number): number {
    return this.num[i * N + 3];
  }
  ino(i: number): number {
    return this.num[i * N + 4];
  }
  copyIno(i: number): number {
    return this.num[i * N + 5];
  }
  copyCtimeS(i: number): number {
    return this.num[i * N + 6];
  }
  setNum(i: number, field: number, v: number): void {
    this.num[i * N + field] = v;
  }
  setSha(i: number, hex: string): void {
    Buffer.from(this.sha.buffer, this.sha.byteOffset + i * 32, 32).write(hex, "hex");
  }
  shaHex(i: number): string {
    return Buffer.from(this.sha.buffer, this.sha.byteOffset + i * 32, 32).toString("hex");
  }

  indexOf(key: string): number {
    if (!this.#index) {
      this.#index = new Map();
      this.keys.forEach((k, i) => this.#index!.set(k, i));
    }
    return this.#index.get(key) ?? -1;
  }

  /** The entry as the tuple written in MANIFEST.json. */
  tuple(i: number): Entry {
    const o = i * N;
    const n = this.num;
    switch (this.kind[i]) {
      case K_DIR:
        return ["d", n[o], n[o + 2], n[o + 3], n[o + 4]];
      case K_FILE:
        return ["f", n[o], n[o + 1], n[o + 2], n[o + 3], n[o + 4], n[o + 5], n[o + 6]];
      case K_LINK:
        return ["l", this.text.get(i) ?? ""];
      default:
        return ["o", this.text.get(i) ?? ""];
    }
  }

  /** A copy in key order. */
  sorted(): EntryTable {
    const order = Array.from(this.keys.keys()).sort((a, b) => (this.keys[a] < this.keys[b] ? -1 : this.keys[a] > this.keys[b] ? 1 : 0));
    const t = new EntryTable();
    t.#grow(Math.max(1024, order.length));
    for (const j of order) {
      const i = t.add(this.keys[j], this.kind[j]);
      t.num.set(this.num.subarray(j * N, j * N + N), i * N);
      t.sha.set(this.sha.subarray(j * 32, j * 32 + 32), i * 32);
      const tx = this.text.get(j);
      if (tx !== undefined) t.text.set(i, tx);
    }
    return t;
  }

  /** Makes room for `n` entries at once (the parser knows the count from the manifest's head). */
  reserve(n: number): void {
    if (n > this.kind.length) this.#grow(n);
  }

  /**
   * Index of the parent folder entry of each entry (-1 for a root). Found by key, not by
   * position: in string order a folder is not always followed by its subtree
   * ("pkg1" < "pkg1-1.0.dist-info" < "pkg1/__init__.py"). The keys are sorted, so a binary
   * search finds it without a 100k-entry map.
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
      if (lo < i && keys[lo] === want && this.kind[lo] === K_DIR) out[i] = lo;
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
}

export interface Manifest extends ManifestHead {
  /** Sorted by key. */
  entries: EntryTable;
}

export const ENTRY_FORMAT = "d: [mode, mtimeMs, ctimeS, ino] | f: [mode, size, mtimeMs, ctimeS, ino, copyIno, copyCtimeS] | l: [target] | o: [kind]";

const SCALARS = [
  "format", "tool", "backup_id", "timestamp", "started_at_ms", "verify_started_ms", "duration_ms", "backup_path", "session_id",
  "project_root", "install_dir", "method", "roots", "missing", "missing_parents", "total_size", "file_count",
  "dir_count", "symlink_count", "skipped", "entry_format", "moved",
] as const;

/**
 * One line per entry: readable, diffable, no giant indented arrays. `entries` (every path)
 * comes before `files` ({relpath: sha256} of every regular file), both in key order.
 */
export function* manifestLines(m: Manifest): Generator<string> {
  yield "{";
  for (const k of SCALARS) yield `  ${JSON.stringify(k)}: ${JSON.stringify(m[k])},`;
  const t = m.entries;
  yield `  "entries": {`;
  for (let i = 0; i < t.length; i++) yield `    ${JSON.stringify(t.keys[i])}: ${JSON.stringify(t.tuple(i))}${i < t.length - 1 ? "," : ""}`;
  yield "  },";
  yield `  "files": {`;
  let last = -1;
  for (let i = 0; i < t.length; i++) if (t.kind[i] === K_FILE) last = i;
  for (let i = 0; i <= last; i++) {
    if (t.kind[i] === K_FILE) yield `    ${JSON.stringify(t.keys[i])}: "${t.shaHex(i)}"${i < last ? "," : ""}`;
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

/**
 * Calls `onLine(buffer, start, end)` for each line of a file, read in 1 MiB chunks, and
 * returns the sha256 of all its bytes, plus the first error `onLine` threw (after which the
 * rest is only hashed, so a damaged file is still reported by its checksum). Byte ranges
 * and a callback, not strings and a generator: a key sliced out of a decoded chunk would
 * keep the whole chunk alive (V8 sliced strings), and per-line objects at 200k lines would
 * grow the young generation by tens of MB.
 */
function forEachLine(file: string, onLine: (b: Buffer, start: number, end: number) => void): { sha: string; error: unknown } {
  const fd = fs.openSync(file, "r");
  const h = createHash("sha256");
  const chunk = Buffer.allocUnsafe(1 << 20);
  let data = Buffer.alloc(0);
  let pos = 0;
  let error: unknown = null;
  try {
    for (;;) {
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n <= 0) break;
      h.update(chunk.subarray(0, n));
      if (error) continue;
      data = Buffer.concat([data.subarray(pos), chunk.subarray(0, n)]);
      pos = 0;
      try {
        for (let nl = data.indexOf(10, pos); nl >= 0; nl = data.indexOf(10, pos)) {
          onLine(data, pos, nl);
          pos = nl + 1;
        }
      } catch (err) {
        error = err;
      }
    }
    if (!error && pos < data.length) {
      try {
        onLine(data, pos, data.length);
      } catch (err) {
        error = err;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return { sha: h.digest("hex"), error };
}

const KEY_END = Buffer.from('": ');
const DIR_NUMS = new Float64Array(4);

/** Where the key of `    "key": value` ends (the index of its closing quote), or -1 when it has escapes. */
function keyEnd(b: Buffer, s: number, e: number): number {
  const q = b.indexOf(KEY_END, s + 5);
  if (q < 0 || q >= e) return -1;
  for (let i = s + 5; i < q; i++) if (b[i] === 92) return -1; // a backslash: take the slow path
  return q;
}

/** Whole numbers from bytes [i, e), `count` of them, into out[at...]. */
function parseNumsAt(b: Buffer, i: number, e: number, out: Float64Array, at: number, count: number): void {
  for (let f = 0; f < count; f++) {
    while (i < e && (b[i] < 48 || b[i] > 57) && b[i] !== 45) i++;
    const neg = b[i] === 45;
    if (neg) i++;
    let n = 0;
    while (i < e && b[i] >= 48 && b[i] <= 57) n = n * 10 + (b[i++] - 48);
    out[at + f] = neg ? -n : n;
  }
}

const hexVal = (c: number) => (c <= 57 ? c - 48 : (c | 32) - 87);

/**
 * Reads and checks a manifest: its bytes must hash to MANIFEST.sha256, which also guarantees
 * the line layout writeManifest produced, so this byte-level parser is safe to use.
 */
export function readManifest(dir: string): Manifest {
  const id = path.basename(dir);
  const want = expectedSum(dir, id);
  const t = new EntryTable();
  const headLines: string[] = [];
  let section = "head" as "head" | "entries" | "files" | "end";
  let fileAt = -1;
  const onLine = (b: Buffer, s: number, e: number) => {
    if (section === "head") {
      const line = b.toString("utf8", s, e);
      if (line === '  "entries": {') {
        section = "entries";
        const counts = /"file_count": (\d+),[\s\S]*"dir_count": (\d+),[\s\S]*"symlink_count": (\d+),/.exec(headLines.join("\n"));
        if (counts) t.reserve(Number(counts[1]) + Number(counts[2]) + Number(counts[3]) + 16);
      } else if (line !== "{") headLines.push(line);
      return;
    }
    if (section === "end") return;
    if (e - s <= 4 && b[s + 2] === 125) {
      // "  }," closes the entries, "  }" the files
      section = section === "entries" ? "files" : "end";
      return;
    }
    if (section === "files" && b[e - 1] === 123) return; // '  "files": {'
    const q = keyEnd(b, s, e);
    if (section === "files") {
      // `files` lists exactly the file entries, in the same order (the checksum guarantees
      // the layout): the next file entry is this one; its key length is checked, not decoded.
      do fileAt++; while (fileAt < t.length && t.kind[fileAt] !== K_FILE);
      if (fileAt >= t.length) throw new Error("files lists more files than entries");
      if (q >= 0) {
        if (q - s - 5 !== Buffer.byteLength(t.keys[fileAt])) throw new Error(`files and entries disagree at "${t.keys[fileAt]}"`);
        const o = fileAt * 32;
        for (let k = 0; k < 32; k++) t.sha[o + k] = (hexVal(b[q + 4 + 2 * k]) << 4) | hexVal(b[q + 5 + 2 * k]);
      } else {
        const obj = JSON.parse(`{${b.toString("utf8", s, e).trim().replace(/,$/, "")}}`) as Record<string, string>;
        const key = Object.keys(obj)[0];
        if (key !== t.keys[fileAt]) throw new Error(`files and entries disagree at "${t.keys[fileAt]}"`);
        t.setSha(fileAt, obj[key]);
      }
      return;
    }
    if (q < 0) {
      const obj = JSON.parse(`{${b.toString("utf8", s, e).trim().replace(/,$/, "")}}`) as Record<string, Entry>;
      const key = Object.keys(obj)[0];
      const tuple = obj[key];
      const i = t.add(key, tuple[0] === "d" ? K_DIR : tuple[0] === "f" ? K_FILE : tuple[0] === "l" ? K_LINK : K_OTHER);
      if (tuple[0] === "d") t.num.set([tuple[1], 0, tuple[2], tuple[3] ?? 0, tuple[4] ?? 0], i * N);
      else if (tuple[0] === "f") t.num.set(tuple.slice(1) as number[], i * N);
      else t.text.set(i, tuple[1]);
      return;
    }
    const v = q + 3; // the value: ["d",... / ["f",... / ["l","target"] / ["o","kind"]
    const kc = b[v + 2];
    const i = t.add(b.toString("utf8", s + 5, q), kc === 100 ? K_DIR : kc === 102 ? K_FILE : kc === 108 ? K_LINK : K_OTHER);
    if (kc === 100) {
      parseNumsAt(b, v + 5, e, DIR_NUMS, 0, 4);
      t.num[i * N] = DIR_NUMS[0];
      t.num.set(DIR_NUMS.subarray(1, 4), i * N + 2);
    } else if (kc === 102) parseNumsAt(b, v + 5, e, t.num, i * N, N);
    else t.text.set(i, (JSON.parse(b.toString("utf8", v, b[e - 1] === 44 ? e - 1 : e)) as [string, string])[1]);
  };
  const { sha: got, error } = forEachLine(path.join(dir, MANIFEST), onLine);
  // A damaged manifest usually fails to parse: say what the checksum says first.
  if (got !== want) throw invalid(id, "MANIFEST.json does not match MANIFEST.sha256: it was changed or damaged after the backup");
  if (error) throw invalid(id, `MANIFEST.json cannot be read (${(error as Error).message})`);
  let head: ManifestHead;
  try {
    head = JSON.parse(`{${headLines.join("\n").replace(/,\s*$/, "")}}`) as ManifestHead;
  } catch (err) {
    throw invalid(id, `MANIFEST.json is not valid JSON (${(err as Error).message})`);
  }
  if (head.format !== MANIFEST_FORMAT || section !== "end") {
    throw invalid(id, `MANIFEST.json has format ${JSON.stringify(head.format)}, expected ${MANIFEST_FORMAT}`, "It was written by another version of agent-os-upgrade; use that version to restore it");
  }
  return { ...head, moved: head.moved ?? {}, entries: t };
}

/** The manifest as plain JSON (checked against its checksum): for tools and tests, not for 100k-file rollbacks. */
export function readManifestJson(dir: string): ManifestHead & { entries: Record<string, Entry>; files: Record<string, string> } {
  const id = path.basename(dir);
  const want = expectedSum(dir, id);
  const raw = fs.readFileSync(path.join(dir, MANIFEST));
  if (createHash("sha256").update(raw).digest("hex") !== want) throw invalid(id, "MANIFEST.json does not match MANIFEST.sha256: it was changed or damaged after the backup");
  return JSON.parse(raw.toString("utf8"));
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
