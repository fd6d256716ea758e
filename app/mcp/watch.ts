/**
 * Waiting for a run this server did not start (or started before a restart): the only link
 * to it is the records on disk, so we poll the lock and the session file until the run's
 * process is gone, reporting each phase it enters.
 */
import type { Layout } from "../../core/layout.ts";
import { readLock } from "../../core/lock.ts";
import { PHASE_NAMES, type Phase } from "../../core/phases.ts";
import { pidAlive } from "../../core/proc.ts";
import { loadSession } from "./session.ts";

export interface WaitOptions {
  signal?: AbortSignal;
  onPhase?: (phase: number, name: string) => void;
  pollMs?: number;
}

/** True while the session's lock is held by a live process (or, without a lock, its own process lives). */
function stillRunning(layout: Layout, sessionId: string): boolean {
  const lock = readLock(layout);
  if (lock.kind === "held") return lock.info.session_id === sessionId;
  const s = loadSession(layout, sessionId);
  return Boolean(s && (s.status === "in_progress" || s.status === "rolling_back") && lock.kind === "absent" && pidAlive(s.pid));
}

/** Resolves once the session's run has ended (or the signal aborts). */
export async function waitWhileRunning(layout: Layout, sessionId: string, opts: WaitOptions = {}): Promise<void> {
  let seen: string | null = null;
  while (!opts.signal?.aborted && stillRunning(layout, sessionId)) {
    const s = loadSession(layout, sessionId);
    const key = s ? `${s.status}:${s.current_phase}` : null;
    if (s && key !== seen && s.current_phase !== null) {
      seen = key;
      opts.onPhase?.(s.current_phase, s.status === "rolling_back" ? "rolling back" : PHASE_NAMES[s.current_phase as Phase]);
    }
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 300));
  }
}
