/**
 * Three-way merge with `git merge-file`: the tool git itself uses, so a merged file is
 * exactly what a user would get from git. The three inputs go to scratch files in the OS
 * temp folder (never in the project); the result comes back on stdout, read as bytes.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { scratchPrefix } from "../../core/atomic.ts";
import { UpgradeError } from "../../core/errors.ts";
import { runGit } from "./gitobj.ts";

/** Marker labels: `<<<<<<< local`, `||||||| base`, `>>>>>>> upstream`. */
export const MERGE_LABELS = ["local", "base", "upstream"] as const;

export interface MergeResult {
  content: Buffer;
  clean: boolean;
  /** Conflict hunks left with markers (git caps the count at 127). */
  conflicts: number;
}

/** Merges upstream's change (base → theirs) into local; a null base merges against an empty file. */
export async function mergeFile(local: Uint8Array, base: Uint8Array | null, theirs: Uint8Array, signal?: AbortSignal): Promise<MergeResult> {
  const dir = fs.mkdtempSync(scratchPrefix(os.tmpdir(), "merge"));
  try {
    const [l, b, t] = ["local", "base", "upstream"].map((n) => path.join(dir, n));
    fs.writeFileSync(l, local);
    fs.writeFileSync(b, base ?? new Uint8Array());
    fs.writeFileSync(t, theirs);
    const r = await runGit(["merge-file", "-p", "-L", MERGE_LABELS[0], "-L", MERGE_LABELS[1], "-L", MERGE_LABELS[2], l, b, t], { signal });
    const code = r.code;
    // git exits with the number of conflicts, or with a negative value (255) when it cannot merge.
    if (code < 0 || code > 127) {
      throw new UpgradeError("CONTENT_FAILED", `Cannot merge with git merge-file: ${r.stderr.trim() || `exit ${code}`}`, {
        hint: "Choose keep or theirs for this file, or merge it by hand",
      });
    }
    return { content: r.stdout, clean: code === 0, conflicts: code };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
