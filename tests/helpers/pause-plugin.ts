/**
 * A test plugin that holds a real upgrade in the middle of a phase until the test lets it
 * go: after the real taps of `backup` (phase 1), `applyContent` (phase 2) and
 * `upgradeServer` (phase 3) it writes `<dir>/reached-<hook>` (the pid) and waits for
 * `<dir>/go-<hook>`. A kill test can then kill processes at an exact moment.
 */
import fs from "node:fs";
import path from "node:path";
import { definePlugin } from "../../core/plugin.ts";

export const PAUSE_HOOKS = ["backup", "applyContent", "upgradeServer"] as const;
export type PauseHook = (typeof PAUSE_HOOKS)[number];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function pausePlugin(dir: string) {
  const hold = async (hook: PauseHook) => {
    fs.writeFileSync(path.join(dir, `reached-${hook}`), String(process.pid));
    while (!fs.existsSync(path.join(dir, `go-${hook}`))) await sleep(50);
  };
  return definePlugin({
    name: "test-pause",
    apply(hooks) {
      hooks.backup.tap({ stage: 100 }, () => hold("backup"));
      hooks.applyContent.tap({ stage: 100 }, () => hold("applyContent"));
      hooks.upgradeServer.tap({ stage: 100 }, () => hold("upgradeServer"));
    },
  });
}
