/**
 * A test plugin for tests/reliability-signal.test.ts: its `validate` tap (the hook runs its
 * taps in parallel) waits until the validate plugin wrote its report — the MCP check has
 * passed — then writes AOU_PAUSE_FILE (its pid) and holds phase 4 until AOU_RELEASE_FILE exists.
 */
import fs from "node:fs";
import path from "node:path";
import { definePlugin } from "../../core/plugin.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export default definePlugin({
  name: "after-check-pause",
  apply(hooks) {
    hooks.validate.tapPromise(async (ctx) => {
      const reported = () => fs.existsSync(ctx.layout.cacheDir) && fs.readdirSync(ctx.layout.cacheDir).some((n) => n.startsWith("upgrade-validation-"));
      while (!reported()) await sleep(20);
      await sleep(200); // the probe server stopped, the evidence recorded
      fs.writeFileSync(process.env.AOU_PAUSE_FILE!, String(process.pid));
      while (!fs.existsSync(process.env.AOU_RELEASE_FILE!)) await sleep(20);
    });
  },
});
