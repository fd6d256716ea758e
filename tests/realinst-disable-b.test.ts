// disable: ["user-files"], ["server"], ["migrate"] on a real install (see helpers/realinst-disable.ts).
import fs from "node:fs";
import path from "node:path";
import * as assert from "uvu/assert";
import { test } from "uvu";
import { completesWithout, warnsOnce } from "./helpers/realinst-disable.ts";
import { realProject, realUpgrade } from "./helpers/realinst.ts";
import { snapshotTree } from "../demo/kit/tree.ts";

completesWithout("user-files", "phase 4 has no user-file digest check, one warning says so", async (r) => {
  await r.serverIs("v2");
  assert.is(r.ev(4, "user-files"), undefined);
  assert.is(r.result.validation, "passed");
  warnsOnce(r, `The "user-files" plugin is disabled: your own files`);
});

completesWithout("server", "the content is upgraded, the old server code stays and still validates; deps installs nothing for it", async (r) => {
  await r.serverIs("v1");
  assert.ok(r.contentUpgraded(), "content upgraded");
  // The migration looks at the installed server: v1 takes no --transport, so mcp.json is left alone.
  assert.is(fs.readFileSync(r.p.mcpJson, "utf8"), r.mcpJsonBefore);
  assert.equal(r.ev(3, "deps")!.deps, { status: "skipped", pip_check_ok: null, reason: "the server is not upgraded in this run (no plugin swaps it)" });
  assert.is(r.result.validation, "passed");
});

test(`disable: ["migrate"] with a new server that needs --transport: not "healthy": the IDE's entry cannot start it, rolled back exactly`, async () => {
  const p = await realProject();
  try {
    const before = snapshotTree(p.project, { skip: (rel: string) => rel.startsWith(".agent-os/.backups") || rel.startsWith(".agent-os/.cache") });
    const result = await realUpgrade(p, { disable: ["migrate"] });
    assert.is(result.status, "rolled_back", JSON.stringify(result.error));
    assert.is(result.exit_code, 7);
    const stale = result.findings.find((f) => f.code === "LAUNCH_ENTRY_STALE");
    assert.ok(stale, JSON.stringify(result.findings));
    assert.is(stale!.message, `The IDE cannot start the new MCP server: Cursor's launch entry "agent-os-rag" in ${path.join(".cursor", "mcp.json")} has no --transport, which the new server requires`);
    assert.equal(snapshotTree(p.project, { skip: (rel: string) => rel.startsWith(".agent-os/.backups") || rel.startsWith(".agent-os/.cache") }), before);
  } finally {
    p.cleanup();
  }
});

test.run();
