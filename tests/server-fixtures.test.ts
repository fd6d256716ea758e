// The test fixtures themselves, on real processes: the Python MCP server versions, the
// stdlib-built wheels, the cached venvs and the temp project. The server toolkit's own
// behaviour (failure detection, pip, stage/swap, process handling) is in server-toolkit.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { serverEnv } from "../plugins/server/launch.ts";
import { probeStdio } from "../plugins/server/mcp-client.ts";
import { identifyServer, processAlive, readServerState, startDetached, stopServer } from "../plugins/server/process.ts";
import { sha256File } from "../plugins/server/stage.ts";
import { FIXTURE_DIR, fixtureServerDir, SERVER_LAYERS, SERVER_VERSIONS } from "../demo/kit/fixture-server.ts";
import { copyTree } from "../demo/kit/tree.ts";
import { createVenv, pipFreeze, venvTimings } from "../demo/kit/venv.ts";
import { buildWheel, sharedWheelhouse, SYSTEM_PYTHON } from "../demo/kit/wheels.ts";
import { createMcpProject, type McpProject } from "./helpers/mcp-project.ts";

const run = promisify(execFile);
const projects: McpProject[] = [];
const started: number[] = [];

async function project(options: Parameters<typeof createMcpProject>[0] = {}): Promise<McpProject> {
  const p = await createMcpProject(options);
  projects.push(p);
  return p;
}

const stdio = (p: McpProject, args: string[], extra: Partial<Parameters<typeof probeStdio>[0]> = {}) =>
  probeStdio({ command: p.venv.python, args, env: serverEnv(p.launch.env), cwd: p.project, timeoutMs: 10_000, ...extra });

test.after(async () => {
  for (const pid of started) if (processAlive(pid)) await stopServer(pid, { timeoutMs: 1_000 });
  for (const p of projects) p.cleanup();
});

test("fixture: the seven variants are generated from one _common.py, each a complete package", async () => {
  const base = await sha256File(path.join(FIXTURE_DIR, "common", "_common.py"));
  for (const version of SERVER_VERSIONS) {
    const dir = fixtureServerDir(version);
    for (const file of ["__init__.py", "__main__.py", "_common.py", "requirements.txt"]) {
      assert.ok(fs.existsSync(path.join(dir, file)), `${version}/mcp_server/${file}`);
    }
    assert.is(await sha256File(path.join(dir, "_common.py")), base, `${version}/mcp_server/_common.py is the base`);
  }
  // One copy on disk: only `common/` holds _common.py, and every layer folder is used.
  const layers = new Set(Object.values(SERVER_LAYERS).flat());
  assert.equal(fs.readdirSync(FIXTURE_DIR).sort(), [...layers, "scripts-v1", "scripts-v2"].sort());
  for (const layer of layers) assert.is(fs.existsSync(path.join(FIXTURE_DIR, layer, "_common.py")), layer === "common", `${layer}/_common.py`);
});

