/**
 * The installed manifest (`.agent-os/.upgrade/installed-manifest.json`): the source commit,
 * version and time of the last upgrade, and `{targetPath: sha256}` of what it installed.
 * It is the base of the next upgrade's three-way comparison, so a damaged one is reported,
 * never guessed around.
 *
 * `stats` is git's index trick: for files whose bytes were known to hash to their `files`
 * entry when it was written, their size, mtime, ctime and inode. The next plan takes the
 * recorded hash for a file whose stat is still the same instead of reading it (an edit
 * always moves ctime, which no tool can set back). Absent or differing: the file is read.
 * A record is `<size>:<mtimeMs>:<ctimeMs>:<ino>:<opaque 0|1>:<source path>`, the source path
 * set only when the bytes were upstream's file at `source_commit` (build.ts then also spares
 * the source's copy of a path git says is unchanged since).
 */
import fs from "node:fs";
import { z } from "zod";
import { defineChannel } from "../../core/channel.ts";
import type { FsApi, UpgradeContext } from "../../core/types.ts";
import { isSafeRelative } from "./paths.ts";
import { writeAtomicPieces } from "./write.ts";
import type { Problem } from "./scan.ts";

export const MANIFEST_SCHEMA_VERSION = 1;

function isStringRecord(v: unknown): boolean {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  for (const k in v) if (typeof (v as Record<string, unknown>)[k] !== "string") return false;
  return true;
}

export const InstalledManifest = z.looseObject({
  schema_version: z.literal(MANIFEST_SCHEMA_VERSION),
  source_commit: z.string().regex(/^[0-9a-f]{40}$/).nullable(),
  version: z.string().nullable(),
  installed_at: z.string().min(1),
  // Checked by one loop, not a schema per entry (zod's record costs ~0.1 s at 10k files); digests in readInstalledManifest.
  files: z.custom<Record<string, string>>(isStringRecord, "expected an object of paths to sha256 digests"),
  stats: z.custom<Record<string, string>>(isStringRecord, "expected an object of paths to stat records").optional(),
});
export type InstalledManifest = z.infer<typeof InstalledManifest>;

const SHA256 = /^[0-9a-f]{64}$/;

/** A file's identity for `stats`: any write, rename over it or chmod changes it. */
export function statKey(st: fs.Stats): string {
  return `${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}`;
}

export interface StatRecord {
  key: string;
  opaque: boolean;
  /** The source path whose file at `source_commit` these bytes are; "" when not upstream's. */
  upstream: string;
}

export function parseStatRecord(rec: string): StatRecord | null {
  const parts = rec.split(":");
  if (parts.length < 6) return null;
  return { key: parts.slice(0, 4).join(":"), opaque: parts[4] === "1", upstream: parts.slice(5).join(":") };
}

export type ManifestRead =
  | { kind: "absent" }
  | { kind: "ok"; manifest: InstalledManifest }
  | { kind: "invalid"; problem: Problem };

/** The manifest file as JSON, before any check; a read error other than ENOENT is thrown. */
export type ManifestJson = { kind: "absent" } | { kind: "json"; json: unknown } | { kind: "not-json"; message: string };

export function loadManifestJson(file: string): ManifestJson {
  let raw: string;
  try {
    raw = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kind: "absent" };
    throw err;
  }
  try {
    return { kind: "json", json: JSON.parse(raw) };
  } catch (err) {
    return { kind: "not-json", message: (err as Error).message };
  }
}

/** Parsed manifests of one run, by path: pre-flight's version check and the plan parse the file (MBs at 10k files) once. */
const ManifestJsonRead = defineChannel<Map<string, { value?: ManifestJson; error?: unknown }>>("content.manifest-json");

/** `loadManifestJson` once per run and file; its error, if any, is thrown to every caller. */
export function manifestJsonOf(ctx: Pick<UpgradeContext, "channels">, file: string): ManifestJson {
  let reads = ctx.channels.get(ManifestJsonRead);
  if (!reads) ctx.channels.set(ManifestJsonRead, reads = new Map());
  let read = reads.get(file);
  if (!read) {
    try {
      read = { value: loadManifestJson(file) };
    } catch (error) {
      read = { error };
    }
    reads.set(file, read);
  }
  if (read.error !== undefined) throw read.error;
  return read.value!;
}

