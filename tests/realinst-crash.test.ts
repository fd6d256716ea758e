// A server that exits at start is refused in pre-flight (exit 4, nothing written, both ways out);
// `--no-validate` then completes, keeps the user-file check, and says "not validated" (issue 10 part 4).

import fs from "node:fs";
import path from "node:path";

import { test } from "uvu";
import * as assert from "uvu/assert";
import { EXIT } from "../core/errors.ts";
import { resultOf, runCli } from "./helpers/cli.ts";
import { fixtureServerDir } from "../demo/kit/fixture-server.ts";
import type { McpProject } from "./helpers/mcp-project.ts";
import { snapshotTree } from "../demo/kit/tree.ts";
import { realProject, writeRealConfig } from "./helpers/realinst.ts";
import { hashTree } from "../plugins/server/stage.ts";


const projects: McpProject[] = [];
test.after(() => {
  for (const p of projects) p.cleanup();
});

async function project(o: Parameters<typeof realProject>[0]): Promise<McpProject> {
  const p = await realProject(o);
  projects.push(p);
  writeRealConfig(p);
  return p;
}

/** Project and source, with mtimes: "nothing written" means this is identical afterwards. */
const tree = (p: McpProject) => ({ project: snapshotTree(p.project, { mtime: true }), source: snapshotTree(p.source, { mtime: true }) });

async function assertRefused(p: McpProject, reason: RegExp) {
  const before = tree(p);
  const r = await runCli(["--source", p.source, "--json"], { cwd: p.project, timeoutMs: 120_000 });
  assert.is(r.code, EXIT.preflight, r.stdout + r.stderr);
  const res = resultOf(r);
  const errors = res.findings.filter((f: { level: string }) => f.level === "error");
  const f = errors.find((e: { code: string }) => e.code === "SERVER_CANNOT_START");
  assert.ok(f, `a SERVER_CANNOT_START finding in ${JSON.stringify(errors)}`);
  assert.match(f.message, reason);
  // Both ways out, with this project's exact paths.
  assert.match(f.fix, `"${p.install}/venv/bin/python" -m pip install -r "${p.install}/mcp_server/requirements.txt"`);
  assert.match(f.fix, "--no-validate");
  assert.is(res.session_id, null);
  assert.equal(tree(p), before, "byte- and mtime-identical project and source");
  return errors;
}

test("a server that exits at start: exit 4, nothing written; --no-validate completes and the result says skipped", async () => {
  const p = await project({ installed: "v2-crash", source: "v2" });
  await assertRefused(p, /Simulated start-up failure|Connection closed|exit/i);

  const human = await runCli(["--source", p.source, "--no-validate"], { cwd: p.project, timeoutMs: 180_000 });
  assert.is(human.code, 0, human.stdout + human.stderr);
  assert.match(human.stdout, "The upgraded MCP server was not validated (--no-validate)");
  assert.match(human.stderr, "validate: skipped (--no-validate)");
  assert.equal(await hashTree(path.join(p.install, "mcp_server")), await hashTree(fixtureServerDir("v2")));
  // Phase 4 still compared the user's files with the backup.
  const state = fs.readdirSync(path.join(p.install, ".cache", "state")).map((f) => JSON.parse(fs.readFileSync(path.join(p.install, ".cache", "state", f), "utf8")));
  const ev4 = state[0].phases["4"].evidence;
  assert.is(ev4.validation, "skipped");
  assert.is(ev4.user_files_unchanged, true);
  assert.equal(ev4.tools_registered, []);
});

test.run();
