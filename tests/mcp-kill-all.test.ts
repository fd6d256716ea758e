/**
 * Everything killed mid-upgrade (our MCP server and the upgrade's own process group, as a
 * crash or a reboot would): a new server's upgrade_status says interrupted (the lock's
 * owner is dead, the phase is named), and upgrade_continue resumes the session to completed
 * — the tree fully upgraded, never mixed, the lock released.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { pidAlive } from "../core/proc.ts";
import { CALL_OPTS as OPTS, killBench } from "./helpers/mcp-kill.ts";
import { EDITED, notUpgraded } from "./helpers/mcp-upgrade-project.ts";

const test = suite("mcp-kill-all");
const bench = killBench(test);
const { server, reached, go } = bench;

// deno-lint-ignore no-explicit-any
type Any = any;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("server and upgrade killed in phase 3: interrupted, then upgrade_continue resumes it to completed", async () => {
  const { p } = bench;
  go("backup");
  go("applyContent");
  const first = await server();
  const call = first.client.callTool({ name: "upgrade_start", arguments: { source: p.source, decisions: { [EDITED]: "merge" } } }, undefined, OPTS)
    .then(() => "answered", (e: Error) => `lost: ${e.message}`);
  const upgradePid = Number(await reached("upgradeServer"));
  go("upgradeServer"); // the resumed run must not hold again
  process.kill(first.pid, "SIGKILL");
  process.kill(-upgradePid, "SIGKILL"); // its own process group: the upgrade and anything it started
  assert.match(await call, /^lost: /);
  for (let i = 0; i < 100 && pidAlive(upgradePid); i++) await sleep(50);
  assert.not.ok(pidAlive(upgradePid));

  const next = await server();
  const st = (await next.client.callTool({ name: "upgrade_status", arguments: {} }, undefined, OPTS)).structuredContent as Any;
  assert.equal(
    { state: st.state, phase: st.phase, phase_name: st.phase_name, session_status: st.session_status, lock: st.lock.kind, pid: st.lock.pid },
    { state: "interrupted", phase: 3, phase_name: "server", session_status: "in_progress", lock: "stale", pid: upgradePid },
  );
  assert.match(st.next, "upgrade_continue");

  const progress: string[] = [];
  const done = (await next.client.callTool({ name: "upgrade_continue", arguments: {} }, undefined, {
    ...OPTS,
    onprogress: (n: { message?: string }) => void progress.push(n.message ?? ""),
  })).structuredContent as Any;
  assert.is(done.status, "completed", JSON.stringify(done));
  assert.is(done.session_id, st.session_id);
  assert.equal(done.result.phases.map((x: Any) => x.status), ["completed", "completed", "completed", "completed", "completed", "completed"]);
  assert.equal([...done.result.tools].sort(), ["get_server_info", "list_workflows", "search_standards"]);
  assert.ok(progress.includes("phase 3 server: started") && !progress.includes("phase 2 content: started"), JSON.stringify(progress));
  assert.equal(notUpgraded(p), [], "the tree is fully upgraded");
  const after = (await next.client.callTool({ name: "upgrade_status", arguments: {} }, undefined, OPTS)).structuredContent as Any;
  assert.equal({ state: after.state, lock: after.lock }, { state: "completed", lock: { kind: "absent" } });
});

test.run();
