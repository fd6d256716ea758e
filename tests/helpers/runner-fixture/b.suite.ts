// A suite for tests/reliability-runner.test.ts: a pass, a failure, then a test that never
// ends (only when that test asks for it), so tests/run.ts must kill the run at its limit.
import { suite } from "uvu";
import * as assert from "uvu/assert";

const test = suite("runner-b");
test("passes", () => assert.ok(true));
test("fails", () => assert.ok(false, "on purpose"));
test("hangs", () => new Promise<void>((resolve) => {
  if (!process.env.AOU_RUNNER_FIXTURE_HANG) resolve();
  else setInterval(() => {}, 1000); // keeps the process alive: it never ends
}));
test.run();
