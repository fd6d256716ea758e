// The successor's layout (issue 10 part 6): a `.praxis-os/` install, launched from mcp.json as
// "praxis-os", upgraded from a praxis-os-shaped source (with a nested `.praxis-os/` left in its
// mcp_server by dogfooding) works as `.agent-os/` does: real venv, real server, real rollback.
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { EXIT } from "../core/errors.ts";
import { hashTree } from "../plugins/server/stage.ts";
import { resultOf, runCli } from "./helpers/cli.ts";
import { fixtureServerDir } from "../demo/kit/fixture-server.ts";
import { createMcpProject, type McpProject } from "./helpers/mcp-project.ts";
import { git } from "./helpers/project.ts";
import { snapshotTree } from "../demo/kit/tree.ts";
import { ADDED_LATER, addLaterRelease, writeRealConfig } from "./helpers/realinst.ts";
import { pipFreeze } from "../demo/kit/venv.ts";

const projects: McpProject[] = [];
test.after(() => {
  for (const p of projects) p.cleanup();
});

async function praxisProject(source: "v2" | "v2-crash"): Promise<McpProject> {
  const p = await createMcpProject({ installName: ".praxis-os", source });
  projects.push(p);
  // Dogfooding leaves an install inside the source's server folder: it must never be installed.
  fs.mkdirSync(path.join(p.source, "mcp_server", ".praxis-os", "standards"), { recursive: true });
  fs.writeFileSync(path.join(p.source, "mcp_server", ".praxis-os", "standards", "nested.md"), "dogfood\n");
  git(p.source, "add", "-A");
  git(p.source, "commit", "-qm", "praxis-os: nested dogfood install");
  addLaterRelease(p.source);
  writeRealConfig(p);
  return p;
}

test("a .praxis-os install upgrades end to end: new server, new package, mcp.json \"praxis-os\" migrated, records under .praxis-os", async () => {
  const p = await praxisProject("v2");
  assert.is(fs.existsSync(path.join(p.project, ".agent-os")), false);
  const r = await runCli(["--source", p.source, "--json"], { cwd: p.project, timeoutMs: 180_000 });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const res = resultOf(r);
  assert.is(res.validation, "passed");
  assert.ok(res.report_path.startsWith(path.join(p.install, ".cache", "upgrade-summary-")), res.report_path);
  assert.ok(res.backup_path.startsWith(path.join(p.install, ".backups") + path.sep), res.backup_path);
  assert.equal(await hashTree(path.join(p.install, "mcp_server")), await hashTree(fixtureServerDir("v2")), "no nested .praxis-os copied");
  assert.ok((await pipFreeze(p.venv)).includes("aou-fixture-b==1.0"));
  const mcp = JSON.parse(fs.readFileSync(p.mcpJson, "utf8"));
  assert.equal(Object.keys(mcp.mcpServers), ["praxis-os"]);
  assert.equal(mcp.mcpServers["praxis-os"].args, ["-m", "mcp_server", "--transport", "dual"]);
  assert.ok(fs.existsSync(path.join(p.install, ".upgrade", "installed-manifest.json")));
  assert.match(fs.readFileSync(path.join(p.install, "VERSION.txt"), "utf8"), `commit=${git(p.source, "rev-parse", "HEAD")}`);
  assert.is(fs.existsSync(path.join(p.project, ".agent-os")), false, "nothing written under .agent-os");
  assert.ok(fs.existsSync(path.join(p.install, "standards/universal", ADDED_LATER)), "the standard the later release added is installed");
});

test("a .praxis-os install with a broken new server is rolled back exactly", async () => {
  const p = await praxisProject("v2-crash");
  const ours = (rel: string) => rel.startsWith(".praxis-os/.cache") || rel.startsWith(".praxis-os/.backups") || rel.includes("__pycache__");
  const before = snapshotTree(p.project, { skip: ours });
  const r = await runCli(["--source", p.source, "--json"], { cwd: p.project, timeoutMs: 180_000 });
  assert.is(r.code, EXIT.rolledBack, r.stdout + r.stderr);
  assert.is(resultOf(r).status, "rolled_back");
  assert.equal(snapshotTree(p.project, { skip: ours }), before);
});

test.run();
