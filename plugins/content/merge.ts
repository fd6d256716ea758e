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
import type { ResolvedBase } from "./base.ts";
import { runGit } from "./gitobj.ts";
import { sha256 } from "./hash.ts";
import { insideJoin } from "./paths.ts";
import type { ContentEntry } from "./plan.ts";

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

export interface SettleRequest {
  base: Pick<ResolvedBase, "contents">;
  installDir: string;
  sourceRoot: string;
  signal?: AbortSignal;
}

/** Who decided for a file in its own name (`--decisions`, a config rule): that wins over a clean merge; a run-wide policy does not. */
const perFile = (by: string | undefined) => by === "decision" || (by?.startsWith("rule:") ?? false);

/**
 * SPEC §5.2's merged row, as git does it: every text file changed on both sides is merged in
 * the plan; a clean merge becomes a `merge` entry (no question, no policy) unless a per-file
 * decision names it; only an unclean one stays a conflict. Each is marked `three_way`.
 */
export async function settleBothChanged(entries: ContentEntry[], req: SettleRequest): Promise<void> {
  const both = entries.filter((e) => e.action === "conflict" && e.conflict === "both-changed");
  for (const e of both) if (e.opaque) e.three_way = "conflict";
  const text = both.filter((e) => !e.opaque);
  if (text.length === 0) return;
  const bases = await req.base.contents(text.map((e) => e.target));
  let next = 0;
  const worker = async () => {
    while (next < text.length) {
      const e = text[next++];
      const base = bases.get(e.target);
      if (!base) {
        e.three_way = "conflict"; // no base bytes: nothing to merge against
        continue;
      }
      const local = fs.readFileSync(insideJoin(req.installDir, e.target));
      const theirs = fs.readFileSync(insideJoin(req.sourceRoot, e.source!));
      const m = await mergeFile(local, base, theirs, req.signal);
      e.three_way = m.clean ? "clean" : "conflict";
      if (!m.clean || perFile(e.decided_by)) continue;
      e.action = "merge";
      e.reason = "changed locally and upstream; merges cleanly";
      e.merged_hash = sha256(m.content);
      delete e.decision;
      delete e.decided_by;
    }
  };
  // A few git processes at a time: most plans have a handful of such files, some have hundreds.
  await Promise.all(Array.from({ length: Math.min(4, text.length) }, worker));
}
