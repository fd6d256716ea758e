/**
 * What the lock file says: absent, held by a live upgrade, stale (its owner is gone) or
 * foreign (not ours). Reading only, apart from lock.ts, so that `status` reads the lock
 * without loading what takes and writes it.
 */
import type { Layout } from "./layout.ts";
import { hostname, lockOwner } from "./proc.ts";
import { host } from "./runtime.ts";

export interface LockInfo {
  session_id: string;
  pid: number;
  hostname: string;
  started_at: string;
  phase: number | null;
  /** Start time of the owner process, to tell a reused pid from the owner. */
  pid_start?: string | null;
  /** Command line of the owner, to tell a live process that is not this upgrade from the owner. */
  cmdline?: string | null;
}

export type LockStatus =
  | { kind: "absent" }
  /** `proven`: this host's owner is certainly the upgrade that wrote the lock (unlock --force leaves it). */
  | { kind: "held"; info: LockInfo; proven?: boolean }
  | { kind: "stale"; info: LockInfo }
  | { kind: "foreign"; file: string; reason: string };

function parseLock(raw: string): LockInfo | null {
  try {
    const j = JSON.parse(raw);
    if (typeof j?.session_id === "string" && Number.isInteger(j?.pid) && typeof j?.hostname === "string") return j as LockInfo;
  } catch { /* not ours */ }
  return null;
}

export function readLock(layout: Layout): LockStatus {
  if (host.exists(layout.legacyLockFile)) {
    return { kind: "foreign", file: layout.legacyLockFile, reason: "a legacy upstream lock (.upgrade_lock)" };
  }
  let raw: string;
  try {
    raw = host.readText(layout.lockFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kind: "absent" };
    throw err;
  }
  const info = parseLock(raw);
  if (!info) return { kind: "foreign", file: layout.lockFile, reason: "a lock file this tool did not write" };
  // Another host's process cannot be checked from here: treat it as live.
  if (info.hostname !== hostname()) return { kind: "held", info };
  if (info.pid === host.pid()) return { kind: "held", info, proven: true };
  const owner = lockOwner(info.pid, info);
  return owner === "gone" ? { kind: "stale", info } : { kind: "held", info, proven: owner === "proven" };
}

export function describeLock(s: LockStatus): string {
  switch (s.kind) {
    case "absent":
      return "no lock";
    case "held":
      return `session ${s.info.session_id} (pid ${s.info.pid} on ${s.info.hostname}, phase ${s.info.phase ?? "-"}, since ${s.info.started_at})`;
    case "stale":
      return `session ${s.info.session_id} (pid ${s.info.pid} is no longer running this upgrade; phase ${s.info.phase ?? "-"}, since ${s.info.started_at})`;
    case "foreign":
      return `${s.file}: ${s.reason}`;
  }
}
