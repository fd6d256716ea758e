/**
 * upgrade_rollback through the MCP tools after a completed upgrade: without confirm it
 * refuses when the user changed a file since the upgrade, naming it, and changes nothing;
 * with confirm the installation is restored exactly as it was before the upgrade (content,
 * server code, venv), the session marked rolled_back. Real server, official client, real stdio, real project.
 */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { snapshotTree } from "../demo/kit/tree.ts";
import { connectUpgradeServer, createUpgradeProject, EDITED, type UpgradeProject, type UpgradeServer, USER_LINE } from "./helpers/mcp-upgrade-project.ts";

const test = suite("mcp-rollback");

let p: UpgradeProject;
let srv: UpgradeServer | undefined;

test.before(async () => {
  p = await createUpgradeProject();
});

test.after(async () => {
  await srv?.close();
  p?.cleanup();
});

// deno-lint-ignore no-explicit-any
type Any = any;
const OPTS = { timeout: 180_000 };

async function call(name: string, args: Record<string, unknown>): Promise<Any> {
  const r = await srv!.client.callTool({ name, arguments: args }, undefined, OPTS);
  assert.is(r.isError, undefined, JSON.stringify(r.content));
  return r.structuredContent;
}

// Our own records (state, backups, logs) and Python's byte-code caches are not the installation.
const OURS = /^(\.backups|\.cache|\.upgrade-lock|UPDATE_LOG\.txt|INSTALLATION_SUMMARY\.md)(\/|$)|(^|\/)__pycache__(\/|$)/;
const installTree = () => snapshotTree(p.install, { skip: (rel) => OURS.test(rel) });

const NEW_FILE = "standards/universal/ai-safety/production-code-checklist.md";

test("after a completed upgrade and a later edit: refused without confirm (file named, nothing changed), exact with confirm", async () => {
  srv = await connectUpgradeServer(p.project);
  const before = installTree();
  const up = await call("upgrade_start", { source: p.source, decisions: { [EDITED]: "merge" } });
  assert.is(up.status, "completed", JSON.stringify(up));
  assert.not.equal(installTree(), before);

  // The user edits a file the upgrade wrote: a rollback would discard that edit.
  const later = path.join(p.install, NEW_FILE);
  fs.appendFileSync(later, "\nOur addition after the upgrade.\n");
  const edited = installTree();
  const refused = await call("upgrade_rollback", { confirm: false });
  assert.equal({ status: refused.status, code: refused.error.code }, { status: "refused", code: "CONFIRMATION_NEEDED" }, JSON.stringify(refused));
  assert.match(refused.error.message, NEW_FILE);
  assert.ok(refused.error.details.changed.some((f: string) => f.endsWith(NEW_FILE)), JSON.stringify(refused.error.details));
  assert.match(refused.next, "confirm: true");
  assert.equal(installTree(), edited, "the refusal changed nothing");
  assert.is((await call("upgrade_status", {})).state, "completed");

  const rb = await call("upgrade_rollback", { confirm: true });
  assert.is(rb.status, "rolled_back", JSON.stringify(rb));
  assert.is(rb.session_id, up.session_id);
  assert.equal({ session_status: rb.result.session_status, rollback: rb.result.rollback.status }, { session_status: "rolled_back", rollback: "completed" });
  assert.equal(installTree(), before, "the installation is as it was before the upgrade");
  assert.ok(fs.readFileSync(path.join(p.install, EDITED), "utf8").startsWith(`${USER_LINE}\n# Test pyramid\n\n`));

  const st = await call("upgrade_status", {});
  assert.equal({ state: st.state, session_id: st.session_id, lock: st.lock }, { state: "rolled_back", session_id: up.session_id, lock: { kind: "absent" } });
  assert.match(st.next, "upgrade_start");
});

test.run();
