/**
 * `agent-os-upgrade mcp --read-only` lists exactly the three read tools and refuses the
 * others; refusals of the write tools name the problem and change nothing. Real server,
 * official client, real stdio; no upgrade runs here.
 */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { diffTrees, snapshotTree, type Tree } from "../demo/kit/tree.ts";
import { connectUpgradeServer, createUpgradeProject, type UpgradeProject, type UpgradeServer } from "./helpers/mcp-upgrade-project.ts";

const test = suite("mcp-readonly");

let p: UpgradeProject;
const servers: UpgradeServer[] = [];

test.before(async () => {
  p = await createUpgradeProject();
});

test.after(async () => {
  for (const s of servers) await s.close().catch(() => {});
  p?.cleanup();
});

// deno-lint-ignore no-explicit-any
type Any = any;
const OPTS = { timeout: 120_000 };

/** The paths that differ between two snapshots. */
const changed = (before: Tree, after: Tree): string[] => diffTrees(before, after).map((d) => d.replace(/^\w+: /, "").split(": ")[0]);

async function server(extra: string[] = []): Promise<UpgradeServer> {
  const s = await connectUpgradeServer(p.project, extra);
  servers.push(s);
  return s;
}

async function call(s: UpgradeServer, name: string, args: Record<string, unknown>): Promise<{ sc: Any; text: string; isError: boolean }> {
  const r = await s.client.callTool({ name, arguments: args }, undefined, OPTS);
  const text = (r.content as Array<{ text?: string }>).map((c) => c.text ?? "").join("\n");
  return { sc: r.structuredContent, text, isError: Boolean(r.isError) };
}

test("--read-only lists exactly upgrade_check, upgrade_plan, upgrade_status and backups_list; a write tool fails", async () => {
  const s = await server(["--read-only"]);
  const { tools } = await s.client.listTools();
  assert.equal(tools.map((t) => t.name).sort(), ["backups_list", "upgrade_check", "upgrade_plan", "upgrade_status"]);
  assert.ok(tools.every((t) => t.annotations?.readOnlyHint === true));
  const before = snapshotTree(p.project, { mtime: true });
  for (const name of ["upgrade_start", "upgrade_continue", "upgrade_rollback"]) {
    const r = await call(s, name, { source: p.source, confirm: true });
    assert.is(r.isError, true, name);
    assert.match(r.text, `Tool ${name} not found`);
  }
  const st = await call(s, "upgrade_status", {});
  assert.equal(st.sc, {
    state: "idle",
    lock: { kind: "absent" },
    next: "No upgrade has run here yet: call upgrade_plan with the Agent OS source checkout to see what an upgrade would change.",
  });
  assert.equal((await call(s, "backups_list", {})).sc, { backups: [] });
  assert.equal(changed(before, snapshotTree(p.project, { mtime: true })), []);
});

test("refusals change nothing and say why: a missing source, skipping validation, an unknown backup", async () => {
  const s = await server();
  const before = snapshotTree(p.project, { mtime: true });
  const missing = path.join(p.root, "no-such-source");

  const plan = await call(s, "upgrade_plan", { source: missing });
  assert.is(plan.isError, true);
  assert.match(plan.text, /^Error \[PREFLIGHT_FAILED\]: Pre-flight refused the upgrade: /);
  assert.match(plan.text, missing);

  const start = await call(s, "upgrade_start", { source: missing });
  assert.is(start.isError, false);
  assert.equal({ status: start.sc.status, code: start.sc.error.code, session: start.sc.session_id }, { status: "refused", code: "PREFLIGHT_FAILED", session: undefined });
  assert.match(start.sc.error.message, missing);
  assert.match(start.sc.next, "Nothing was changed");

  const cont = await call(s, "upgrade_continue", {});
  assert.equal({ status: cont.sc.status, code: cont.sc.error.code }, { status: "refused", code: "NO_SESSION" });
  assert.equal(changed(before, snapshotTree(p.project, { mtime: true })), [], "nothing was written");

  const rollback = await call(s, "upgrade_rollback", { to: "2020-01-01-000000", confirm: true });
  assert.equal({ status: rollback.sc.status, code: rollback.sc.error.code }, { status: "refused", code: "USAGE" });
  assert.match(rollback.sc.error.message, "2020-01-01-000000");
  // A backup that does not exist is refused before anything is restored: no file changed, no
  // lock left; only the folder's mtime moved (the command's lock came and went).
  assert.equal(changed(before, snapshotTree(p.project, { mtime: true })), [".agent-os"]);
  assert.not.ok(fs.existsSync(path.join(p.install, ".upgrade-lock")));
});

test.run();
