/**
 * Issue 18 item 6: a plugin object may serve several runs (a library caller, a host process
 * running upgrades one after another) and carries nothing from one run into the next. The
 * same built-in instances upgrade project A, then resume project B's upgrade (cut off by a
 * SIGKILL in phase 2, after its backup); fresh instances resume project C, B's twin. B's
 * result and evidence must be C's, B's backup must hold what B's swap moved aside, A's
 * backup must be untouched, and B's rollback must give B's old tree back exactly.
 *
 * Everything is real: git sources, venvs, the fixture MCP server, the CLI killed mid-run.
 */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { Plugin } from "../core/plugin.ts";
import type { SessionState } from "../core/state.ts";
import type { UpgradeResult } from "../core/types.ts";
import { runLifecycle, runManualRollback } from "../core/upgrader.ts";
import { diffTrees, snapshotTree, type Tree } from "../demo/kit/tree.ts";
import { offlinePipArgs, sharedWheelhouse } from "../demo/kit/wheels.ts";
import { depsPlugin } from "../plugins/deps.ts";
import { builtinPlugins } from "../plugins/mod.ts";
import { startCli } from "./helpers/cli.ts";
import { createUpgradeProject, notUpgraded, type UpgradeProject } from "./helpers/mcp-upgrade-project.ts";
import { resolvedWith, toRunOptions } from "./helpers/run-options.ts";
import { waitForFile } from "./helpers/wait.ts";

const test = suite("plugin-reuse");

/** What a run writes that is not the installation's own (backups, caches, the lock, byte-code). */
const skip = (rel: string) => /^\.agent-os\/(\.backups|\.cache|\.upgrade-lock)(\/|$)|(^|\/)__pycache__(\/|$)/.test(rel);

/** The built-ins as the projects' config has them (pip offline from the shared wheelhouse). */
async function plugins(): Promise<Plugin[]> {
  const deps = depsPlugin({ extraArgs: offlinePipArgs(await sharedWheelhouse()), retries: 0 });
  return builtinPlugins().map((p) => (p.name === "deps" ? deps : p));
}

const options = (p: UpgradeProject) => toRunOptions({ source: p.source, target: p.project, json: true, onConflict: "merge" });

/** Starts the CLI's upgrade of `p` and SIGKILLs it in phase 2, once the content is written (its backup made). */
async function killInPhase2(p: UpgradeProject): Promise<void> {
  fs.writeFileSync(path.join(p.pauseDir, "go-backup"), "");
  const { child, done } = startCli(["--source", p.source, "--on-conflict", "merge", "--json"], { cwd: p.project, timeoutMs: 240_000 });
  await waitForFile(path.join(p.pauseDir, "reached-applyContent"), 200_000);
  child.kill("SIGKILL");
  const r = await done;
  assert.is(r.signal, "SIGKILL", r.stdout + r.stderr);
}

function resume(list: Plugin[], p: UpgradeProject): Promise<UpgradeResult> {
  return runLifecycle({ resolved: resolvedWith(list), options: options(p), resume: { sessionId: null } });
}

function stateOf(p: UpgradeProject, result: UpgradeResult): SessionState {
  return JSON.parse(fs.readFileSync(path.join(p.install, ".cache", "state", `${result.session_id}.json`), "utf8"));
}

/** Keys whose values differ between two equal runs: times, durations, processes, ports. */
const VARYING = /(^|_)ms$|^timings$|^duration|^started_at$|^ended_at$|^at$|pid$|^url$|^port$|^latency|^attempts$|^stderr$|^server_info$|^stop$|^stopped_new$/;

/** A run's values with what names its project, source commits, session, processes, backups and times replaced by placeholders. */
function normalized(value: unknown, p: UpgradeProject, sessionId: string): unknown {
  let text = JSON.stringify(value).replaceAll(p.root, "<root>").replaceAll(sessionId, "<session>");
  for (const [i, c] of p.commits.entries()) text = text.replaceAll(c, `<commit ${i + 1}>`).replaceAll(c.slice(0, 12), `<commit ${i + 1}>`).replaceAll(c.slice(0, 7), `<commit ${i + 1}>`);
  text = text
    .replace(/pid \d+/g, "pid <pid>")
    .replace(/\d{4}-\d\d-\d\d-\d{6}(-\d+)?/g, "<backup>")
    .replace(/\d{4}-\d\d-\d\dT\d\d[-:]\d\d[-:]\d\d[-.]\d{3}Z/g, "<time>");
  return JSON.parse(text, (key, v) => (VARYING.test(key) ? "<varies>" : v));
}

/** The resumed run's result and the evidence of phases 2–5 it recorded (phases 0–1 were the killed CLI's). */
function runRecord(p: UpgradeProject, result: UpgradeResult): unknown {
  const s = stateOf(p, result);
  const evidence = Object.fromEntries(["2", "3", "4", "5"].map((k) => [k, s.phases[k]?.evidence]));
  const { plan: _plan, ...rest } = result;
  return normalized({ result: rest, evidence, status: s.status }, p, result.session_id!);
}

/** The backup directory of `p`'s session, by the id its phase-1 evidence recorded. */
function backupOf(p: UpgradeProject, result: UpgradeResult): string {
  const ev = stateOf(p, result).phases["1"]?.evidence as Record<string, { backup_id?: string }>;
  return path.join(p.install, ".backups", ev.backup!.backup_id!);
}

test("the same built-in instances for two runs: the second is a fresh instance's, in its own backup, the first's untouched", async () => {
  const a = await createUpgradeProject();
  const b = await createUpgradeProject({ pause: true });
  const c = await createUpgradeProject({ pause: true });
  try {
    const oldB = snapshotTree(b.project, { skip });
    const oldC = snapshotTree(c.project, { skip });
    await killInPhase2(b);
    await killInPhase2(c);

    const shared = await plugins();
    const first = await runLifecycle({ resolved: resolvedWith(shared), options: options(a) });
    assert.is(first.status, "completed", JSON.stringify(first.error));
    assert.equal(notUpgraded(a), []);
    const backupsOfA: Tree = snapshotTree(path.join(a.install, ".backups"));

    const second = await resume(shared, b);
    const fresh = await resume(await plugins(), c);
    assert.is(second.status, "completed", JSON.stringify(second.error));
    assert.is(fresh.status, "completed", JSON.stringify(fresh.error));
    assert.equal(notUpgraded(b), []);
    assert.equal(runRecord(b, second), runRecord(c, fresh), "the reused instances' run is a fresh instance's");

    // The swap moved B's old server into B's own backup, and nothing of B's run reached A's.
    assert.ok(fs.existsSync(path.join(backupOf(b, second), "install/mcp_server/legacy_paths.py")), "B's old (release 1) mcp_server/ is in B's backup");
    assert.equal(diffTrees(backupsOfA, snapshotTree(path.join(a.install, ".backups"))), [], "A's backups are untouched by the second run");

    // And B's upgrade can be undone exactly, as C's can.
    for (const [p, old] of [[b, oldB], [c, oldC]] as const) {
      const back = await runManualRollback({ resolved: resolvedWith(await plugins()), options: { ...options(p), yes: true }, backupId: null });
      assert.is(back.exitCode, 0, JSON.stringify(back.outcome.error ?? back.outcome.rollbackError));
      assert.equal(diffTrees(old, snapshotTree(p.project, { skip })), [], `${path.basename(p.root)}: the tree is exactly the old one`);
    }
  } finally {
    a.cleanup();
    b.cleanup();
    c.cleanup();
  }
});

test.run();
