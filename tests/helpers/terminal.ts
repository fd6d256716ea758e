/**
 * A real terminal for prompt tests: a private tmux server (its own socket) running one shell
 * line in session "t", read back by `capture-pane`. `hasTmux` is false where tmux is missing.
 */
import { execFileSync } from "node:child_process";

export const hasTmux = (() => {
  try {
    execFileSync("tmux", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** Single-quotes an argument for the shell line. */
export const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function terminal(label: string) {
  const socket = `aou-${label}-${process.pid}`;
  const tmux = (...args: string[]) => execFileSync("tmux", ["-L", socket, ...args], { encoding: "utf8" });
  const screen = () => tmux("capture-pane", "-p", "-t", "t");
  /** The screen once it matches, polling; the last screen in the error on a timeout. */
  async function waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<string> {
    const t0 = Date.now();
    let last = "";
    while (Date.now() - t0 < timeoutMs) {
      last = screen();
      if (pattern.test(last)) return last;
      await sleep(200);
    }
    throw new Error(`Timed out waiting for ${pattern} on the terminal:\n${last}`);
  }
  return { tmux, screen, waitFor };
}
