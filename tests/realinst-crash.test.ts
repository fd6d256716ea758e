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
import { assertServerRefused, trackedProject } from "./helpers/realinst.ts";
import { hashTree } from "../plugins/server/stage.ts";


const projects: McpProject[] = [];
test.after(() => {
  for (const p of projects) p.cleanup();
});

const project = (o: Parameters<typeof trackedProject>[1]) => trackedProject(projects, o);
const assertRefused = assertServerRefused;

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
  assert.is(ev4.validate.validation, "skipped");
  assert.is(ev4["user-files"].user_files_unchanged, true);
  assert.equal(ev4.validate.tools_registered, []);
});

test.run();
