/**
 * What every recovery (resume, rollback, the next upgrade once it holds the lock) clears
 * first: the debris of a killed run. Temp files of dead writers anywhere we write (the
 * installation, `.gitignore`'s folder, `.cursor/`), their scratch folders in the temp dir and
 * /dev/shm, and a takeover guard whose holder died. Never a live writer's file.
 */
import fs from "node:fs";
import path from "node:path";
import { sweepDebris } from "./atomic.ts";
import type { Layout } from "./layout.ts";
import { Lock, type LockInfo, readLock } from "./lock.ts";
import type { StateStore } from "./state.ts";
import { pidAlive } from "./proc.ts";

/** Folders of the installation we never write into, so never walk (they can be large). */
const NOT_OURS = new Set(["venv", ".backups", "node_modules", ".git"]);

export function sweepProject(layout: Layout): string[] {
  const removed = sweepDebris(
    // A backup's own records (its manifest, its progress file) sit at the top of its folder.
    [[layout.installDir, 64], [layout.backupsDir, 1], [layout.projectRoot, 0], [path.dirname(layout.mcpJson), 0]],
    (dir) => path.dirname(dir) === layout.installDir && NOT_OURS.has(path.basename(dir)),
  );
  const guard = `${layout.lockFile}.takeover`;
  try {
    if (!pidAlive(Number(fs.readFileSync(guard, "utf8").trim()))) {
      fs.rmSync(guard, { force: true });
      removed.push(guard);
    }
  } catch { /* no guard */ }
  return removed;
}

/**
 * A stale lock whose session file was never written: its owner died between taking the lock
 * and recording the session, before anything was changed. Releases it (through the guarded
 * takeover, so a live contender is never robbed) and returns what it held; else null.
 */
export async function clearOrphanLock(layout: Layout, store: StateStore): Promise<LockInfo | null> {
  const st = readLock(layout);
  if (st.kind !== "stale" || fs.existsSync(store.fileOf(st.info.session_id))) return null;
  const took = await Lock.acquire(layout, st.info.session_id, { takeOver: "same-session" });
  took.lock.release();
  sweepProject(layout);
  return st.info;
}
