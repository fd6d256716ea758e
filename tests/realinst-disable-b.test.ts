// disable: ["user-files"], ["server"], ["migrate"] on a real install (see helpers/realinst-disable.ts).
import fs from "node:fs";
import * as assert from "uvu/assert";
import { test } from "uvu";
import { completesWithout } from "./helpers/realinst-disable.ts";

completesWithout("user-files", "phase 4 has no user-file digest check", async (r) => {
  await r.serverIs("v2");
  assert.is(r.ev(4).user_files_unchanged, undefined);
  assert.is(r.result.validation, "passed");
});

completesWithout("server", "the content is upgraded, the old server code stays and still validates", async (r) => {
  await r.serverIs("v1");
  assert.ok(r.contentUpgraded(), "content upgraded");
  // The migration looks at the installed server: v1 takes no --transport, so mcp.json is left alone.
  assert.is(fs.readFileSync(r.p.mcpJson, "utf8"), r.mcpJsonBefore);
  assert.is(r.result.validation, "passed");
});

completesWithout("migrate", "mcp.json is left as it was", async (r) => {
  await r.serverIs("v2");
  assert.is(fs.readFileSync(r.p.mcpJson, "utf8"), r.mcpJsonBefore);
  assert.is(r.ev(3).migrations, undefined);
  assert.is(r.result.validation, "passed");
});

test.run();
