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

let bootMs: number | null | undefined;

/**
 * When a process started, in wall-clock ms, where /proc has it: boot time plus its start in
 * clock ticks. Ticks are USER_HZ, 100 on every Linux architecture we run on (the kernel's
 * ABI, whatever its internal HZ); a few ms off either way are covered by callers' margins.
 */
export function processStartedMs(pid: number): number | null {
  const ticks = Number(processStartTime(pid));
  if (!Number.isFinite(ticks) || ticks <= 0) return null;
  if (bootMs === undefined) {
    try {
      const m = /^btime (\d+)$/m.exec(host.readText("/proc/stat"));
      bootMs = m ? Number(m[1]) * 1000 : null;
    } catch {
      bootMs = null;
    }
  }
  return bootMs === null ? null : bootMs + ticks * 10;
}

/**
 * Whether a live pid is the upgrade that wrote a lock: "proven" when the lock recorded its
 * start time and command line and both still match; "gone" when it cannot be (a process
 * started after the lock was written, another command line, or — for an older or
 * hand-written lock that recorded none — a process that is not our CLI); "possible" when
 * there is no /proc to tell. A possible owner is never stolen from by an upgrade, but
 * `unlock --force` may remove its lock.
 */
export function lockOwner(pid: number, lock: { started_at?: string; pid_start?: string | null; cmdline?: string | null }): "proven" | "possible" | "gone" {
  if (!pidAlive(pid, lock.pid_start)) return "gone";
  const started = processStartedMs(pid);
  const written = Date.parse(lock.started_at ?? "");
  // The owner wrote the lock after it started; a margin covers clock steps and tick rounding.
  if (started !== null && Number.isFinite(written) && started > written + LOCK_CLOCK_MARGIN_MS) return "gone";
  const now = processCmdline(pid);
  if (now === null) return "possible";
  if (lock.cmdline) return now !== lock.cmdline ? "gone" : lock.pid_start ? "proven" : "possible";
  return /agent-os-upgrade|[/\\]app[/\\]bin\.[jt]s\b/.test(now) ? "possible" : "gone";
}

const LOCK_CLOCK_MARGIN_MS = 30_000;
