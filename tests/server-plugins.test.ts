// The deps, server, migrate and validate plugins through the real upgrader (runLifecycle),
// beside the built-in pre-flight, backup, user-files, content and report plugins, on a real
// venv, real wheels and real server processes: every rollback here is the real backup's.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { EXIT } from "../core/errors.ts";
import type { SessionState } from "../core/state.ts";
import type { RunOptions, UpgradeResult } from "../core/types.ts";
import { serverEnv, withTransport } from "../plugins/server/launch.ts";
import { probeHttp, probeStdio } from "../plugins/server/mcp-client.ts";
import { findProjectServer, identifyServer, processAlive, startDetached, stopServer } from "../plugins/server/process.ts";
import { hashTree } from "../plugins/server/stage.ts";
import { fixtureScriptsDir, fixtureServerDir, type ServerVersion } from "../demo/kit/fixture-server.ts";
import { pipFreeze } from "../demo/kit/venv.ts";
import { createMcpProject, type McpProject } from "./helpers/mcp-project.ts";
import { projectOptions, projectPlugins, stateOf, upgradeProject } from "./helpers/mcp-project-run.ts";
import { type FlatRunOptions } from "./helpers/run-options.ts";

const run = promisify(execFile);
const projects: McpProject[] = [];
const servers: number[] = [];
const children: ChildProcess[] = [];

test.after(async () => {
  for (const p of projects) {
    const found = findProjectServer(p.install);
    if (found.status === "running") servers.push(found.state.pid);
  }
  for (const pid of servers) if (processAlive(pid)) await stopServer(pid, { timeoutMs: 1_000 });
  for (const c of children) if (c.pid && processAlive(c.pid)) c.kill("SIGKILL");
  for (const p of projects) p.cleanup();
});

async function project(options: Parameters<typeof createMcpProject>[0]): Promise<McpProject> {
  const p = await createMcpProject(options);
  projects.push(p);
  return p;
}

function upgrade(p: McpProject, o: FlatRunOptions = {}, extra: { validateTimeoutMs?: number } = {}): Promise<UpgradeResult> {
  // The old server's tools are expected by default; the new one's come from the config.
  const plugins = projectPlugins(p, { timeoutMs: extra.validateTimeoutMs ?? 10_000, expectTools: ["get_server_info"] });
  return upgradeProject(plugins, projectOptions(p, o));
}

/** Every plugin's record of a phase side by side (each plugin keeps its own; their keys do not overlap). */
const evidence = (s: SessionState, phase: number) => Object.assign({}, ...Object.values((s.phases[String(phase)]?.evidence ?? {}) as Record<string, object>)) as Record<string, any>;

/** The install's server and scripts are exactly a fixture version's (nothing more, nothing less). */
async function assertServerIs(p: McpProject, version: ServerVersion) {
  // Byte-code the servers wrote since is left out (SPEC §2 excludes).
  assert.equal(await hashTree(path.join(p.install, "mcp_server")), await hashTree(fixtureServerDir(version)), `mcp_server is ${version}`);
  assert.equal(await hashTree(path.join(p.install, "scripts")), await hashTree(fixtureScriptsDir(version)), `scripts are ${version}`);
}

function leftovers(p: McpProject): string[] {
  return fs.readdirSync(p.install).filter((n) => /\.(staged|old)-/.test(n));
}

async function v1Answers(p: McpProject) {
  const probe = await probeStdio({ command: p.venv.python, args: ["-m", "mcp_server"], env: serverEnv(p.launch.env), timeoutMs: 10_000 });
  assert.equal([probe.ok, probe.serverInfo?.version, probe.tools], [true, "1.0.0", ["list_workflows", "search_standards"]]);
}

test("dry run: the server plugins write nothing (no byte-code, no mcp.json change, no state)", async () => {
  const p = await project({ installed: "v1" });
  const mcpBefore = fs.readFileSync(p.mcpJson, "utf8");
  const before = await hashTree(p.install, []);
  const result = await upgrade(p, { dryRun: true });
  assert.is(result.status, "completed", JSON.stringify(result.error));
  assert.equal(await hashTree(p.install, []), before);
  assert.is(fs.readFileSync(p.mcpJson, "utf8"), mcpBefore);
});

