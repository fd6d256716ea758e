/**
 * Process liveness, zombie-safe. `kill(pid, 0)` reports a zombie (killed, not yet reaped)
 * as alive, which would make a SIGKILLed lock owner look live forever; on Linux we read
 * /proc/<pid>/stat instead, and compare the start time to detect a reused pid.
 */
import { host } from "./runtime.ts";

interface ProcStat {
  state: string;
  startTime: string;
}

function readStat(pid: number): ProcStat | null {
  try {
    const raw = host.readText(`/proc/${pid}/stat`);
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const rest = raw.slice(raw.lastIndexOf(")") + 2).split(" ");
    return { state: rest[0], startTime: rest[19] };
  } catch {
    return null;
  }
}

const hasProc = host.isFile("/proc/self/stat");

/** The start time of a process (clock ticks since boot) where /proc has it, else null. */
export function processStartTime(pid: number): string | null {
  return hasProc ? readStat(pid)?.startTime ?? null : null;
}

/** True when the pid names a running (not zombie) process — and, if given, the same one that started at `startTime`. */
export function pidAlive(pid: number, startTime?: string | null): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (hasProc) {
    const st = readStat(pid);
    if (!st || st.state === "Z" || st.state === "X") return false;
    return !startTime || st.startTime === startTime;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export const hostname = (): string => host.hostname();

/** A process's command line (arguments joined by spaces) where /proc has it, else null. */
export function processCmdline(pid: number): string | null {
  if (!hasProc) return null;
  try {
    return host.readText(`/proc/${pid}/cmdline`).split("\0").filter(Boolean).join(" ");
  } catch {
    return null;
  }
}

/**
 * Whether a live pid is still the upgrade that wrote a lock: the same command line when the
 * lock recorded one, else (an older or hand-written lock) a JavaScript runtime or our CLI.
 * Unknown (no /proc): assume it is, never steal a live lock on a guess.
 */
export function isUpgradeProcess(pid: number, recorded?: string | null): boolean {
  const now = processCmdline(pid);
  if (now === null) return true;
  if (recorded) return now === recorded;
  return /agent-os-upgrade|\bnode\b|\bdeno\b|\bbun\b/.test(now);
}
