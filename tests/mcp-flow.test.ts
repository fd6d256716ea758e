/**
 * A whole upgrade driven through `agent-os-upgrade mcp` by the official MCP client over real
 * stdio, on a real project (real git source with two releases, real venv, the fixture MCP
 * server): plan (writes nothing), start without decisions (needs_decision, writes nothing),
 * start with a merge decision (completed, the user's edit merged, the new server's tools
 * listed), then status and backups. Every call goes through the SDK client, which validates
 * each result against the tool's declared output schema.
 */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { snapshotTree } from "../demo/kit/tree.ts";
import { connectUpgradeServer, createUpgradeProject, EDITED, USER_LINE, type UpgradeProject, type UpgradeServer } from "./helpers/mcp-upgrade-project.ts";

const test = suite("mcp-flow");

let p: UpgradeProject;
let srv: UpgradeServer | undefined;
let tmp: string;

test.before(async () => {
  p = await createUpgradeProject();
  tmp = path.join(p.root, "tmp");
  fs.mkdirSync(tmp);
});

test.after(async () => {
  await srv?.close();
  p?.cleanup();
});

// deno-lint-ignore no-explicit-any
type Any = any;

async function call(name: string, args: Record<string, unknown>, progress?: string[]): Promise<{ sc: Any; text: string; isError: boolean }> {
  const r = await srv!.client.callTool({ name, arguments: args }, undefined, {
    timeout: 180_000,
    resetTimeoutOnProgress: true,
    ...(progress ? { onprogress: (n: { message?: string }) => void progress.push(n.message ?? "") } : {}),
  });
  const text = (r.content as Array<{ type: string; text?: string }>).map((c) => c.text ?? "").join("\n");
  return { sc: r.structuredContent, text, isError: Boolean(r.isError) };
}

const leftovers = () => fs.readdirSync(tmp).filter((n) => n.startsWith("agent-os-upgrade-mcp-"));

