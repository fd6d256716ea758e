import { test } from "uvu";
import * as assert from "uvu/assert";
test("runtime", () => { assert.ok(typeof process.version === "string"); });
test.run();
