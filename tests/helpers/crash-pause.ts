/**
 * A test plugin that pauses one hook of a real upgrade until a file exists: it writes
 * AOU_PAUSE_FILE (its pid) when reached, then waits for AOU_RELEASE_FILE. Used to deliver a
 * signal while the upgrade is in phase 4 (`validate`) or phase 5 (`cleanup`), or to change a
 * file between phase 1 and phase 2's writes (`applyContent`).
 */
import fs from "node:fs";
import { definePlugin } from "../../core/plugin.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pause(hook: string): Promise<void> {
  if (process.env.AOU_PAUSE_AT !== hook) return;
  fs.writeFileSync(process.env.AOU_PAUSE_FILE!, String(process.pid));
  while (!fs.existsSync(process.env.AOU_RELEASE_FILE!)) await sleep(20);
}

export default definePlugin({
  name: "crash-pause",
  apply(hooks) {
    hooks.applyContent.tapPromise({ stage: -100 }, () => pause("applyContent"));
    hooks.validate.tapPromise(() => pause("validate"));
    hooks.cleanup.tapPromise({ stage: -100 }, () => pause("cleanup"));
  },
});
