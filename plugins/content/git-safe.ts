/**
 * Git on a repository that is not ours must never run a command its config names: a
 * source checkout (or the project) may set `core.fsmonitor`, hooks, filter, diff or
 * credential programs, and git runs them during ordinary reads (`status` runs the fsmonitor
 * and clean filters, `hash-object` runs clean filters, `commit` runs hooks). Every git call
 * goes through `safeGitArgs`/`safeGitEnv`:
 *
 * - fixed overrides: fsmonitor off, hooks pointed at /dev/null, pager `cat`, credential
 *   helpers reset, commit signing off (its program comes from config);
 * - the repository's own driver programs (`filter.<name>.clean|smudge|process`,
 *   `diff.<name>.command|textconv`) emptied by name, read first with `git config --list`
 *   (reading config runs nothing), once per repository and process;
 * - no system config (GIT_CONFIG_NOSYSTEM), no prompts; `safe.directory` is left alone, so a
 *   repository owned by someone else is refused by git itself.
 *
 * Our git calls never print patches (`--raw`, plumbing), so an external diff is never run.
 */
import { spawn } from "node:child_process";
import { Buffer } from "node:buffer";

export const SAFE_GIT_CONFIG: readonly string[] = [
  "core.fsmonitor=false",
  "core.hooksPath=/dev/null",
  "core.pager=cat",
  "credential.helper=",
  "commit.gpgSign=false",
];

/** The environment every git call runs with. */
export function safeGitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_CONFIG_NOSYSTEM: "1", GIT_TERMINAL_PROMPT: "0" };
  // Set by a hook or a wrapper that called us, they would aim git at another repository.
  for (const k of ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_EXTERNAL_DIFF", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT"]) delete env[k];
  return env;
}

const DRIVER = /^(filter\.(.+)\.(clean|smudge|process)|diff\.(.+)\.(command|textconv))$/;

/** `-c` overrides emptying the driver programs a repository's config defines (none when it cannot be read). */
function driverOverrides(repo: string): Promise<string[]> {
  return new Promise((resolve) => {
    const args = [...SAFE_GIT_CONFIG.flatMap((c) => ["-c", c]), "-C", repo, "config", "--null", "--list"];
    const child = spawn("git", args, { stdio: ["ignore", "pipe", "ignore"], env: safeGitEnv() });
    const out: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.on("error", () => resolve([]));
    child.on("close", () => {
      const keys = new Set<string>();
      for (const rec of Buffer.concat(out).toString("utf8").split("\0")) {
        const key = rec.slice(0, rec.indexOf("\n") < 0 ? rec.length : rec.indexOf("\n"));
        if (DRIVER.test(key)) keys.add(key);
      }
      const filters = [...keys].map((k) => /^filter\.(.+)\.[a-z]+$/.exec(k)?.[1]).filter((n): n is string => n !== undefined);
      resolve([...[...keys].map((k) => `${k}=`), ...[...new Set(filters)].map((n) => `filter.${n}.required=false`)]);
    });
  });
}

/** Read again after a while: a long-lived process (the MCP server) must see a config changed since. */
const overrides = new Map<string, { at: number; drivers: Promise<string[]> }>();
const FRESH_MS = 5_000;

/** `args` with the safe config in front; a call naming its repository with `-C <repo>` also gets that repository's drivers emptied. */
export async function safeGitArgs(args: readonly string[]): Promise<string[]> {
  let drivers: string[] = [];
  if (args[0] === "-C" && args[1]) {
    let hit = overrides.get(args[1]);
    if (!hit || Date.now() - hit.at > FRESH_MS) overrides.set(args[1], hit = { at: Date.now(), drivers: driverOverrides(args[1]) });
    drivers = await hit.drivers;
  }
  return [...[...SAFE_GIT_CONFIG, ...drivers].flatMap((c) => ["-c", c]), ...args];
}
