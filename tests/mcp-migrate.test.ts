/**
 * Issue 23 through MCP, as an assistant runs it with the official client over real stdio:
 * upgrade_plan with migrate lists the move and each file that names `.agent-os/` with its
 * diff; upgrade_start with migrate and the user's decisions completes; the same server (its
 * installation folder renamed meanwhile) reports the session, and upgrade_rollback gives the
 * project back byte for byte, with no `.praxis-os/` left.
 */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { connectUpgradeServer, type UpgradeServer } from "./helpers/mcp-upgrade-project.ts";
import { CURSORRULES, type MigrateProject, migrateProject, SPEC } from "./helpers/migrate-project.ts";
import { removeTemps } from "./helpers/temp.ts";

const test = suite("mcp-migrate");
let p: MigrateProject;
let srv: UpgradeServer | undefined;

test.before(async () => {
  p = await migrateProject();
});

test.after(async () => {
  await srv?.close();
  removeTemps();
});

// deno-lint-ignore no-explicit-any
type Any = any;
const OPTS = { timeout: 240_000 };

async function call(name: string, args: Record<string, unknown>): Promise<{ data: Any; text: string }> {
  const r = await srv!.client.callTool({ name, arguments: args }, undefined, OPTS);
  assert.is(r.isError, undefined, JSON.stringify(r.content));
  return { data: r.structuredContent, text: (r.content as { text: string }[])[0].text };
}

// Our records (state, backups, logs) are not the project; everything else must come back.
const OURS = /^\.(agent|praxis)-os\/(\.backups|\.cache|\.upgrade-lock)(\/|$)/;
const projectTree = () => snapshotTree(p.project, { skip: (rel) => OURS.test(rel) });

test("plan, decisions, start, completed; then rollback to the project as it was", async () => {
  srv = await connectUpgradeServer(p.project);
  const before = projectTree();
  const plan = await call("upgrade_plan", { source: p.source, migrate: true });
  assert.equal(plan.data.layout, { source: "praxis-os-2025-10", install: "agent-os-enhanced", move: { from: p.install, to: path.join(p.project, ".praxis-os") } });
  assert.match(plan.text, `Migration: ${p.install} → ${path.join(p.project, ".praxis-os")}`);
  assert.match(plan.text, "Names the old installation: .cursorrules (2 lines): needs a decision");
  assert.match(plan.text, "+Before coding, search the standards: call pos_search_standards");
  assert.match(plan.text, `Names the old installation: .agent-os/${p.spec} (1 line): needs a decision`);
  assert.equal(diffTrees(before, projectTree()), [], "the plan wrote nothing");

  const decisions = { [p.edited]: "merge", ".cursorrules": "theirs", [`.agent-os/${p.spec}`]: "keep" };
  const up = await call("upgrade_start", { source: p.source, migrate: true, decisions });
  assert.is(up.data.status, "completed", up.text);
  const target = path.join(p.project, ".praxis-os");
  assert.not.ok(fs.existsSync(p.install));
  assert.is(fs.readFileSync(path.join(target, p.spec), "utf8"), SPEC, "kept by decision");
  assert.is.not(fs.readFileSync(path.join(p.project, ".cursorrules"), "utf8"), CURSORRULES, "rewritten by decision");
  assert.equal(Object.keys(JSON.parse(fs.readFileSync(path.join(p.project, ".cursor/mcp.json"), "utf8")).mcpServers), ["praxis-os-rag"]);

  const st = await call("upgrade_status", {});
  assert.equal([st.data.state, st.data.session_id], ["completed", up.data.session_id]);

  const rb = await call("upgrade_rollback", { confirm: true });
  assert.is(rb.data.status, "rolled_back", rb.text);
  assert.not.ok(fs.existsSync(target), "no .praxis-os/ left");
  assert.equal(diffTrees(before, projectTree()), []);
  const after = await call("upgrade_status", {});
  assert.equal([after.data.state, after.data.session_id], ["rolled_back", up.data.session_id]);
});

test.run();
