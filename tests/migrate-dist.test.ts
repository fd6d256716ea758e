// Issue 23, the `dist/` target: an agent-os-enhanced install (4a65907 from the real history,
// edited by its user, with a config.json) migrated to praxis-os rewritten as the `dist/` +
// `ouroboros` layout (the bundle's praxis-os HEAD plus one commit moving `universal/` to
// `dist/universal/`, as upstream's rewrite did). The base is read through the old layout's
// paths, `mcp_server/` is retired into the backup, `ouroboros/` and `config/mcp.yaml` arrive,
// and the launch entry runs the new module, validated by its own line; then rollback.
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { resultOf, runCli } from "./helpers/cli.ts";
import { gitMergeFile } from "./helpers/content-project.ts";
import { CURSORRULES, migrateProject, SPEC, TEAM_STANDARD, USER_NOTE } from "./helpers/migrate-project.ts";
import { git } from "./helpers/project.ts";
import { removeTemps } from "./helpers/temp.ts";

const T = 240_000;
const CONFIG_JSON = JSON.stringify({ rag: { standards_path: ".agent-os/standards", embedding_provider: "openai" }, mcp: { http_port: 4300 } }, null, 2) + "\n";

async function distProject() {
  const p = await migrateProject("dist");
  fs.writeFileSync(path.join(p.install, "config.json"), CONFIG_JSON);
  return p;
}

const filesUnder = (dir: string): string[] => fs.readdirSync(dir, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).filter((r) => !r.includes("__pycache__")).sort();

test("dist target, the plan: the layouts, the retired mcp_server/, the entry's new module and tools, config.json's values; nothing written", async () => {
  const p = await distProject();
  const before = snapshotTree(p.project);
  const r = await runCli(["migrate", "--source", p.source, "--dry-run", "--json"], { cwd: p.project, timeoutMs: T });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const res = resultOf(r);
  assert.equal(res.layout, { source: "praxis-os-dist", install: "agent-os-enhanced", move: { from: p.install, to: path.join(p.project, ".praxis-os") } });
  const entry = res.plan.launch_migrations[0];
  assert.equal(entry.after, ["-m", "ouroboros", "--transport", "dual"]);
  assert.ok(entry.changes.includes("module: mcp_server → ouroboros"), entry.changes.join("\n"));
  assert.ok(entry.changes.includes("autoApprove: search_standards → pos_search_project"), entry.changes.join("\n"));
  const swap = res.plan.server_swap;
  assert.equal(swap.removed.filter((f: string) => f.startsWith("mcp_server/")), filesUnder(path.join(p.install, "mcp_server")).map((f) => `mcp_server/${f}`));
  assert.equal(swap.added.filter((f: string) => f.startsWith("ouroboros/")), filesUnder(path.join(p.source, "dist/ouroboros")).map((f) => `ouroboros/${f}`));
  // The config template is new (the old layout had none): no "folder not installed" warning for it.
  assert.ok(res.plan.entries.some((e: { target: string; action: string }) => e.target === "config/mcp.yaml" && e.action === "new"));
  const codes = res.findings.map((f: { code: string }) => f.code);
  assert.not.ok(codes.includes("MAPPED_FOLDER_NOT_INSTALLED"), codes.join(","));
  const config = res.findings.find((f: { code: string }) => f.code === "CONFIG_JSON_NOT_READ");
  assert.match(config.message, 'config.json sets 2 values ouroboros does not read: rag.embedding_provider="openai"; mcp.http_port=4300');
  assert.match(res.plan.mentions[0].diff, "+Before coding, search the standards: call pos_search_project, or read .praxis-os/standards/universal/ directly.");
  assert.equal(diffTrees(before, snapshotTree(p.project)), []);
  removeTemps();
});