test("v1 → v2: new code, new package in the venv, --transport in mcp.json, three tools, evidence with timings", async () => {
  const p = await project({ installed: "v1" });
  const mcpBefore = JSON.parse(fs.readFileSync(p.mcpJson, "utf8"));
  const result = await upgrade(p);
  assert.is(result.status, "completed", JSON.stringify(result.error));
  assert.is(result.exit_code, EXIT.ok);

  await assertServerIs(p, "v2");
  assert.is(fs.existsSync(path.join(p.install, "mcp_server", "legacy_paths.py")), false);
  assert.equal(await pipFreeze(p.venv), ["aou-fixture-a==1.0", "aou-fixture-b==1.0"]);
  const mcp = JSON.parse(fs.readFileSync(p.mcpJson, "utf8"));
  assert.equal(mcp, { mcpServers: { "agent-os-rag": { ...mcpBefore.mcpServers["agent-os-rag"], args: ["-m", "mcp_server", "--transport", "dual"] } } });
  assert.equal(leftovers(p), []);

  const s = stateOf(p, result);
  assert.equal(evidence(s, 0).server_tools_before, ["list_workflows", "search_standards"]);
  const e3 = evidence(s, 3);
  assert.is(e3.code.status, "swapped");
  assert.equal(e3.code.folders.map((f: { folder: string; status: string }) => [f.folder, f.status]), [["mcp_server", "swapped"], ["scripts", "swapped"]]);
  assert.equal([e3.deps.status, e3.deps.pip_check_ok, e3.deps.added, e3.deps.post_install], ["installed", true, ["aou-fixture-b==1.0"], []]);
  assert.is(e3.restart.status, "ide_reload_required");
  assert.equal(e3.migrations, [{
    name: "launch-transport",
    file: p.mcpJson,
    agent: "Cursor",
    server: "agent-os-rag",
    status: "applied",
    before: ["-m", "mcp_server"],
    after: ["-m", "mcp_server", "--transport", "dual"],
  }]);
  for (const ms of [e3.code.duration_ms, e3.deps.duration_ms, s.phases["3"].duration_ms, s.phases["4"].duration_ms]) assert.ok(Number.isFinite(ms) && ms >= 0, `timing ${ms}`);
  const e4 = evidence(s, 4);
  assert.equal(e4.tools_expected, ["get_server_info", "list_workflows", "search_standards"]);
  assert.equal(e4.tools_registered, ["get_server_info", "list_workflows", "search_standards"]);
  assert.equal(e4.smoke_tests, [{ tool: "search_standards", ok: true }, { tool: "list_workflows", ok: true }]);
  assert.equal([e4.stderr_errors, e4.server_probe.transport, e4.server_probe.server_info], [[], "stdio", { name: "agent-os-fixture", version: "2.0.0" }]);
  const report = JSON.parse(fs.readFileSync(e4.validation_report, "utf8"));
  assert.equal(report.tools_registered, e4.tools_registered);

  // The migrated launch command works as the IDE will run it (forced to stdio for the test).
  const launch = mcp.mcpServers["agent-os-rag"];
  const probe = await probeStdio({ command: launch.command, args: withTransport(launch.args, "stdio"), env: serverEnv(launch.env), timeoutMs: 10_000 });
  assert.equal(probe.tools, ["get_server_info", "list_workflows", "search_standards"]);
});

for (const [variant, code, phase] of [
  ["v2-badreq", "SERVER_FAILED", 3],
  ["v2-crash", "VALIDATION_FAILED", 4],
  ["v2-missing-tool", "VALIDATION_FAILED", 4],
  ["v2-hang", "VALIDATION_FAILED", 4],
  ["v2-traceback", "VALIDATION_FAILED", 4],
] as const) {
  test(`v1 → ${variant}: rolled back; v1 answers with its two tools; the venv's packages are exactly the old ones`, async () => {
    const p = await project({ installed: "v1", source: variant });
    const mcpBefore = fs.readFileSync(p.mcpJson, "utf8");
    const freezeBefore = await pipFreeze(p.venv);
    const result = await upgrade(p, {}, { validateTimeoutMs: 3_000 });
    assert.equal([result.status, result.exit_code, result.error?.code], ["rolled_back", EXIT.rolledBack, code], JSON.stringify(result.error));
    const s = stateOf(p, result);
    assert.is(s.status, "rolled_back");
    assert.is(s.phases[String(phase)].status, "failed");

    await assertServerIs(p, "v1");
    assert.equal(await pipFreeze(p.venv), freezeBefore);
    assert.is(fs.readFileSync(p.mcpJson, "utf8"), mcpBefore);
    assert.equal(leftovers(p), []);
    await v1Answers(p);
    // The rollback's own health check of the restored server.
    assert.equal(s.rollback!.evidence.server_restart, { health: { ok: true, tools: ["list_workflows", "search_standards"], error: null } });

    const message = String(result.error?.message);
    if (variant === "v2-badreq") {
      assert.match(message, /No matching distribution found for aou-fixture-missing==9\.9|Could not find a version that satisfies the requirement aou-fixture-missing==9\.9/);
      assert.is(evidence(s, 3).deps.status, "failed");
    } else if (variant === "v2-crash") {
      assert.match(message, /The upgraded MCP server does not answer over stdio: The server exited before answering: RuntimeError: Simulated start-up failure/);
    } else if (variant === "v2-missing-tool") {
      assert.match(message, /The upgraded MCP server lacks tool\(s\): get_server_info/);
    } else if (variant === "v2-hang") {
      assert.match(message, /does not answer over stdio: MCP error -32001: Request timed out/);
    } else {
      assert.match(message, /logged 2 error line\(s\), first: .*ERROR mcp_server: Failed to refresh the standards index/);
    }
  });
}

