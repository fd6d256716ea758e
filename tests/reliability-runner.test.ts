/**
 * Issue 20 item 9: `tests/run.ts` killed at its limit counts what ran. A real run of two
 * fixture suites (2 passes; then a pass, a failure and a test that never ends), killed at a
 * 20 s limit: the closing line is `3 passed, 2 failed, 0 skipped` (the failure and the kill),
 * not `0 passed, 1 failed`; and exit 1.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { REPO } from "./helpers/cli.ts";

const test = suite("reliability-runner");

function runRunner(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const node = process.execPath.includes("deno") ? "node" : process.execPath;
  const child = spawn(node, ["--import", "tsx", path.join(REPO, "tests/run.ts"), "node", "runner-fixture/[ab]\\.suite\\.ts$"], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (out += b.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out })));
}

test("killed at its limit: the closing line counts the suites that ended and the marks of the one cut off", async () => {
  const r = await runRunner({ AOU_TEST_LIMIT_MS: "20000", AOU_RUNNER_FIXTURE_HANG: "1" });
  assert.is(r.code, 1, r.out);
  const lines = r.out.trim().split("\n");
  assert.is(lines[lines.length - 1], "3 passed, 2 failed, 0 skipped", r.out);
  assert.ok(lines.includes("node: the test run passed its limit of 0.3333333333333333 min and was killed (counted as one more failure)"), r.out);
});

test("not killed: uvu's own totals, as before", async () => {
  const r = await runRunner({});
  assert.is(r.code, 1, r.out);
  const lines = r.out.trim().split("\n");
  assert.is(lines[lines.length - 1], "4 passed, 1 failed, 0 skipped", r.out);
});

test.run();
