/**
 * Writing through the context's fs: every content write goes through `ctx.fs`, so in a dry
 * run the guard throws before anything reaches the disk. Files are replaced by a temp file
 * and a rename in the same folder: a reader (or a crash) sees the old or the new bytes,
 * never half of each. The temp name is core/atomic.ts's, so recovery sweeps it.
 */
import path from "node:path";
import { tempPathFor } from "../../core/atomic.ts";
import type { FsApi } from "../../core/types.ts";

export function writeAtomicVia(fsApi: FsApi, file: string, data: string | Uint8Array, mode?: number): void {
  viaTemp(fsApi, file, (tmp) => {
    fsApi.writeFileSync(tmp, data, mode === undefined ? undefined : { mode });
    // writeFile's mode is filtered by the umask; the installed file must have the source's bits.
    if (mode !== undefined) fsApi.chmodSync(tmp, mode);
  });
}

/** `writeAtomicVia` of a text made piece by piece: the pieces are written as they come, never joined. */
export function writeAtomicPieces(fsApi: FsApi, file: string, pieces: Iterable<string>): void {
  viaTemp(fsApi, file, (tmp) => {
    const fd = fsApi.openSync(tmp, "w");
    try {
      for (const piece of pieces) {
        const bytes = Buffer.from(piece, "utf8");
        for (let off = 0; off < bytes.length;) off += fsApi.writeSync(fd, bytes, off, bytes.length - off);
      }
    } finally {
      fsApi.closeSync(fd);
    }
  });
}

/** `write` fills the temp file beside `file`, which then replaces it; on any failure the temp file is removed. */
function viaTemp(fsApi: FsApi, file: string, write: (tmp: string) => void): void {
  fsApi.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tempPathFor(file);
  try {
    write(tmp);
    fsApi.renameSync(tmp, file);
  } catch (err) {
    try {
      fsApi.rmSync(tmp, { force: true });
    } catch { /* a dry run's guard refuses this too; nothing was created then */ }
    throw err;
  }
}
