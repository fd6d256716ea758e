/**
 * The one way tests make temp folders: `aou-<label>-XXXXXX` in the temp dir, each removed
 * when the test process exits (uvu runs every suite in one process) or earlier by
 * `removeTemps()`. tests/run.ts fails the run when an `aou-*` folder is left behind.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const made: string[] = [];

export function removeTemps(): void {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

process.once("exit", removeTemps);

/** A new empty folder `aou-<label>-XXXXXX` under the temp dir, removed at exit. */
export function tmpDir(label = "test"): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `aou-${label}-`));
  made.push(d);
  return d;
}
