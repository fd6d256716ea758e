/**
 * Content identity: sha256 of the bytes (what the installed manifest and the backup
 * manifest record), and the binary test git uses (a NUL byte in the first 8000 bytes), so
 * that binaries are compared by hash and never text-diffed or merged.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";

export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

export function looksBinary(data: Uint8Array): boolean {
  const n = Math.min(data.length, 8000);
  for (let i = 0; i < n; i++) if (data[i] === 0) return true;
  return false;
}

export interface FileFacts {
  hash: string;
  size: number;
  /** Binary or above the large-file threshold: compared by hash only. */
  opaque: boolean;
  mode: number;
}

/** Hashes one file; large files are streamed so their size does not matter. */
export async function fileFacts(abs: string, largeFileBytes: number): Promise<FileFacts> {
  const st = fs.statSync(abs);
  if (st.size <= largeFileBytes) {
    const data = fs.readFileSync(abs);
    return { hash: sha256(data), size: st.size, opaque: looksBinary(data), mode: st.mode & 0o777 };
  }
  const h = createHash("sha256");
  for await (const chunk of fs.createReadStream(abs)) h.update(chunk as Buffer);
  return { hash: h.digest("hex"), size: st.size, opaque: true, mode: st.mode & 0o777 };
}
