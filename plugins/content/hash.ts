/**
 * Content identity: sha256 of the bytes (what the installed manifest and the backup
 * manifest record), and the binary test git uses (a NUL byte in the first 8000 bytes), so
 * that binaries are compared by hash and never text-diffed or merged. With a git base the
 * planner also wants git's own blob id, so it can compare with the base tree without
 * reading every base blob.
 */
import crypto, { createHash } from "node:crypto";
import fs from "node:fs";

/**
 * One-shot hashing (`crypto.hash`, Node ≥ 20.12 and Deno): a `Hash` object per call costs
 * more than hashing a few kilobytes, and the planner hashes every installed file twice.
 */
const oneShot: ((algorithm: string, data: string | Uint8Array) => string) | null = typeof crypto.hash === "function"
  ? (algorithm, data) => crypto.hash(algorithm, data, "hex")
  : null;

const digest = (algorithm: string, data: string | Uint8Array): string => oneShot ? oneShot(algorithm, data) : createHash(algorithm).update(data).digest("hex");

export function sha256(data: string | Uint8Array): string {
  return digest("sha256", data);
}

export function looksBinary(data: Uint8Array): boolean {
  return data.subarray(0, 8000).includes(0);
}

/** git's blob id of some bytes (`git hash-object`). */
export function gitBlobId(data: Uint8Array): string {
  return createHash("sha1").update(`blob ${data.length}\0`).update(data).digest("hex");
}

export interface FileFacts {
  hash: string;
  size: number;
  /** Binary or above the large-file threshold: compared by hash only. */
  opaque: boolean;
  /** git's blob id, when asked for. */
  oid?: string;
}

/** Hashes a file of at most `largeFileBytes` synchronously (the common case: no promise per file); null when larger. */
export function smallFileFacts(abs: string, largeFileBytes: number, withOid = false): FileFacts | null {
  const at = readSmall(abs, largeFileBytes);
  if (at < 0) return null;
  const data = scratch.subarray(HEADER_ROOM, at);
  const facts: FileFacts = { hash: sha256(data), size: data.length, opaque: looksBinary(data) };
  if (withOid) {
    // git's blob id hashes "blob <size>\0" and the bytes: the header is written just before them, one hash of one buffer.
    const header = `blob ${data.length}\0`;
    const start = HEADER_ROOM - header.length;
    scratch.write(header, start, "latin1");
    facts.oid = digest("sha1", scratch.subarray(start, at));
  }
  return facts;
}

/** Hashes one file; large files are streamed so their size does not matter. */
export async function fileFacts(abs: string, largeFileBytes: number, withOid = false): Promise<FileFacts> {
  const small = smallFileFacts(abs, largeFileBytes, withOid);
  if (small) return small;
  const size = fs.statSync(abs).size;
  const h = createHash("sha256");
  const o = withOid ? createHash("sha1").update(`blob ${size}\0`) : null;
  for await (const chunk of fs.createReadStream(abs)) {
    h.update(chunk as Buffer);
    o?.update(chunk as Buffer);
  }
  return { hash: h.digest("hex"), size, opaque: true, ...(o ? { oid: o.digest("hex") } : {}) };
}

/**
 * One buffer reused for every small file read: the planner hashes each file and lets its
 * bytes go, and a fresh buffer per file (10k–100k of them) is what made its peak memory grow
 * with the installation's size. Only synchronous code may hold its contents. A file's bytes
 * start at HEADER_ROOM, room for git's blob header ("blob " + up to 20 digits + NUL).
 */
const HEADER_ROOM = 32;
let scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * Reads the whole file into `scratch` (from HEADER_ROOM) when it is at most `limit` bytes and
 * returns where its bytes end, else -1 (one open, no separate stat). The bytes live there
 * until the next call: hash them, do not keep them.
 */
function readSmall(abs: string, limit: number): number {
  const fd = fs.openSync(abs, "r");
  try {
    const size = fs.fstatSync(fd).size;
    if (size > limit) return -1;
    if (HEADER_ROOM + size > scratch.length) scratch = Buffer.allocUnsafe(Math.max(HEADER_ROOM + size, scratch.length * 2));
    let off = HEADER_ROOM;
    while (off < HEADER_ROOM + size) {
      const n = fs.readSync(fd, scratch, off, HEADER_ROOM + size - off, off - HEADER_ROOM);
      if (n === 0) break;
      off += n;
    }
    return off;
  } finally {
    fs.closeSync(fd);
  }
}

/** Permission bits of a file (for the mode of a file the upgrade writes). */
export function modeOf(abs: string): number {
  return fs.statSync(abs).mode & 0o777;
}
