/**
 * A whole upgrade in its own process, for signal tests:
 *
 *     backup-e2e-child.ts <projectRoot> <failIn: 2|3|4|sigterm3|none> <readyFile> [<progressLabel> <pauseAt>]
 *
 * With a progress label it freezes (readyFile written) when that progress reaches pauseAt,
 * to be SIGKILLed there; with `sigterm3` phase 3 writes readyFile and waits for the signal.
 * The upgrader handles SIGINT/SIGTERM as the CLI does. Prints the result as JSON.
 */
import fs from "node:fs";
import path from "node:path";
import { layoutOf } from "../../core/layout.ts";
import { type FailIn, upgrade } from "./backup-upgrade.ts";

const [root, fail, readyFile, label, pauseAt] = process.argv.slice(2);
const failIn = (fail === "none" ? null : fail === "sigterm3" ? "sigterm3" : Number(fail)) as FailIn;
const project = { root, layout: layoutOf(root, path.join(root, ".agent-os")) };

const result = await upgrade(project, failIn, {
  handleSignals: true,
  readyFile,
  onEvent: (e) => {
    if (label && e.type === "progress" && e.label === label && e.done >= Number(pauseAt)) {
      fs.writeFileSync(readyFile, String(process.pid));
      const cell = new Int32Array(new SharedArrayBuffer(4));
      for (;;) Atomics.wait(cell, 0, 0, 60000);
    }
  },
});
console.log(JSON.stringify(result));
process.exit(result.exit_code);
