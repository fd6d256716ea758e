// A server that cannot run here is found in pre-flight, before anything is written (issue 10
// part 4): no venv, a venv without the server's packages, a server that exits at start. Each
// refusal is exit 4 with both ways out; `--no-validate` then completes and says "not validated".
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { EXIT } from "../core/errors.ts";
import { resultOf, runCli } from "./helpers/cli.ts";
import { fixtureServerDir } from "../demo/kit/fixture-server.ts";
import type { McpProject } from "./helpers/mcp-project.ts";
import { assertServerRefused, trackedProject } from "./helpers/realinst.ts";
import { hashTree } from "../plugins/server/stage.ts";

const run = promisify(execFile);
const projects: McpProject[] = [];
test.after(() => {
  for (const p of projects) p.cleanup();
});

const project = (o: Parameters<typeof trackedProject>[1]) => trackedProject(projects, o);
const assertRefused = assertServerRefused;

test("no venv: pre-flight exit 4, nothing written; --no-validate --skip-deps then completes, not validated", async () => {
  const p = await project({ venv: false });
  const errors = await assertRefused(p, /interpreter ".*\/venv\/bin\/python" does not exist \(no venv\)/);
  const f = errors.find((e: { code: string }) => e.code === "SERVER_CANNOT_START");
  assert.match(f!.fix, `python3 -m venv "${p.install}/venv"`);
  // The deps plugin cannot install into a venv that is not there either: its own finding says --skip-deps.
  assert.equal(errors.map((e: { code: string }) => e.code).sort(), ["SERVER_CANNOT_START", "VENV_MISSING"]);

  const human = await runCli(["--source", p.source], { cwd: p.project, timeoutMs: 120_000 });
  assert.is(human.code, EXIT.preflight);
  assert.match(human.stdout, "Cannot start the installed MCP server");
  assert.match(human.stdout, "--no-validate");
  assert.match(human.stdout, "--skip-deps");

  const done = await runCli(["--source", p.source, "--no-validate", "--skip-deps", "--json"], { cwd: p.project, timeoutMs: 180_000 });
  assert.is(done.code, 0, done.stdout + done.stderr);
  const res = resultOf(done);
  assert.is(res.status, "completed");
  assert.is(res.validation, "skipped");
  const summary = fs.readFileSync(res.report_path, "utf8");
  assert.match(summary, "- Validation: not validated (--no-validate): the MCP server was not checked");
  assert.equal(await hashTree(path.join(p.install, "mcp_server")), await hashTree(fixtureServerDir("v2")));
  assert.is(fs.existsSync(path.join(p.install, "venv")), false, "no venv was made up");
});

test("a venv without the server's packages: exit 4 naming the missing module, nothing written", async () => {
  const p = await project({});
  await run(p.venv.python, ["-m", "pip", "uninstall", "--yes", "--quiet", "--disable-pip-version-check", "aou-fixture-a"]);
  await assertRefused(p, /the venv lacks the module "aou_fixture_a"/);
});

test.run();
