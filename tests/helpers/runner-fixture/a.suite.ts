// A suite for tests/reliability-runner.test.ts (not run by the suite itself): two passes, in
// uvu's default (unnamed) suite, whose progress line has no name.
import { test } from "uvu";
import * as assert from "uvu/assert";

test("one", () => assert.ok(true));
test("two", () => assert.ok(true));
test.run();
