/**
 * A backup or rollback in its own process, to be SIGKILLed at a point the test controls:
 *
 *     backup-child.ts <backup|rollback> <projectRoot> <sessionId> <progressLabel> <pauseAt> <readyFile>
 *
 * When a progress event with that label reaches `pauseAt`, it writes `readyFile` and blocks
 * its main thread for good, mid-operation, so the kill lands exactly there.
 */
import fs from "node:fs";
import path from "node:path";
import { layoutOf } from "../../core/layout.ts";
import { harness } from "./backup-project.ts";

const [op, root, sessionId, label, pauseAt, readyFile] = process.argv.slice(2);
const layout = layoutOf(root, path.join(root, ".agent-os"));

function freeze(): never {
  fs.writeFileSync(readyFile, String(process.pid));
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(cell, 0, 0, 60000);
}

const h = harness(layout, {
  sessionId,
  onEvent: (e) => {
    if (e.type === "progress" && e.label === label && e.done >= Number(pauseAt)) freeze();
  },
});
if (op === "backup") await h.backup();
else await h.rollback();
fs.writeFileSync(readyFile + ".finished", "not killed");