test("dist target, migrated: content three-way across the move to dist/, ouroboros and config/mcp.yaml installed, mcp_server/ retired, the entry validated; rollback byte for byte", async () => {
  const p = await distProject();
  const before = snapshotTree(p.project, { mtime: false });
  const local = fs.readFileSync(path.join(p.install, p.edited));
  const rel = p.edited.slice("standards/universal/".length);
  const d = path.join(p.root, "decisions.json");
  fs.writeFileSync(d, JSON.stringify({ ".cursorrules": "theirs", [`.agent-os/${p.spec}`]: "keep" }));
  const r = await runCli(["migrate", "--source", p.source, "--decisions", d, "--on-conflict", "merge", "--json"], { cwd: p.project, timeoutMs: T });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const res = resultOf(r);
  const target = path.join(p.project, ".praxis-os");
  assert.not.ok(fs.existsSync(p.install), "no .agent-os/ left");

  // The edited standard: git merge-file of (yours, 4a65907's universal/standards/…, the source's dist/universal/standards/…).
  const base = Buffer.from(git(p.at, "show", `HEAD:universal/standards/${rel}`) + "\n");
  const upstream = fs.readFileSync(path.join(p.source, "dist/universal/standards", rel));
  assert.equal(fs.readFileSync(path.join(target, p.edited)), gitMergeFile(local, base, upstream));
  assert.ok(fs.readFileSync(path.join(target, p.edited), "utf8").includes(USER_NOTE));
  for (const f of filesUnder(path.join(p.source, "dist/universal/standards"))) {
    if (`standards/universal/${f}` === p.edited) continue;
    assert.equal(fs.readFileSync(path.join(target, "standards/universal", f)), fs.readFileSync(path.join(p.source, "dist/universal/standards", f)), f);
  }
  assert.equal(filesUnder(path.join(target, "workflows")), filesUnder(path.join(p.source, "dist/universal/workflows")));
  // The server: ouroboros/ is the source's, mcp_server/ is gone (in the backup), config/mcp.yaml is the template.
  assert.not.ok(fs.existsSync(path.join(target, "mcp_server")), "mcp_server/ retired");
  assert.equal(filesUnder(path.join(target, "ouroboros")), filesUnder(path.join(p.source, "dist/ouroboros")));
  assert.equal(fs.readFileSync(path.join(target, "config/mcp.yaml")), fs.readFileSync(path.join(p.source, "dist/config/mcp.yaml")));
  // The user's files moved intact, config.json among them.
  assert.is(fs.readFileSync(path.join(target, "config.json"), "utf8"), CONFIG_JSON);
  assert.is(fs.readFileSync(path.join(target, p.spec), "utf8"), SPEC);
  assert.is(fs.readFileSync(path.join(target, "standards/development/team.md"), "utf8"), TEAM_STANDARD);
  assert.is(fs.readFileSync(path.join(p.project, ".cursorrules"), "utf8"), CURSORRULES.replace("aos_search_standards", "pos_search_project").replaceAll(".agent-os/", ".praxis-os/"));
  const mcp = JSON.parse(fs.readFileSync(path.join(p.project, ".cursor/mcp.json"), "utf8"));
  assert.equal(mcp.mcpServers["praxis-os-rag"], {
    command: "${workspaceFolder}/.praxis-os/venv/bin/python",
    args: ["-m", "ouroboros", "--transport", "dual"],
    env: { PROJECT_ROOT: "${workspaceFolder}", PYTHONPATH: "${workspaceFolder}/.praxis-os", PYTHONUNBUFFERED: "1" },
    autoApprove: ["pos_search_project", "pos_get_current_phase"],
  });
  // Validated through that entry's line: the new server's own tools, not the old server's names.
  const v = res.phases.find((x: { phase: number }) => x.phase === 4);
  assert.is(v.status, "completed");
  const reportFile = fs.readdirSync(path.join(target, ".cache")).find((f) => f.startsWith("upgrade-validation-"));
  const report = JSON.parse(fs.readFileSync(path.join(target, ".cache", reportFile!), "utf8"));
  assert.equal(report.tools_expected, ["current_date", "get_server_info", "pos_browser", "pos_filesystem", "pos_search_project", "pos_workflow"]);
  assert.match(fs.readFileSync(path.join(target, "venv/pyvenv.cfg"), "utf8"), target);

  const rb = await runCli(["rollback", "--yes"], { cwd: p.project, timeoutMs: T });
  assert.is(rb.code, 0, rb.stdout + rb.stderr);
  assert.not.ok(fs.existsSync(target), "no .praxis-os/ left");
  const skip = (x: string) => [".agent-os/.backups", ".agent-os/.cache"].some((s) => x === s || x.startsWith(`${s}/`));
  assert.equal(diffTrees(before, snapshotTree(p.project, { skip })), []);
  removeTemps();
});

test.run();
