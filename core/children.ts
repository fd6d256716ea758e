/**
 * Children die with us. A SIGKILL of the upgrade cannot be caught, and its children (pip
 * above all, which keeps writing into the venv; an MCP server probed over stdio that is
 * still starting and not yet reading its stdin) would live on as orphans. `tiedToUs` wraps a
 * command in a small POSIX shell guard that runs it in its own process group and kills
 * that group as soon as this process is gone (dead or a zombie), or when the guard itself is
 * stopped (a timeout, a signal). Linux only (it reads /proc); elsewhere the command runs as is.
 */
import fs from "node:fs";

const GUARD = [
  'parent=$1; shift',
  'gone() { [ ! -r /proc/$1/stat ] || grep -q ") [ZX] " /proc/$1/stat 2>/dev/null; }',
  // setsid: the command leads its own group, so pip's own children go with it. A command
  // put in the background gets /dev/null as stdin: fd 3 hands it ours (an MCP server over
  // stdio talks through it).
  'exec 3<&0',
  'setsid "$@" 0<&3 3<&- &',
  'child=$!',
  'exec 3<&-',
  // The watcher polls for our death on the side, so a short command (git) ends as soon as
  // it is done instead of at the next poll.
  '( while ! gone $parent && ! gone $child; do sleep 0.2; done; gone $child || kill -KILL -$child ) </dev/null >/dev/null 2>&1 &',
  'watcher=$!',
  // Stopped ourselves (a timeout): take the group along, then die of the same signal.
  'for s in INT TERM HUP; do trap "kill -KILL -$child 2>/dev/null; kill $watcher 2>/dev/null; trap - $s; kill -$s \\$\\$" $s; done',
  'wait $child',
  'rc=$?',
  'kill $watcher 2>/dev/null',
  'exit $rc',
].join("\n");

const hasProc = (() => {
  try {
    return fs.statSync("/proc/self/stat").isFile();
  } catch {
    return false;
  }
})();

const hasSetsid = ["/usr/bin/setsid", "/bin/setsid"].some((p) => fs.existsSync(p));

/** The command line that runs `command` as a child that dies with this process. */
export function tiedToUs(command: readonly string[]): string[] {
  if (!hasProc || !hasSetsid) return [...command];
  return ["sh", "-c", GUARD, "aou-guard", String(process.pid), ...command];
}
