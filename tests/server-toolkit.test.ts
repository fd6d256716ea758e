// The server toolkit (plugins/server/*) on real venvs, wheels and processes: failure
// detection for every broken server variant, pip into the venv, launch resolution and the
// mcp.json migration, process identity and stopping, stage + swap and its crash repair,
// and the restart-to-healthy latency.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  formatMcpJson,
  migrateLaunchArgs,
  needsTransportArg,
  readMcpJson,
  resolveLaunch,
  serverEnv,
  withServerArgs,
  withTransport,
} from "../plugins/server/launch.ts";
import { probeStdio, scanStderr } from "../plugins/server/mcp-client.ts";
import { activeRequirements, detectPostInstall, pipFreeze, pipInstall, runPostInstall } from "../plugins/server/pip.ts";
import {
  findProjectServer,
  identifyServer,
  processAlive,
  readServerState,
  startDetached,
  STATE_FILE_NAME,
  stopProjectServer,
  stopServer,
} from "../plugins/server/process.ts";
import { hashTree, oldPath, removeOld, repairSwap, sha256File, stageCopy, stagedPath, swapStaged, verifyTree } from "../plugins/server/stage.ts";
import { fixtureServerDir, type ServerVersion } from "../demo/kit/fixture-server.ts";
import { copyTree } from "../demo/kit/tree.ts";
import { buildWheelhouse, offlinePipArgs, SYSTEM_PYTHON } from "../demo/kit/wheels.ts";
import { createMcpProject, type McpProject } from "./helpers/mcp-project.ts";
import { removeTemps, tmpDir } from "./helpers/temp.ts";

const projects: McpProject[] = [];
const children: ChildProcess[] = [];
const servers: number[] = [];

test.after(async () => {
  for (const pid of servers) if (processAlive(pid)) await stopServer(pid, { timeoutMs: 1_000 });
  for (const child of children) if (child.pid && processAlive(child.pid)) child.kill("SIGKILL");
  for (const p of projects) p.cleanup();
  removeTemps();
});

async function project(options: Parameters<typeof createMcpProject>[0] = {}): Promise<McpProject> {
  const p = await createMcpProject(options);
  projects.push(p);
  return p;
}

const tempDir = () => tmpDir("toolkit");

/** Puts a fixture version's server into the installation (what the swap will do for real). */
function installServer(p: McpProject, version: ServerVersion): void {
  fs.rmSync(path.join(p.install, "mcp_server"), { recursive: true, force: true });
  copyTree(fixtureServerDir(version), path.join(p.install, "mcp_server"));
}

const V2_TOOLS = ["get_server_info", "list_workflows", "search_standards"];

const stdioV2 = (p: McpProject, timeoutMs = 10_000) =>
  probeStdio({
    command: p.venv.python,
    args: ["-m", "mcp_server", "--transport", "stdio"],
    env: serverEnv(p.launch.env),
    cwd: p.project,
    timeoutMs,
    expectTools: V2_TOOLS,
    calls: [{ tool: "search_standards", args: { query: "credential" }, expect: { contains: "Found 1 result" } }],
  });

function startDual(p: McpProject, timeoutMs = 10_000) {
  return startDetached({
    command: p.venv.python,
    args: ["-m", "mcp_server", "--transport", "dual"],
    env: serverEnv(p.launch.env),
    cwd: p.project,
    installDir: p.install,
    logFile: path.join(p.install, ".cache", "mcp-server.log"),
    timeoutMs,
    probe: { expectTools: V2_TOOLS },
  }).then((r) => {
    if (r.spawnedPid) servers.push(r.spawnedPid);
    return r;
  });
}