test("plan, needs_decision, merge: a completed upgrade with the user's edit merged and the new server's tools listed", async () => {
  srv = await connectUpgradeServer(p.project, [], { TMPDIR: tmp });
  const { tools } = await srv.client.listTools();
  assert.equal(tools.map((t) => t.name).sort(), ["backups_list", "upgrade_check", "upgrade_continue", "upgrade_plan", "upgrade_rollback", "upgrade_start", "upgrade_status"]);
  assert.ok(tools.every((t) => t.outputSchema?.type === "object"), "every tool declares an output schema");

  // The user's line merges cleanly with upstream's change: merged as git would, never asked.
  const clean = await call("upgrade_plan", { source: p.source });
  assert.is(clean.isError, false, clean.text);
  assert.equal(clean.sc.counts, { new: 2, updated: 0, unchanged: 0, kept_local: 0, not_checked: 3, merged: 1, conflicts: 0, deleted: 2, errors: 0 });
  assert.equal(clean.sc.entries.find((e: Any) => e.path === EDITED), { path: EDITED, action: "merge", reason: "changed locally and upstream; merges cleanly" });
  assert.equal(clean.sc.conflicts, []);
  assert.match(clean.text, `  merged     ${EDITED}  (changed locally and upstream; merges cleanly)`);

  // Now the user also edits the line upstream changed: a true conflict.
  const edited = path.join(p.install, EDITED);
  fs.writeFileSync(edited, fs.readFileSync(edited, "utf8").replace("Real parts wired together.", "Real parts wired together, no mocks."));
  const before = snapshotTree(p.project, { mtime: true });
  const plan = await call("upgrade_plan", { source: p.source, diff: true });
  assert.is(plan.isError, false, plan.text);
  assert.equal(plan.sc.base, { kind: "git", ref: p.commits[0], via: "VERSION.txt" });
  assert.equal(plan.sc.counts, { new: 2, updated: 0, unchanged: 0, kept_local: 0, not_checked: 3, merged: 0, conflicts: 1, deleted: 2, errors: 0 });
  assert.equal(plan.sc.entries, [
    { path: "standards/universal/ai-safety/old-name.md", action: "delete", reason: "moved upstream to standards/universal/ai-safety/production-code-checklist.md" },
    { path: "standards/universal/ai-safety/production-code-checklist.md", action: "new", reason: "added upstream" },
    { path: EDITED, action: "conflict", reason: "changed locally and upstream" },
    { path: "workflows/agent_os_upgrade_v1/metadata.json", action: "new", reason: "added upstream" },
    { path: "workflows/spec_creation_v1/phases/1/obsolete.md", action: "delete", reason: "deleted upstream" },
  ]);
  assert.equal(plan.sc.conflicts.map((c: Any) => [c.path, c.reason]), [[EDITED, "changed locally and upstream"]]);
  const view = plan.sc.conflicts[0].three_way;
  assert.match(view.yours, `+${USER_LINE}`, "the user's line is the user's change, not a deletion by upstream");
  assert.match(view.yours, "+Real parts wired together, no mocks.");
  assert.match(view.upstream, "+Real parts wired together, real databases included.");
  assert.not.match(view.upstream, USER_LINE);
  assert.match(view.merged, /^<<<<<<< local\nReal parts wired together, no mocks\.\n=======\nReal parts wired together, real databases included\.\n>>>>>>> upstream$/m);
  assert.is(view.hunks, 1);
  assert.equal(snapshotTree(p.project, { mtime: true }), before, "the plan wrote nothing (bytes, modes and mtimes)");

  const undecided = await call("upgrade_start", { source: p.source });
  assert.is(undecided.sc.status, "needs_decision", undecided.text);
  assert.is(undecided.sc.session_id, undefined);
  assert.equal(undecided.sc.conflicts.map((c: Any) => c.path), [EDITED]);
  assert.equal(undecided.sc.conflicts[0].three_way, view);
  assert.match(undecided.sc.next, "decisions");
  assert.equal(snapshotTree(p.project, { mtime: true }), before, "needs_decision wrote nothing");

  const progress: string[] = [];
  const done = await call("upgrade_start", { source: p.source, decisions: { [EDITED]: "merge" } }, progress);
  assert.is(done.sc.status, "completed", done.text);
  const r = done.sc.result;
  assert.is(r.session_id, done.sc.session_id);
  assert.is(r.exit_code, 0);
  assert.equal(r.phases.map((x: Any) => x.status), ["completed", "completed", "completed", "completed", "completed", "completed"]);
  assert.is(r.from, p.commits[0]);
  assert.is(r.to, p.commits[1]);
  assert.is(r.layout, ".agent-os");
  assert.is(r.validation, "passed");
  assert.equal(r.content.decisions, [{ path: EDITED, decision: "merge", by: "decision", result: "merged with 1 conflict marked" }]);
  assert.equal(r.content.needs_attention, [EDITED]);
  assert.equal([...r.tools].sort(), ["get_server_info", "list_workflows", "search_standards"]);
  const merged = fs.readFileSync(path.join(p.install, EDITED), "utf8");
  assert.ok(merged.startsWith(`${USER_LINE}\n# Test pyramid\n`), "the user's line is kept");
  assert.match(merged, "<<<<<<< local\nReal parts wired together, no mocks.\n=======\nReal parts wired together, real databases included.\n>>>>>>> upstream\n");
  assert.not.ok(fs.existsSync(path.join(p.install, "standards/universal/ai-safety/old-name.md")));
  assert.ok(fs.existsSync(path.join(p.install, "workflows/agent_os_upgrade_v1/metadata.json")));
  for (const m of ["phase 1 backup: started", "phase 2 content: started", "phase 3 server: started", "phase 4 validation: started"]) {
    assert.ok(progress.includes(m), `progress has "${m}": ${JSON.stringify(progress)}`);
  }
  assert.ok(progress.some((m) => m.startsWith("phase 5 cleanup: completed")), JSON.stringify(progress));

  const status = await call("upgrade_status", {});
  assert.equal({ state: status.sc.state, session_id: status.sc.session_id, lock: status.sc.lock }, { state: "completed", session_id: done.sc.session_id, lock: { kind: "absent" } });

  const backups = await call("backups_list", {});
  assert.is(backups.sc.backups.length, 1);
  assert.equal(
    { session_id: backups.sc.backups[0].session_id, session_status: backups.sc.backups[0].session_status, status: backups.sc.backups[0].status },
    { session_id: done.sc.session_id, session_status: "completed", status: "complete" },
  );
  assert.ok(backups.sc.backups[0].size_bytes > 0 && backups.sc.backups[0].files > 0);
  assert.equal(leftovers(), [], "the runner removed its temp folders");
  assert.not.match(srv.stderr(), "INTERNAL");
});

test("the prompt tells an assistant the order: plan, ask, start with decisions, report, rollback on request", async () => {
  const { prompts } = await srv!.client.listPrompts();
  assert.equal(prompts.map((x) => x.name), ["upgrade-agent-os"]);
  const got = await srv!.client.getPrompt({ name: "upgrade-agent-os", arguments: { source: p.source } });
  const text = (got.messages[0].content as { text: string }).text;
  const order = ["upgrade_status", "upgrade_plan", "decisions", "upgrade_start", "upgrade_continue", "upgrade_rollback"].map((w) => text.indexOf(w));
  assert.ok(order.every((i) => i >= 0), JSON.stringify(order));
  assert.ok(text.includes(JSON.stringify(p.source)));
});

test.run();
