// A suite for tests/reliability-runner.test.ts (not run by the suite itself): two passes.
import { suite } from "uvu";
import * as assert from "uvu/assert";

const test = suite("runner-a");
test("one", () => assert.ok(true));
test("two", () => assert.ok(true));
test.run();