/** Spawns a process and waits until it has exec'd (its /proc cmdline is the final one). */
async function spawnOther(command: string, args: string[], ready: (cmdline: string) => boolean): Promise<number> {
  const child = spawn(command, args, { stdio: "ignore" });
  children.push(child);
  await new Promise((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  const pid = child.pid!;
  const deadline = Date.now() + 5_000;
  while (!ready(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8"))) {
    if (Date.now() > deadline) throw new Error(`pid ${pid} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return pid;
}

// --- health probes against the broken variants -------------------------------------------

test("probe: a healthy v2 passes every check", async () => {
  const p = await project({ installed: "v2" });
  const probe = await stdioV2(p);
  assert.equal([probe.ok, probe.problems], [true, []]);
  assert.equal(probe.calls.map((c) => [c.tool, c.ok]), [["search_standards", true]]);
});

test("probe: v2-crash is reported with the exception from its stderr", async () => {
  const p = await project({ installed: "v2" });
  installServer(p, "v2-crash");
  const probe = await stdioV2(p);
  assert.is(probe.ok, false);
  assert.is(probe.error, "The server exited before answering: RuntimeError: Simulated start-up failure (v2-crash fixture)");
  assert.ok(probe.stderrErrors.includes("Traceback (most recent call last):"));
  assert.ok(probe.durationMs < 3_000, `${probe.durationMs} ms`);
});

test("probe: v2-missing-tool answers but lacks get_server_info", async () => {
  const p = await project({ installed: "v2" });
  installServer(p, "v2-missing-tool");
  const probe = await stdioV2(p);
  assert.is(probe.ok, false);
  assert.equal(probe.tools, ["list_workflows", "search_standards"]);
  assert.equal(probe.missingTools, ["get_server_info"]);
  assert.equal(probe.problems, ["Missing tools: get_server_info"]);
});

test("probe: v2-hang times out at the deadline instead of waiting forever", async () => {
  const p = await project({ installed: "v2" });
  installServer(p, "v2-hang");
  const probe = await stdioV2(p, 1_500);
  assert.is(probe.ok, false);
  assert.match(probe.error!, /^MCP error -32001: Request timed out/);
  assert.ok(probe.durationMs >= 1_500 && probe.durationMs < 4_000, `${probe.durationMs} ms`);
});

test("probe: v2-traceback answers correctly, but the ERROR and traceback in its stderr fail it", async () => {
  const p = await project({ installed: "v2" });
  installServer(p, "v2-traceback");
  const probe = await stdioV2(p);
  assert.equal(probe.tools, V2_TOOLS);
  assert.equal(probe.missingTools, []);
  assert.is(probe.calls[0].ok, true);
  assert.is(probe.ok, false);
  assert.equal(probe.stderrErrors.map((l) => l.replace(/^\d{4}-\d\d-\d\d \S+ /, "")), [
    "ERROR mcp_server: Failed to refresh the standards index",
    "Traceback (most recent call last):",
  ]);
  assert.is(probe.error, `The server logged 2 error line(s): ${probe.stderrErrors[0]}`);
  const lenient = await probeStdio({
    command: p.venv.python,
    args: ["-m", "mcp_server", "--transport", "stdio"],
    env: serverEnv(p.launch.env),
    timeoutMs: 10_000,
    failOnStderrErrors: false,
  });
  assert.is(lenient.ok, true);
  assert.is(lenient.stderrErrors.length, 2);
});

test("probe: a smoke call's expectation and an unregistered tool are both failures", async () => {
  const p = await project({ installed: "v1" });
  const probe = await probeStdio({
    command: p.venv.python,
    args: ["-m", "mcp_server"],
    env: serverEnv(p.launch.env),
    timeoutMs: 10_000,
    calls: [
      { tool: "search_standards", args: { query: "no-such-phrase" }, expect: { contains: "Found" } },
      { tool: "get_server_info" },
    ],
  });
  assert.equal(probe.problems, [
    `Tool "search_standards" answered without "Found": No standards matched 'no-such-phrase' (searched 3 files)`,
    `Tool "get_server_info" is not registered`,
  ]);
});

test("probe: a missing interpreter is a clear failure, not a throw", async () => {
  const probe = await probeStdio({ command: "/nonexistent/bin/python", args: ["-m", "mcp_server"], env: {}, timeoutMs: 3_000 });
  assert.is(probe.ok, false);
  assert.match(probe.error!, /ENOENT/);
});

test("scanStderr: tracebacks and ERROR/CRITICAL levels, not INFO lines that mention errors", () => {
  assert.equal(
    scanStderr("INFO mcp_server: no errors\nWARNING x\n2025 ERROR mcp: boom\nTraceback (most recent call last):\nCRITICAL y\nerror: lower case\n"),
    ["2025 ERROR mcp: boom", "Traceback (most recent call last):", "CRITICAL y"],
  );
});

test("detached: v2-crash and v2-hang fail to start within the deadline; nothing is left running", async () => {
  const p = await project({ installed: "v2" });
  installServer(p, "v2-crash");
  const crash = await startDual(p);
  assert.is(crash.ok, false);
  assert.match(crash.error!, /^The server exited \(code 1\) before writing its state file:\n[\s\S]*RuntimeError: Simulated start-up failure \(v2-crash fixture\)$/);

  installServer(p, "v2-hang");
  const hang = await startDual(p, 1_500);
  assert.is(hang.ok, false);
  assert.match(hang.error!, /^The server did not write \.mcp_server_state\.json within 1500 ms:\n.*INFO mcp_server: started \(dual\); this build never answers$/);
  assert.ok(hang.durationMs >= 1_500 && hang.durationMs < 5_000, `${hang.durationMs} ms`);
  assert.is(processAlive(hang.spawnedPid!), false);
});

test("detached: v2-missing-tool starts but fails its HTTP health check and is stopped", async () => {
  const p = await project({ installed: "v2" });
  installServer(p, "v2-missing-tool");
  const r = await startDual(p);
  assert.is(r.ok, false);
  assert.match(r.error!, /^The new server at http:\/\/127\.0\.0\.1:\d+\/mcp is not healthy: Missing tools: get_server_info$/);
  assert.equal(r.probe!.tools, ["list_workflows", "search_standards"]);
  assert.is(processAlive(r.spawnedPid!), false);
  assert.is(readServerState(p.install).status, "absent");
});

test("detached: v2-traceback's errors are read from its log file", async () => {
  const p = await project({ installed: "v2" });
  installServer(p, "v2-traceback");
  const r = await startDual(p);
  assert.is(r.ok, false);
  assert.match(r.error!, /is not healthy: The server logged 2 error line\(s\): .*ERROR mcp_server: Failed to refresh the standards index$/);
});

// --- pip into the venv -------------------------------------------------------------------

test("pip: v2's requirements install from the wheelhouse; pip freeze shows the new package", async () => {
  const p = await project({ installed: "v1" });
  assert.equal(await pipFreeze(p.venv.python), ["aou-fixture-a==1.0"]);
  const r = await pipInstall({
    python: p.venv.python,
    requirements: path.join(fixtureServerDir("v2"), "requirements.txt"),
    extraArgs: offlinePipArgs(p.wheelhouse),
  });
  assert.ok(r.ok, r.error);
  assert.is(r.attempts.length, 1);
  assert.equal(r.check, { ok: true, output: "No broken requirements found." });
  assert.equal(r.command.slice(0, 4), [p.venv.python, "-m", "pip", "install"]);
  assert.equal(await pipFreeze(p.venv.python), ["aou-fixture-a==1.0", "aou-fixture-b==1.0"]);
});

test("pip: a requirement the wheelhouse lacks fails once (no retry) and changes nothing", async () => {
  const p = await project({ installed: "v1" });
  const r = await pipInstall({
    python: p.venv.python,
    requirements: path.join(fixtureServerDir("v2-badreq"), "requirements.txt"),
    extraArgs: offlinePipArgs(p.wheelhouse),
  });
  assert.is(r.ok, false);
  assert.is(r.attempts.length, 1);
  assert.equal([r.attempts[0].exitCode, r.attempts[0].networkError], [1, false]);
  assert.ok(r.error!.endsWith("failed (exit 1, resolver error): ERROR: Could not find a version that satisfies the requirement aou-fixture-missing==9.9 (from versions: none)"), r.error);
  assert.is(r.check, undefined);
  assert.equal(await pipFreeze(p.venv.python), ["aou-fixture-a==1.0"]);
});

test("pip: network errors are retried (and only they)", async () => {
  const p = await project({ installed: "v1" });
  const port = await closedPort();
  const r = await pipInstall({
    python: p.venv.python,
    requirements: path.join(fixtureServerDir("v2"), "requirements.txt"),
    // pip names the network error only in its retry warnings: with --retries 0 it just says
    // "Could not find a version", like a missing package.
    extraArgs: ["--isolated", "--index-url", `http://127.0.0.1:${port}/simple`, "--retries", "1", "--timeout", "1"],
    retries: 1,
    retryDelayMs: 10,
    // pip itself must meet the dead index here (the up-front probe is tested in realinst-pip).
    probeIndex: false,
  });
  assert.is(r.ok, false);
  assert.equal(r.attempts.map((a) => [a.exitCode, a.networkError]), [[1, true], [1, true]]);
  assert.match(r.error!, /\(exit 1, network error, 2 attempts\)/);
});

test("pip: pip check catches what pip install lets through", async () => {
  const p = await project({ installed: "v1" });
  const wheelhouse = tempDir();
  await buildWheelhouse(wheelhouse, [{ name: "aou-fixture-c", version: "1.0", requires: ["aou-fixture-z>=1"] }]);
  const requirements = path.join(wheelhouse, "requirements.txt");
  fs.writeFileSync(requirements, "aou-fixture-c==1.0\n");
  const r = await pipInstall({ python: p.venv.python, requirements, extraArgs: [...offlinePipArgs(wheelhouse), "--no-deps"] });
  assert.is(r.ok, false);
  assert.equal(r.attempts.map((a) => a.exitCode), [0]);
  assert.equal(r.check, { ok: false, output: "aou-fixture-c 1.0 requires aou-fixture-z, which is not installed." });
  assert.is(r.error, "pip check found broken requirements: aou-fixture-c 1.0 requires aou-fixture-z, which is not installed.");
});

test("post-install: only an active playwright requirement triggers chromium; steps run and are recorded", async () => {
  const text = [
    "# playwright>=1.40",
    "requests==2.31  # not playwright",
    "playwright-stealth==1.0",
    "  Playwright[extra] >= 1.40 ; python_version > '3.8'  # browsers",
    "-r other.txt",
  ].join("\n");
  assert.equal(activeRequirements(text).map((r) => r.name), ["requests", "playwright-stealth", "playwright"]);
  assert.equal(detectPostInstall(text, { python: "/v/bin/python" }), [
    {
      rule: "playwright-chromium",
      line: "Playwright[extra] >= 1.40 ; python_version > '3.8'",
      command: ["/v/bin/python", "-m", "playwright", "install", "chromium"],
    },
  ]);
  assert.equal(detectPostInstall("# playwright\nplaywright-stealth\n"), []);
  assert.equal(detectPostInstall(fs.readFileSync(path.join(fixtureServerDir("v2"), "requirements.txt"), "utf8")), []);

  const rules = [
    { name: "hello", requirement: "aou_fixture.a", command: ["{python}", "-c", "print('post-install ran')"] },
    { name: "fails", requirement: "aou-fixture-a", command: ["{python}", "-c", "import sys; sys.exit(3)"] },
    { name: "never", requirement: "aou-fixture-a", command: ["{python}", "-c", "pass"] },
  ];
  const steps = detectPostInstall("aou-fixture-a==1.0\n", { rules, python: SYSTEM_PYTHON });
  assert.equal(steps.map((s) => s.rule), ["hello", "fails", "never"]);
  const outcomes = await runPostInstall(steps);
  assert.equal(outcomes.map((o) => [o.rule, o.ok, o.exitCode, o.output]), [["hello", true, 0, "post-install ran"], ["fails", false, 3, ""]]);
});

// --- launch command and the mcp.json migration --------------------------------------------

test("launch: mcp.json entry (absolute or ${workspaceFolder}), config override, default", async () => {
  const p = await project({ installed: "v1", workspaceVars: true, venv: false });
  const raw = JSON.parse(fs.readFileSync(p.mcpJson, "utf8"));
  assert.is(raw.mcpServers["agent-os-rag"].command, "${workspaceFolder}/.agent-os/venv/bin/python");
  const fromJson = resolveLaunch({ projectRoot: p.project, installDir: p.install });
  assert.equal(fromJson, {
    command: path.join(p.install, "venv", "bin", "python"),
    args: ["-m", "mcp_server"],
    env: { PYTHONPATH: p.install, PROJECT_ROOT: p.project, PYTHONUNBUFFERED: "1" },
    cwd: p.project,
    source: "mcp.json",
    serverName: "agent-os-rag",
  });
  const explicit = resolveLaunch({ projectRoot: p.project, installDir: p.install, explicit: { command: "/usr/bin/python3", args: ["-m", "mcp_server", "--transport", "http"] } });
  assert.equal([explicit.source, explicit.command, explicit.args, explicit.env], ["config", "/usr/bin/python3", ["-m", "mcp_server", "--transport", "http"], {}]);

  // Another server in mcp.json is ignored; without ours the default applies.
  fs.writeFileSync(p.mcpJson, JSON.stringify({ mcpServers: { github: { command: "npx", args: ["github-mcp"] } } }));
  assert.equal(resolveLaunch({ projectRoot: p.project, installDir: p.install }), {
    command: path.join(p.install, "venv", "bin", "python"),
    args: ["-m", "mcp_server", "--transport", "dual"],
    env: { PYTHONPATH: p.install, PROJECT_ROOT: p.project },
    cwd: p.project,
    source: "default",
  });
  fs.writeFileSync(p.mcpJson, "{ broken");
  assert.throws(
    () => resolveLaunch({ projectRoot: p.project, installDir: p.install }),
    (err: Error) => err.message.startsWith(`Cannot read the launch command from "${p.mcpJson}": `),
  );
});

test("launch: two mcp_server entries — the one naming this installation wins", async () => {
  const dir = tempDir();
  const install = path.join(dir, "proj", ".agent-os");
  const file = path.join(dir, "mcp.json");
  fs.writeFileSync(file, JSON.stringify({
    mcpServers: {
      other: { command: "/elsewhere/.agent-os/venv/bin/python", args: ["-m", "mcp_server"], env: { PYTHONPATH: "/elsewhere/.agent-os" } },
      ours: { command: "python3", args: ["-m", "mcp_server"], env: { PYTHONPATH: "${workspaceFolder}/.agent-os" } },
    },
  }));
  const launch = resolveLaunch({ projectRoot: path.join(dir, "proj"), installDir: install, mcpJsonPath: file });
  assert.equal([launch.serverName, launch.env.PYTHONPATH], ["ours", install]);
});

test("migration: v2 needs --transport, v1 does not; the args gain it once; mcp.json keeps everything else", async () => {
  assert.equal(needsTransportArg(fixtureServerDir("v1")), { needed: false });
  assert.equal(needsTransportArg(fixtureServerDir("v2")), { needed: true, file: path.join(fixtureServerDir("v2"), "__main__.py") });
  assert.equal(migrateLaunchArgs(["-m", "mcp_server"], true), { args: ["-m", "mcp_server", "--transport", "dual"], changed: true });
  assert.equal(migrateLaunchArgs(["-m", "mcp_server", "--transport", "stdio"], true), { args: ["-m", "mcp_server", "--transport", "stdio"], changed: false });
  assert.equal(migrateLaunchArgs(["-m", "mcp_server", "--transport=http"], true).changed, false);
  assert.equal(migrateLaunchArgs(["-m", "mcp_server"], false), { args: ["-m", "mcp_server"], changed: false });
  assert.equal(withTransport(["-m", "mcp_server", "--transport", "dual", "--port", "0"], "stdio"), ["-m", "mcp_server", "--transport", "stdio", "--port", "0"]);
  assert.equal(withTransport(["--transport=dual"], "stdio"), ["--transport=stdio"]);

  const p = await project({ installed: "v1", venv: false });
  const read = readMcpJson(p.mcpJson);
  assert.is(read.status, "ok");
  if (read.status !== "ok") return;
  const data = { ...read.data, extra: { keep: true } };
  const updated = withServerArgs(data, "agent-os-rag", migrateLaunchArgs(["-m", "mcp_server"], true).args);
  assert.equal(updated.mcpServers!["agent-os-rag"], { ...read.data.mcpServers!["agent-os-rag"], args: ["-m", "mcp_server", "--transport", "dual"] });
  assert.equal(updated.extra, { keep: true });
  assert.equal(data.mcpServers!["agent-os-rag"].args, ["-m", "mcp_server"]); // input untouched
  assert.is(formatMcpJson(read.data, read.text), read.text); // same formatting round-trips
  assert.is(formatMcpJson({ a: 1 }, '{\n    "a": 2\n}'), '{\n    "a": 1\n}\n');
  assert.throws(() => withServerArgs(data, "nope", []), /Cannot update "nope": mcp.json has no such server entry/);
});

// --- processes: identity, refusal, stop, restart latency -----------------------------------

test("process: unrelated processes with mcp_server in their command line are never touched", async () => {
  const p = await project({ installed: "v2" });
  const other = await project({ installed: "v2", venv: true });
  const execA = await spawnOther("bash", ["-c", "exec -a 'python -m mcp_server' sleep 60"], (c) => c.startsWith("python -m mcp_server"));
  // The real interpreter, not a pyenv shim (a bash script until it execs python).
  const python = fs.realpathSync(other.venv.python);
  const lookalike = await spawnOther(
    python,
    ["-c", "import time; time.sleep(60)", "-m", "mcp_server", path.join(other.install, "mcp_server")],
    (c) => c.startsWith(`${python}\0-c`),
  );
  // Deno spawns with the resolved path as argv[0] (/usr/bin/sleep), Node with "sleep".
  const plain = await spawnOther("sleep", ["60"], (c) => /^(\S*\/)?sleep\0/.test(c));
  const otherServer = await startDual(other);
  assert.ok(otherServer.ok, otherServer.error);

  const cases: [number, RegExp][] = [
    [execA, /runs another installation's mcp_server \("python -m mcp_server 60"\)$/],
    [lookalike, /runs another installation's mcp_server/],
    [plain, /does not run mcp_server \("(\/usr\/bin\/)?sleep 60"\)$/],
    [otherServer.spawnedPid!, /runs another installation's mcp_server/],
  ];
  for (const [pid, reason] of cases) {
    fs.writeFileSync(path.join(p.install, STATE_FILE_NAME), JSON.stringify({ pid, url: "http://127.0.0.1:9/mcp", transport: "dual" }));
    const { found, stop } = await stopProjectServer(p.install, { timeoutMs: 500 });
    assert.is(found.status, "foreign", `pid ${pid}`);
    assert.match(found.reason, reason);
    assert.is(stop, undefined);
    assert.ok(processAlive(pid), `pid ${pid} must still run`);
  }
  assert.ok(identifyServer(otherServer.spawnedPid!, other.install).ours);
});

test("process: zombies are dead, stale and invalid state files are reported, SIGKILL follows an ignored SIGTERM", async () => {
  const dir = tempDir();
  // A child that exits while its parent never reaps it: a zombie.
  const parent = spawn(SYSTEM_PYTHON, ["-c", "import os, time\npid = os.fork()\nif pid == 0:\n    os._exit(0)\nprint(pid, flush=True)\ntime.sleep(60)"], { stdio: ["ignore", "pipe", "ignore"] });
  children.push(parent);
  const zombie = Number(await new Promise<string>((resolve) => parent.stdout!.once("data", (b) => resolve(String(b)))));
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.match(fs.readFileSync(`/proc/${zombie}/status`, "utf8"), /^State:\s+Z/m);
  process.kill(zombie, 0); // the kernel still calls it alive …
  assert.is(processAlive(zombie), false); // … we do not.

  fs.writeFileSync(path.join(dir, STATE_FILE_NAME), JSON.stringify({ pid: zombie, url: "http://127.0.0.1:9/mcp" }));
  assert.equal(findProjectServer(dir), { status: "stale", state: { pid: zombie, url: "http://127.0.0.1:9/mcp" }, reason: `The state file names pid ${zombie}, which is not running` });
  fs.writeFileSync(path.join(dir, STATE_FILE_NAME), '{"pid": "12"}');
  const invalid = findProjectServer(dir);
  assert.is(invalid.status, "invalid-state");
  assert.match(invalid.reason, /^Cannot read ".*\.mcp_server_state\.json": ✖ Invalid input: expected number, received string\n  → at pid$/);
  fs.rmSync(path.join(dir, STATE_FILE_NAME));
  assert.equal(findProjectServer(dir), { status: "none", reason: "No .mcp_server_state.json: no http/dual server is running" });

  const stubbornChild = spawn(
    SYSTEM_PYTHON,
    ["-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  children.push(stubbornChild);
  await new Promise((resolve) => stubbornChild.stdout!.once("data", resolve)); // the handler is in place
  const stubborn = stubbornChild.pid!;
  const stop = await stopServer(stubborn, { timeoutMs: 300 });
  assert.equal([stop.exited, stop.signal], [true, "SIGKILL"]);
  assert.ok(stop.durationMs >= 300, `${stop.durationMs} ms`);
});

test("process: restart by pid — stop the running dual server, start the new one, healthy over HTTP", async () => {
  const p = await project({ installed: "v2" });
  const first = await startDual(p);
  assert.ok(first.ok, first.error);
  const latencies: number[] = [];
  let previous = first.spawnedPid!;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const { found, stop } = await stopProjectServer(p.install);
    assert.is(found.status, "running");
    assert.equal([stop!.pid, stop!.exited, stop!.signal], [previous, true, "SIGTERM"]);
    const next = await startDual(p);
    latencies.push(Math.round(performance.now() - t0));
    assert.ok(next.ok, next.error);
    assert.is.not(next.spawnedPid, previous);
    assert.is(next.state!.pid, next.spawnedPid);
    assert.is(processAlive(previous), false);
    previous = next.spawnedPid!;
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  console.log(`  restart-to-healthy (stop + start + MCP over HTTP): ${latencies.join(", ")} ms; median ${sorted[1]} ms`);
  assert.ok(sorted[1] < 10_000, "SPEC target: under 10 s");
  await stopProjectServer(p.install);
  assert.is(readServerState(p.install).status, "absent");
});

// --- stage and swap ------------------------------------------------------------------------

async function stagingFixture() {
  const p = await project({ installed: "v1", venv: false });
  const src = path.join(p.source, "mcp_server");
  // Files the copy must leave out (SPEC §2).
  for (const rel of ["__pycache__/_common.cpython-311.pyc", "sub/__pycache__/x.pyc", "old.pyc", ".DS_Store", ".pytest_cache/v/x", ".mypy_cache/3.11/x.json", ".agent-os/standards/x.md", ".cursor/mcp.json"]) {
    fs.mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
    fs.writeFileSync(path.join(src, rel), "excluded");
  }
  fs.writeFileSync(path.join(src, "sub", "tool.py"), "X = 1\n");
  fs.chmodSync(path.join(src, "sub", "tool.py"), 0o755);
  const live = path.join(p.install, "mcp_server");
  const expected: Record<string, string> = {};
  for (const rel of ["__init__.py", "__main__.py", "_common.py", "requirements.txt"]) {
    expected[rel] = await sha256File(path.join(fixtureServerDir("v2"), rel));
  }
  expected["sub/tool.py"] = await sha256File(path.join(src, "sub", "tool.py"));
  return { p, src, live, expected, v1: await hashTree(live) };
}

test("stage + swap: exact hashes, excludes left out, stale modules gone, old folder kept until removed", async () => {
  const { src, live, expected, v1 } = await stagingFixture();
  assert.ok("legacy_paths.py" in v1);
  const staged = await stageCopy({ source: src, live, id: "s1" });
  assert.equal(staged.files, expected);
  assert.is(staged.staged, stagedPath(live, "s1"));
  assert.equal(await hashTree(live), v1); // live untouched while staging
  const swap = swapStaged(live, "s1");
  assert.equal(swap, { live, old: oldPath(live, "s1") });
  assert.equal(await hashTree(live, []), expected); // nothing else, not even excluded files
  assert.is(fs.existsSync(path.join(live, "legacy_paths.py")), false);
  assert.is(fs.statSync(path.join(live, "sub", "tool.py")).mode & 0o777, 0o755);
  assert.equal(await hashTree(oldPath(live, "s1")), v1);
  assert.is(fs.existsSync(stagedPath(live, "s1")), false);
  assert.throws(() => swapStaged(live, "s1"), /Cannot swap ".*": the staged folder ".*\.staged-s1" does not exist/);
  removeOld(live, "s1");
  assert.equal(fs.readdirSync(path.dirname(live)).filter((n) => n.startsWith("mcp_server")), ["mcp_server"]);
});

test("stage: verifyTree reports missing, changed and extra files", async () => {
  const { src, live, expected } = await stagingFixture();
  const { staged } = await stageCopy({ source: src, live, id: "v" });
  fs.rmSync(path.join(staged, "__init__.py"));
  fs.appendFileSync(path.join(staged, "_common.py"), "# changed\n");
  fs.writeFileSync(path.join(staged, "extra.py"), "");
  const problems = await verifyTree(staged, expected);
  assert.is(problems.length, 3);
  assert.is(problems[0], '"__init__.py" is missing');
  assert.match(problems[1], /^"_common\.py" has sha256 [0-9a-f]{12}…, expected [0-9a-f]{12}…$/);
  assert.is(problems[2], '"extra.py" is not in the source');
});

test("swap crash repair: between the renames (forward and back), while staging, after the swap", async () => {
  const { src, live, expected, v1 } = await stagingFixture();
  const crashBetweenRenames = async (id: string) => {
    await stageCopy({ source: src, live, id });
    fs.renameSync(live, oldPath(live, id)); // the first rename happened, then the "crash"
    assert.is(fs.existsSync(live), false);
  };

  await crashBetweenRenames("c1");
  assert.is(repairSwap(live, "c1", "forward"), "completed");
  assert.equal(await hashTree(live, []), expected);
  assert.equal(await hashTree(oldPath(live, "c1")), v1);
  assert.is(repairSwap(live, "c1"), "none"); // a finished swap needs nothing
  // Back to v1 for the next case: undo through the old folder.
  fs.rmSync(live, { recursive: true });
  fs.renameSync(oldPath(live, "c1"), live);

  await crashBetweenRenames("c2");
  assert.is(repairSwap(live, "c2", "back"), "reverted");
  assert.equal(await hashTree(live), v1);
  assert.is(fs.existsSync(stagedPath(live, "c2")), false);
  assert.is(fs.existsSync(oldPath(live, "c2")), false);

  await stageCopy({ source: src, live, id: "c3" }); // crash before the first rename
  assert.is(repairSwap(live, "c3", "forward"), "discarded-staged");
  assert.equal(await hashTree(live), v1);
  assert.is(repairSwap(live, "never"), "none");
  assert.equal(fs.readdirSync(path.dirname(live)).filter((n) => n.startsWith("mcp_server")), ["mcp_server"]);
});

function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

test.run();
