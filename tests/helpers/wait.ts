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