/** A v2 project whose server runs in the background (dual), and a source with a v2.1 server. */
async function runningV2(sourceVersion: ServerVersion = "v2") {
  const p = await project({ installed: "v2", source: sourceVersion, mcpArgs: ["-m", "mcp_server", "--transport", "dual"] });
  const init = path.join(p.source, "mcp_server", "__init__.py");
  fs.writeFileSync(init, fs.readFileSync(init, "utf8").replace('"2.0.0"', '"2.1.0"'));
  await run("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qam", "v2.1"], { cwd: p.source });
  const first = await startDetached({
    command: p.venv.python,
    args: ["-m", "mcp_server", "--transport", "dual"],
    env: serverEnv(p.launch.env),
    cwd: p.project,
    installDir: p.install,
    logFile: path.join(p.install, ".cache", "mcp-server.log"),
    timeoutMs: 10_000,
  });
  assert.ok(first.ok, first.error);
  servers.push(first.spawnedPid!);
  return { p, firstPid: first.spawnedPid! };
}

test("running dual server: stopped and restarted by pid; an unrelated look-alike process is untouched", async () => {
  const { p, firstPid } = await runningV2();
  const lookalike = spawn("bash", ["-c", "exec -a 'python -m mcp_server --transport dual' sleep 60"], { stdio: "ignore" });
  children.push(lookalike);
  await new Promise((resolve) => lookalike.once("spawn", resolve));

  const result = await upgrade(p);
  assert.is(result.status, "completed", JSON.stringify(result.error));
  const s = stateOf(p, result);
  assert.equal(evidence(s, 0).server_before.status, "running");
  const restart = evidence(s, 3).restart;
  assert.is(restart.status, "restarted");
  assert.is(restart.old_pid, firstPid);
  assert.is.not(restart.pid, firstPid);
  assert.is(processAlive(firstPid), false);
  assert.ok(identifyServer(restart.pid, p.install).ours);
  servers.push(restart.pid);
  console.log(`  restart inside the upgrade: ${restart.latency_ms} ms (stop ${restart.stop_ms} ms)`);
  assert.ok(restart.latency_ms < 10_000);
  assert.ok(processAlive(lookalike.pid!), "the look-alike must still run");

  const e4 = evidence(s, 4);
  assert.equal([e4.server_probe.transport, e4.server_probe.server_info.version], ["http", "2.1.0"]);
  assert.equal(e4.tools_expected, ["get_server_info", "list_workflows", "search_standards"]);
  const live = await probeHttp({ url: restart.url, timeoutMs: 5_000, calls: [{ tool: "get_server_info" }] });
  assert.is(JSON.parse(live.calls[0].text).version, "2.1.0");
  assert.is(evidence(s, 3).migrations[0].status, "unchanged");
});

test("running dual server, broken upgrade: the new server is stopped, the old code comes back and is restarted", async () => {
  const { p, firstPid } = await runningV2("v2-missing-tool");
  const result = await upgrade(p);
  assert.equal([result.status, result.error?.code], ["rolled_back", "VALIDATION_FAILED"], JSON.stringify(result.error));
  const s = stateOf(p, result);
  const newPid = evidence(s, 3).restart.pid as number;
  assert.is(processAlive(firstPid), false);
  assert.is(processAlive(newPid), false);
  await assertServerIs(p, "v2");
  const back = s.rollback!.evidence.server_restart as { restart: { status: string; pid: number; url: string; tools: string[] } };
  assert.equal([back.restart.status, back.restart.tools], ["restarted", ["get_server_info", "list_workflows", "search_standards"]]);
  servers.push(back.restart.pid);
  const found = findProjectServer(p.install);
  assert.equal([found.status, found.status === "running" && found.state.pid], ["running", back.restart.pid]);
  const probe = await probeHttp({ url: back.restart.url, timeoutMs: 5_000 });
  assert.equal([probe.ok, probe.serverInfo?.version], [true, "2.0.0"]);
});

test.run();
