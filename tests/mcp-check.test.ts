/**
 * `upgrade_check` (issue 19, item 7): the check as a read-only MCP tool, on the
 * `--read-only` server, through the official client over stdio. Same answers as the
 * command: update_available with the files, up_to_date after the upgrade (from the source
 * VERSION.txt records), unknown when it cannot tell; it writes nothing.
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { runCli } from "./helpers/cli.ts";
import { removeTemps } from "./helpers/content-project.ts";
import { makeFleet, QUICK } from "./helpers/fleet-project.ts";
import { connectUpgradeServer, type UpgradeServer } from "./helpers/mcp-upgrade-project.ts";

const test = suite("mcp-check");
const servers: UpgradeServer[] = [];
const OPTS = { timeout: 120_000 };

// deno-lint-ignore no-explicit-any
type Any = any;

async function call(s: UpgradeServer, args: Record<string, unknown>): Promise<{ sc: Any; text: string; isError: boolean }> {
  const r = await s.client.callTool({ name: "upgrade_check", arguments: args }, undefined, OPTS);
  // The first block is what a model reads; the second is the JSON.
  const text = (r.content as Array<{ text?: string }>)[0].text ?? "";
  return { sc: r.structuredContent, text, isError: Boolean(r.isError) };
}

test("upgrade_check on the --read-only server: update_available with the files, unknown when it cannot tell, up_to_date after the upgrade", async () => {
  const f = makeFleet("mcpcheck");
  const s = await connectUpgradeServer(f.project, ["--read-only"], f.env);
  servers.push(s);
  const { tools } = await s.client.listTools();
  const tool = tools.find((t) => t.name === "upgrade_check");
  assert.is(tool?.annotations?.readOnlyHint, true);
  const before = snapshotTree(f.project, { mtime: true });

  const behind = await call(s, { source: f.url });
  assert.is(behind.isError, false, behind.text);
  assert.is(behind.sc.status, "update_available");
  assert.is(behind.sc.exit_code, 2);
  assert.equal(behind.sc.installed, { commit: f.commits[0], via: "VERSION.txt" });
  assert.is(behind.sc.available.commit, f.commits[1]);
  assert.ok(behind.sc.changes.some((c: Any) => c.path === ".agent-os/mcp_server/__init__.py" && c.action === "update"));
  assert.is(behind.text.split("\n")[0], `update_available: Update available: ${f.commits[0].slice(0, 12)} → ${f.commits[1].slice(0, 12)}, ${behind.sc.changes.length} files would change`);
  assert.match(behind.text, "  update   .agent-os/mcp_server/__init__.py");

  const gone = pathToFileURL(path.join(f.root, "nowhere.git")).href;
  const unreachable = await call(s, { source: gone });
  assert.is(unreachable.sc.status, "unknown");
  assert.is(unreachable.sc.exit_code, 1);
  assert.ok(unreachable.sc.reason.startsWith(`Cannot tell: Cannot fetch the source ${gone}: `), unreachable.sc.reason);
  const none = await call(s, {});
  assert.is(none.sc.status, "unknown");
  assert.is(none.sc.reason, "Cannot tell: no source given and none recorded; call upgrade_check with source (a git URL or a clone's path)");
  assert.equal(diffTrees(before, snapshotTree(f.project, { mtime: true })), [], "the tool writes nothing");

  const up = await runCli(["--source", f.url, ...QUICK], { cwd: f.project, env: f.env, timeoutMs: 120_000 });
  assert.is(up.code, 0, up.stderr);
  const after = await call(s, {});
  assert.is(after.sc.status, "up_to_date", after.text);
  assert.is(after.sc.exit_code, 0);
  assert.equal(after.sc.source.url, f.url);
  assert.equal(after.sc.changes, []);
  assert.is(after.text.split("\n").pop(), "next: Nothing to do");
});

test.after(async () => {
  for (const s of servers) await s.close().catch(() => {});
  removeTemps();
});
test.run();
