/**
 * Our MCP server SIGKILLed while an upgrade it started runs, as an IDE reload would: the
 * upgrade runs in its own process and goes on. One real upgrade is held (by the pause test
 * plugin) in phase 1 (backup), phase 2 (content) and phase 3 (server); at each hold the
 * serving MCP server is killed and a new one takes over: upgrade_status says running (the
 * lock's owner is the upgrade's own live process), upgrade_continue waits for the end, and
 * the last one returns completed with the tree fully upgraded and the lock gone.
 */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { pidAlive } from "../core/proc.ts";
import { CALL_OPTS as OPTS, killBench } from "./helpers/mcp-kill.ts";
import { EDITED, notUpgraded, type UpgradeServer } from "./helpers/mcp-upgrade-project.ts";
import type { PauseHook } from "./helpers/pause-plugin.ts";

const test = suite("mcp-kill");
const bench = killBench(test);
const { server, reached, go } = bench;

// deno-lint-ignore no-explicit-any
type Any = any;

/** A call whose answer we may never get: settles to "answered: <status>" or "lost: <error>". */
function pending(s: UpgradeServer, name: string, args: Record<string, unknown>): Promise<string> {
  return s.client.callTool({ name, arguments: args }, undefined, OPTS).then(
    (r) => `answered: ${(r.structuredContent as Any)?.status}`,
    (e: Error) => `lost: ${e.message}`,
  );
}

async function status(s: UpgradeServer): Promise<Any> {
  return (await s.client.callTool({ name: "upgrade_status", arguments: {} }, undefined, OPTS)).structuredContent;
}

test("killed in phases 1, 2 and 3: each new server reports running, the last one's upgrade_continue returns completed", async () => {
  const { p } = bench;
  const first = await server();
  let call = pending(first, "upgrade_start", { source: p.source, decisions: { [EDITED]: "merge" } });
  const upgradePid = Number(await reached("backup"));
  assert.ok(upgradePid > 0 && upgradePid !== first.pid, "the upgrade runs in its own process");

  let killed = first;
  const moments: Array<[PauseHook, number, PauseHook | null]> = [["backup", 1, "applyContent"], ["applyContent", 2, "upgradeServer"], ["upgradeServer", 3, null]];
  for (const [hook, phase, nextHook] of moments) {
    process.kill(killed.pid, "SIGKILL");
    assert.match(await call, /^lost: /, `the call to the killed server is lost (${hook})`);
    assert.ok(pidAlive(upgradePid), `the upgrade outlives the server killed in ${hook}`);
    const fresh = await server();
    const st = await status(fresh);
    assert.equal(
      { state: st.state, session_id: typeof st.session_id, phase: st.phase, lock: st.lock.kind, pid: st.lock.pid },
      { state: "running", session_id: "string", phase, lock: "held", pid: upgradePid },
      `status after the kill in ${hook}`,
    );
    assert.match(st.next, "upgrade_continue");
    call = pending(fresh, "upgrade_continue", {});
    go(hook);
    if (nextHook) await reached(nextHook);
    killed = fresh;
  }
  assert.is(await call, "answered: completed");
  const last = await server();
  assert.equal(fs.readdirSync(path.join(p.root, "tmp")).filter((n) => n.startsWith("agent-os-upgrade-mcp-")), [], "the new server swept the folders of the killed servers' runs");
  const st = await status(last);
  assert.equal({ state: st.state, lock: st.lock }, { state: "completed", lock: { kind: "absent" } });
  const again = (await last.client.callTool({ name: "upgrade_continue", arguments: {} }, undefined, OPTS)).structuredContent as Any;
  assert.is(again.status, "completed");
  assert.equal([...again.result.tools].sort(), ["get_server_info", "list_workflows", "search_standards"]);
  assert.equal(notUpgraded(p), [], "the tree is fully upgraded");
  assert.not.ok(pidAlive(upgradePid), "the upgrade process ended");
});

test.run();