/** The installed manifest, checked; `loaded` when the run has parsed it already (`manifestJsonOf`). */
export function readInstalledManifest(file: string, loaded: ManifestJson = loadManifestJson(file)): ManifestRead {
  if (loaded.kind === "absent") return { kind: "absent" };
  const fix = `Move ${file} aside and run again with --from <the installed source commit> (or without it, so that every differing file is a conflict to decide)`;
  if (loaded.kind === "not-json") {
    return { kind: "invalid", problem: { code: "INSTALLED_MANIFEST_INVALID", message: `Cannot read the installed manifest ${file}: it is not valid JSON (${loaded.message})`, fix } };
  }
  const json = loaded.json;
  const r = InstalledManifest.safeParse(json);
  if (!r.success) {
    const first = r.error.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    return { kind: "invalid", problem: { code: "INSTALLED_MANIFEST_INVALID", message: `Cannot read the installed manifest ${file}: ${first}`, fix } };
  }
  // A loop, not Object.entries: a pair array per file is 100k arrays at 100k files.
  let badDigest: string | undefined;
  for (const k in r.data.files) {
    if (!SHA256.test(r.data.files[k])) {
      badDigest = k;
      break;
    }
  }
  if (badDigest !== undefined) {
    return { kind: "invalid", problem: { code: "INSTALLED_MANIFEST_INVALID", message: `Cannot read the installed manifest ${file}: files.${badDigest}: expected a sha256 hex digest`, fix } };
  }
  const unsafe = Object.keys(r.data.files).filter((k) => !isSafeRelative(k));
  if (unsafe.length) {
    return {
      kind: "invalid",
      problem: {
        code: "UNSAFE_PATH",
        message: `Cannot use the installed manifest ${file}: it lists paths outside the installation (${unsafe.slice(0, 3).map((u) => JSON.stringify(u)).join(", ")})`,
        fix,
      },
    };
  }
  return { kind: "ok", manifest: r.data };
}

/** An array index as a key: JSON puts such keys first, whatever order they were added in. */
const INDEX_KEY = /^(0|[1-9][0-9]{0,9})$/;

/** The record's keys in sorted order (the order it is written in), or null when one is an array index (see `manifestText`). */
function sortedKeys(o: Record<string, string>): string[] | null {
  const keys = Object.keys(o);
  if (keys.some((k) => INDEX_KEY.test(k) && Number(k) < 2 ** 32 - 1)) return null;
  return keys.every((k, i) => i === 0 || keys[i - 1] < k) ? keys : keys.sort();
}

/** Text pieces of about this many characters: written one by one, never the whole manifest (12 MB at 100k files) as one string. */
const PIECE = 64 * 1024;

/**
 * The manifest as `JSON.stringify(m, null, 2) + "\n"` with `files` and `stats` in key order,
 * in pieces: each record's lines are made as they are written. A record with an array-index
 * key (never a path of ours) falls back to one stringify of a sorted copy.
 */
function* manifestText(manifest: Record<string, unknown>): Generator<string> {
  const keys = Object.keys(manifest).filter((k) => manifest[k] !== undefined);
  let piece = "{";
  for (const [i, k] of keys.entries()) {
    piece += `${i ? "," : ""}\n  ${JSON.stringify(k)}: `;
    const v = manifest[k];
    const order = (k === "files" || k === "stats") && isStringRecord(v) ? sortedKeys(v as Record<string, string>) : null;
    if (!order) {
      piece += JSON.stringify(v, null, 2).replace(/\n/g, "\n  ");
      continue;
    }
    const rec = v as Record<string, string>;
    if (!order.length) piece += "{}";
    for (const [j, key] of order.entries()) {
      piece += `${j ? "," : "{"}\n    ${JSON.stringify(key)}: ${JSON.stringify(rec[key])}`;
      if (piece.length >= PIECE) {
        yield piece;
        piece = "";
      }
    }
    if (order.length) piece += "\n  }";
  }
  yield `${piece}${keys.length ? "\n" : ""}}\n`;
}

/**
 * Writes a manifest atomically through the given fs (so a dry run's guard applies): a temp
 * file written piece by piece, then renamed over the file (write.ts's temp name, swept by recovery).
 */
export function writeManifestFile(fsApi: FsApi, file: string, manifest: InstalledManifest): void {
  const { stats, ...rest } = manifest;
  const ordered: Record<string, unknown> = { ...rest, ...(stats ? { stats } : {}) };
  for (const k of ["files", "stats"]) {
    const rec = ordered[k];
    if (isStringRecord(rec) && !sortedKeys(rec as Record<string, string>)) ordered[k] = sortedCopy(rec as Record<string, string>);
  }
  writeAtomicPieces(fsApi, file, manifestText(ordered));
}

/** A record with array-index keys, copied in sorted order (as JSON will still put those keys first). */
function sortedCopy(o: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k];
  return out;
}
