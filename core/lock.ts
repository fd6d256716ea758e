/**
 * The upgrade lock, `.agent-os/.upgrade-lock`. It is created complete or not at all (the
 * JSON is written to a temp file and hard-linked into place, which fails if the lock
 * exists), so a contender never reads a half-written lock. A lock whose owner is dead is
 * stale: it can be taken over by resume, rollback or `unlock --force`, under a short guard
 * file so that two contenders cannot both take it over. Only the owner releases it.
 */
import fs from "node:fs";
import path from "node:path";
import { fsyncDir, tempPathFor, writeJsonAtomic } from "./atomic.ts";
import { UpgradeError } from "./errors.ts";
import type { Layout } from "./layout.ts";
import { describeLock, type LockInfo, type LockStatus, readLock } from "./lock-status.ts";
import { hostname, pidAlive, processCmdline, processStartTime } from "./proc.ts";

export { describeLock, type LockInfo, type LockStatus, readLock } from "./lock-status.ts";

export function lockHeldError(s: LockStatus, layout: Layout): UpgradeError {
  if (s.kind === "foreign") {
    return new UpgradeError("LOCK_HELD", `Cannot take the upgrade lock: found ${s.reason} at ${s.file}`, {
      hint: "Make sure no other upgrade is running, then remove that file by hand",
      details: { lock: s },
    });
  }
  if (s.kind === "stale") {
    return new UpgradeError("LOCK_HELD", `Cannot start: an interrupted upgrade holds ${layout.lockFile}: ${describeLock(s)}`, {
      hint: "Run `agent-os-upgrade resume` to finish it or `agent-os-upgrade rollback` to undo it; `agent-os-upgrade unlock --force` discards the lock",
      details: { lock: s },
    });
  }
  const pid = s.kind === "held" ? s.info.pid : "?";
  const proven = s.kind === "held" && s.proven;
  return new UpgradeError("LOCK_HELD", `Cannot start: another upgrade is running: ${describeLock(s)} holds ${layout.lockFile}`, {
    hint: proven
      ? `Wait for pid ${pid} to finish (\`agent-os-upgrade status\` shows its progress), or stop it (\`kill ${pid}\`: it rolls back)`
      : `Wait for pid ${pid} to finish (\`agent-os-upgrade status\` shows its progress); if pid ${pid} is not an upgrade, \`agent-os-upgrade unlock --force\` removes the lock`,
    details: { lock: s },
  });
}

export interface AcquireOptions {
  /** Which stale locks may be taken over: none, only this session's (resume), or any (unlock --force, rollback). */
  takeOver: "none" | "same-session" | "any";
  phase?: number | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Lock {
  private constructor(readonly layout: Layout, readonly info: LockInfo) {}

  /** Creates the lock exclusively; throws LOCK_HELD naming the holder when it cannot. */
  static async acquire(layout: Layout, sessionId: string, opts: AcquireOptions): Promise<{ lock: Lock; tookOver: LockInfo | null }> {
    const info: LockInfo = {
      session_id: sessionId,
      pid: process.pid,
      hostname: hostname(),
      started_at: new Date().toISOString(),
      phase: opts.phase ?? null,
      pid_start: processStartTime(process.pid),
      cmdline: processCmdline(process.pid),
    };
    let tookOver: LockInfo | null = null;
    for (let attempt = 0; attempt < 50; attempt++) {
      const st = readLock(layout);
      if (st.kind === "absent") {
        if (createExclusive(layout.lockFile, info)) return { lock: new Lock(layout, info), tookOver };
        continue; // someone else won the race: look at what they wrote
      }
      if (st.kind === "foreign" || st.kind === "held") throw lockHeldError(st, layout);
      const allowed = opts.takeOver === "any" || (opts.takeOver === "same-session" && st.info.session_id === sessionId);
      if (!allowed) throw lockHeldError(st, layout);
      if (await removeStale(layout, st.info)) tookOver = st.info;
    }
    throw new UpgradeError("LOCK_HELD", `Cannot take the upgrade lock ${layout.lockFile}: it keeps changing hands`, {
      hint: "Another process is contending for it; run `agent-os-upgrade status`",
    });
  }

  /** Records the current phase in the lock, so `status` can show it. Only while we own it. */
  setPhase(phase: number): void {
    if (!this.owned()) return;
    this.info.phase = phase;
    writeJsonAtomic(this.layout.lockFile, this.info);
  }

  owned(): boolean {
    const st = readLock(this.layout);
    return (st.kind === "held" || st.kind === "stale") && st.info.session_id === this.info.session_id && st.info.pid === this.info.pid;
  }

  /** Removes the lock if (and only if) it is still ours; returns whether it did. */
  release(): boolean {
    if (!this.owned()) return false;
    fs.rmSync(this.layout.lockFile, { force: true });
    fsyncDir(path.dirname(this.layout.lockFile));
    return true;
  }
}

function createExclusive(file: string, info: LockInfo): boolean {
  const tmp = tempPathFor(file);
  fs.writeFileSync(tmp, JSON.stringify(info, null, 2) + "\n", { flag: "wx" });
  try {
    fs.linkSync(tmp, file); // atomic, and fails with EEXIST: the create-exclusive step
    fsyncDir(path.dirname(file));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Removes a stale lock under a guard file, re-checking that it is still the same stale lock. */
async function removeStale(layout: Layout, stale: LockInfo): Promise<boolean> {
  const guard = `${layout.lockFile}.takeover`;
  try {
    fs.writeFileSync(guard, String(process.pid), { flag: "wx" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    const holder = Number(fs.readFileSync(guard, "utf8").trim());
    if (!pidAlive(holder)) fs.rmSync(guard, { force: true });
    else await sleep(20);
    return false;
  }
  try {
    const now = readLock(layout);
    if (now.kind !== "stale" || now.info.session_id !== stale.session_id || now.info.pid !== stale.pid) return false;
    fs.rmSync(layout.lockFile, { force: true });
    return true;
  } finally {
    fs.rmSync(guard, { force: true });
  }
}

/**
 * `unlock --force`: the way out of any lock but one proven to belong to an upgrade running
 * on this host now (its recorded start time and command line match): stop that one first.
 */
export function forceUnlock(layout: Layout): LockStatus {
  const st = readLock(layout);
  if (st.kind === "held" && st.proven && st.info.hostname === hostname()) throw lockHeldError(st, layout);
  if (st.kind === "foreign") fs.rmSync(st.file, { force: true });
  if (st.kind === "stale" || st.kind === "held") fs.rmSync(layout.lockFile, { force: true });
  return st;
}