test("wheels: a stdlib-built wheel has exact METADATA and WHEEL, and a RECORD pip's format expects", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aou-wheel-test-"));
  try {
    const wheel = await buildWheel(dir, { name: "aou-fixture-c", version: "2.5", requires: ["aou-fixture-a>=1"] });
    assert.is(path.basename(wheel), "aou_fixture_c-2.5-py3-none-any.whl");
    const script = [
      "import base64, hashlib, json, sys, zipfile",
      "z = zipfile.ZipFile(sys.argv[1])",
      "names = z.namelist()",
      "rec = [l.split(',') for l in z.read('aou_fixture_c-2.5.dist-info/RECORD').decode().splitlines()]",
      "bad = [p for p, h, n in rec if h and (h != 'sha256=' + base64.urlsafe_b64encode(hashlib.sha256(z.read(p)).digest()).rstrip(b'=').decode() or int(n) != len(z.read(p)))]",
      "print(json.dumps({'names': names, 'record': [r[0] for r in rec], 'bad': bad, 'metadata': z.read('aou_fixture_c-2.5.dist-info/METADATA').decode(), 'wheel': z.read('aou_fixture_c-2.5.dist-info/WHEEL').decode()}))",
    ].join("\n");
    const out = JSON.parse((await run(SYSTEM_PYTHON, ["-c", script, wheel])).stdout);
    assert.equal(out.names, [
      "aou_fixture_c/__init__.py",
      "aou_fixture_c-2.5.dist-info/METADATA",
      "aou_fixture_c-2.5.dist-info/WHEEL",
      "aou_fixture_c-2.5.dist-info/RECORD",
    ]);
    assert.equal(out.record, out.names);
    assert.equal(out.bad, []);
    assert.is(
      out.metadata,
      "Metadata-Version: 2.1\nName: aou-fixture-c\nVersion: 2.5\nSummary: agent-os-upgrade test fixture\nRequires-Dist: aou-fixture-a>=1\n",
    );
    assert.is(out.wheel, "Wheel-Version: 1.0\nGenerator: agent-os-upgrade-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("venv: copies of the cached venv are independent; preinstalled packages come from the wheelhouse", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aou-venv-test-"));
  try {
    const wheelhouse = await sharedWheelhouse();
    const empty = await createVenv(path.join(dir, "empty"));
    const withA = await createVenv(path.join(dir, "with-a"), { packages: ["aou-fixture-a==1.0"], wheelhouse });
    assert.equal(await pipFreeze(empty), []);
    assert.equal(await pipFreeze(withA), ["aou-fixture-a==1.0"]);
    const prefix = (await run(withA.python, ["-c", "import sys, aou_fixture_a; print(sys.prefix, aou_fixture_a.VERSION)"])).stdout.trim();
    assert.is(prefix, `${withA.dir} 1.0`);
    assert.ok(venvTimings.lastCopyMs < venvTimings.createMs, `copy ${venvTimings.lastCopyMs} ms vs create ${venvTimings.createMs} ms`);
    console.log(`  venv: create ${venvTimings.createMs} ms, copy ${venvTimings.lastCopyMs} ms`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("project: installation, mcp.json and a committed source checkout", async () => {
  const p = await project();
  for (const rel of ["mcp_server/__main__.py", "mcp_server/legacy_paths.py", "scripts/legacy_migrate.py", "workflows/spec_creation_v1/metadata.json", "standards/development/team-notes.md"]) {
    assert.ok(fs.existsSync(path.join(p.install, rel)), rel);
  }
  assert.equal(JSON.parse(fs.readFileSync(p.mcpJson, "utf8")), {
    mcpServers: {
      "agent-os-rag": {
        command: path.join(p.install, "venv", "bin", "python"),
        args: ["-m", "mcp_server"],
        env: { PYTHONPATH: p.install, PROJECT_ROOT: p.project, PYTHONUNBUFFERED: "1" },
      },
    },
  });
  assert.equal(await pipFreeze(p.venv), ["aou-fixture-a==1.0"]);
  const status = (await run("git", ["status", "--porcelain"], { cwd: p.source })).stdout;
  assert.is(status, "");
  assert.match(p.sourceCommit, /^[0-9a-f]{40}$/);
  assert.is(await sha256File(path.join(p.source, "mcp_server", "__main__.py")), await sha256File(path.join(fixtureServerDir("v2"), "__main__.py")));
});

test("v1 over stdio: the handshake lists exactly two tools, which answer from the installation", async () => {
  const p = await project();
  const probe = await stdio(p, ["-m", "mcp_server"], {
    expectTools: ["search_standards", "list_workflows"],
    calls: [
      { tool: "search_standards", args: { query: "pyramid" }, expect: { contains: "standards/universal/testing/test-pyramid.md" } },
      { tool: "list_workflows", expect: { contains: "spec_execution_v1" } },
    ],
  });
  assert.is(probe.error, undefined);
  assert.ok(probe.ok);
  assert.equal(probe.serverInfo, { name: "agent-os-fixture", version: "1.0.0" });
  assert.equal(probe.tools, ["list_workflows", "search_standards"]);
  assert.is(probe.calls[0].text, "Found 1 result(s) for 'pyramid':\n- standards/universal/testing/test-pyramid.md: # Test pyramid");
  assert.is(probe.calls[1].text, "spec_creation_v1\nspec_execution_v1");
  assert.equal(probe.stderrErrors, []);
  assert.ok(probe.durationMs < 5_000, `${probe.durationMs} ms`);
});

test("v2 without --transport exits at once with argparse's message", async () => {
  const p = await project({ installed: "v2" });
  const probe = await stdio(p, ["-m", "mcp_server"]);
  assert.is(probe.ok, false);
  assert.is(probe.error, "The server exited before answering: python -m mcp_server: error: the following arguments are required: --transport");
  assert.equal(probe.tools, []);
  assert.ok(probe.durationMs < 3_000, `${probe.durationMs} ms`);
});

test("v2 with --transport stdio: three tools; get_server_info reports both dependencies", async () => {
  const p = await project({ installed: "v2" });
  const probe = await stdio(p, ["-m", "mcp_server", "--transport", "stdio"], { calls: [{ tool: "get_server_info" }] });
  assert.ok(probe.ok, probe.error);
  assert.equal(probe.serverInfo, { name: "agent-os-fixture", version: "2.0.0" });
  assert.equal(probe.tools, ["get_server_info", "list_workflows", "search_standards"]);
  const info = JSON.parse(probe.calls[0].text);
  assert.equal(info.dependencies, { "aou-fixture-a": "1.0", "aou-fixture-b": "1.0" });
  assert.is(info.transport, "stdio");
  assert.is(info.install_dir, p.install);
});

test("v2 in a venv without aou-fixture-b fails at import", async () => {
  const p = await project({ installed: "v1" });
  fs.rmSync(path.join(p.install, "mcp_server"), { recursive: true });
  copyTree(fixtureServerDir("v2"), path.join(p.install, "mcp_server"));
  const probe = await stdio(p, ["-m", "mcp_server", "--transport", "stdio"]);
  assert.is(probe.ok, false);
  assert.is(probe.error, "The server exited before answering: ModuleNotFoundError: No module named 'aou_fixture_b'");
  assert.ok(probe.stderrErrors.includes("Traceback (most recent call last):"));
});

test("v2 dual, started detached: state file, HTTP answers, stopped by pid, state file removed", async () => {
  const p = await project({ installed: "v2" });
  const logFile = path.join(p.install, ".cache", "mcp-server.log");
  const start = await startDetached({
    command: p.venv.python,
    args: ["-m", "mcp_server", "--transport", "dual"],
    env: serverEnv(p.launch.env),
    cwd: p.project,
    installDir: p.install,
    logFile,
    timeoutMs: 10_000,
    probe: { expectTools: ["get_server_info", "list_workflows", "search_standards"], calls: [{ tool: "list_workflows", expect: { contains: "spec_creation_v1" } }] },
  });
  if (start.spawnedPid) started.push(start.spawnedPid);
  assert.ok(start.ok, start.error);
  const read = readServerState(p.install);
  assert.is(read.status, "ok");
  if (read.status !== "ok") return;
  assert.is(read.state.pid, start.spawnedPid);
  assert.is(read.state.transport, "dual");
  assert.match(read.state.url!, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
  assert.equal(start.probe!.tools, ["get_server_info", "list_workflows", "search_standards"]);
  assert.equal(start.probe!.stderrErrors, []);
  assert.match(fs.readFileSync(logFile, "utf8"), /INFO mcp_server: serving dual on http:\/\/127\.0\.0\.1:\d+\/mcp/);

  // stdin was /dev/null: the server must keep serving, not end with its (empty) stdin.
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.ok(processAlive(read.state.pid));
  const identity = identifyServer(read.state.pid, p.install);
  assert.ok(identity.ours, identity.reason);
  assert.is(identity.reason, `pid ${read.state.pid} runs this installation's server (its command line, its PYTHONPATH)`);

  const stop = await stopServer(read.state.pid);
  assert.equal([stop.exited, stop.signal], [true, "SIGTERM"]);
  assert.is(processAlive(read.state.pid), false);
  assert.is(readServerState(p.install).status, "absent");
});

test("v2 dual owned by an IDE (stdin is a pipe) ends with its stdin and removes its state file", async () => {
  const p = await project({ installed: "v2" });
  const probe = await stdio(p, ["-m", "mcp_server", "--transport", "dual"]);
  assert.ok(probe.ok, probe.error);
  // close() ends stdin; a server still running 2 s later would have been SIGTERMed (slow).
  assert.ok(probe.durationMs < 1_900, `${probe.durationMs} ms`);
  assert.match(probe.stderr, /INFO mcp_server: stopped/);
  assert.is(readServerState(p.install).status, "absent");
});

test.run();
