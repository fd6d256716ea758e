import fs from "node:fs";

/** Polls until a file exists (a child process reached a point), or fails after a deadline (generous: on a loaded shared machine a CLI child may take 30 s to start). */
export async function waitForFile(file: string, timeoutMs = 120_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (fs.existsSync(file)) return fs.readFileSync(file, "utf8");
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${file}`);
}

/**
 * A pid a child writes to `file`: waited for until the file holds a number, since a writer's
 * `writeFileSync` creates the file before it writes, and a reader in between sees it empty.
 */
export async function waitForPid(file: string, timeoutMs = 120_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const pid = Number(fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim() : "");
    if (Number.isInteger(pid) && pid > 0) return pid;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for a pid in ${file}`);
}
