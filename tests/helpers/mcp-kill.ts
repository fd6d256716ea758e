/**
 * What the kill tests (mcp-kill, mcp-kill-all) share: one upgrade project held by the pause
 * plugin, the MCP servers a test starts on it (their TMPDIR under the project's root, where
 * a new server's sweep of the killed ones' folders shows), and an `after` hook that releases
 * every hold, closes the servers and removes the folder.
 */
import fs from "node:fs";
import path from "node:path";
import type { Test } from "uvu";
import { connectUpgradeServer, createUpgradeProject, type UpgradeProject, type UpgradeServer, waitForFile } from "./mcp-upgrade-project.ts";
import { PAUSE_HOOKS, type PauseHook } from "./pause-plugin.ts";

/** Options of a tool call that may wait for a whole upgrade. */
export const CALL_OPTS = { timeout: 180_000 };

export interface KillBench {
  /** The project, once the suite's `before` hook has run. */
  readonly p: UpgradeProject;
  /** A new MCP server on the project, connected; closed after the suite. */
  server(): Promise<UpgradeServer>;
  /** Resolves with the upgrade's pid once it holds at `hook`. */
  reached(hook: PauseHook): Promise<string>;
  /** Lets the upgrade go on past `hook`. */
  go(hook: PauseHook): void;
}

/** Sets up and tears down the bench on `test`'s before and after hooks. */
export function killBench(test: Test): KillBench {
  let p: UpgradeProject | undefined;
  const servers: UpgradeServer[] = [];
  const project = () => {
    if (!p) throw new Error("the kill bench is used before its suite's before hook ran");
    return p;
  };
  const go = (hook: PauseHook) => fs.writeFileSync(path.join(project().pauseDir, `go-${hook}`), "");

  test.before(async () => {
    p = await createUpgradeProject({ pause: true });
    fs.mkdirSync(path.join(p.root, "tmp"));
  });
  test.after(async () => {
    if (!p) return;
    for (const hook of PAUSE_HOOKS) go(hook);
    for (const s of servers) await s.close().catch(() => {});
    p.cleanup();
  });

  return {
    get p() {
      return project();
    },
    async server() {
      const s = await connectUpgradeServer(project().project, [], { TMPDIR: path.join(project().root, "tmp") });
      servers.push(s);
      return s;
    },
    reached: (hook) => waitForFile(path.join(project().pauseDir, `reached-${hook}`)),
    go,
  };
}
