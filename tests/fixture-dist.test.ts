// Issue 22 item 8: the fixture releases of praxis-os's `dist/` layout (demo/kit/dist-*.ts) on
// real parts: the source's two tagged releases and their differences as git sees them, an
// install by the layout's table (five agents' launch entries, .gitignore, instruction files),
// the fixture `ouroboros` server's arguments and config check, and every agent's entry run
// exactly as written through the official MCP client, before and after release 2's server.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { probeStdio } from "../plugins/server/mcp-client.ts";
import { pipInstall } from "../plugins/server/pip.ts";
import { OUROBOROS_ARGS, OUROBOROS_TOOLS, OUROBOROS_VERSION } from "../demo/kit/dist-server.ts";
import { DIST_CHANGES, makeDistSource, USER_STANDARD_EDITS } from "../demo/kit/dist-source.ts";
import { editMcpYamlAsUser, USER_PARTITION } from "../demo/kit/dist-texts.ts";
import { DIST_AGENTS, DIST_INSTALL_MAP, DIST_INSTRUCTION_FILES, DIST_USER_DIRS, installDist, readAgentEntry, replaceOuroboros } from "../demo/kit/dist-install.ts";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { offlinePipArgs, sharedWheelhouse, SYSTEM_PYTHON } from "../demo/kit/wheels.ts";
import { createDistProject } from "./helpers/dist-project.ts";
import { tmpDir } from "./helpers/temp.ts";

// Made when this file's tests start, not at import: uvu imports every file first, and an
// earlier file's removeTemps() would delete folders made then.
let root!: string;
let source!: ReturnType<typeof makeDistSource>;
test.before(() => {
  root = tmpDir("dist");
  source = makeDistSource(path.join(root, "source"));
});
const gitIn = (dir: string, ...args: string[]) => execFileSync("git", ["-C", dir, ...args], { encoding: "utf8" });
const git = (...args: string[]) => gitIn(source.dir, ...args);

const trees = new Map<string, string>();
/** A release's whole tree, exported once (git archive). */
function treeAt(ref: string): string {
  if (!trees.has(ref)) {
    const dir = path.join(root, `tree-${ref}`);
    fs.mkdirSync(dir);
    execFileSync("sh", ["-c", `git -C "${source.dir}" archive ${ref} | tar x -C "${dir}"`]);
    trees.set(ref, dir);
  }
  return trees.get(ref)!;
}

/** Files and links only: folder modes follow the umask of whoever created them. */
const files = (dir: string) => Object.fromEntries(Object.entries(snapshotTree(dir)).filter(([, n]) => n.type !== "dir"));

const ENTRY = (project: string) => ({
  command: `${project}/.praxis-os/venv/bin/python`,
  args: ["-m", "ouroboros", "--transport", "dual"],
  env: { PYTHONPATH: `${project}/.praxis-os`, PROJECT_ROOT: project },
});

test("source: two releases tagged v1 and v2 on main, each of the dist/ shape", () => {
  assert.is(git("tag", "--list").trim(), "v1\nv2");
  assert.is(git("rev-list", "main").trim(), `${source.commits.v2}\n${source.commits.v1}`);
  for (const ref of ["v1", "v2"]) {
    const files = git("ls-tree", "-r", "--name-only", ref).trim().split("\n");
    for (const f of ["dist/universal/.universal-manifest.json", "dist/config/mcp.yaml", "dist/ouroboros/__main__.py", "dist/ouroboros/_common.py", "dist/ouroboros/requirements.txt", "dist/scripts/upgrade-praxis-os.py", "scripts/install-praxis-os.py", "pyproject.toml"]) {
      assert.ok(files.includes(f), `${ref}: ${f}`);
    }
    assert.equal(files.filter((f) => f.startsWith("installation/")), ["00-START", "01-directories", "02-copy-files", "03-cursorrules", "04-gitignore", "05-venv-mcp", "06-mcp-config", "07-validate"].map((s) => `installation/${s}.md`));
    for (const dir of ["standards", "workflows", "usage"]) assert.ok(files.some((f) => f.startsWith(`dist/universal/${dir}/`)), `${ref}: ${dir}`);
    const pyproject = git("show", `${ref}:pyproject.toml`);
    assert.match(pyproject, /^name = "praxis-os"$/m);
    assert.match(pyproject, /^requires-python = ">=3.11"$/m);
    // The manifest lists exactly the files of dist/universal, with their real checksums and sizes.
    const manifest = JSON.parse(git("show", `${ref}:dist/universal/.universal-manifest.json`));
    const universal = files.filter((f) => f.startsWith("dist/universal/") && !f.endsWith(".universal-manifest.json")).map((f) => f.slice("dist/universal/".length));
    assert.equal(Object.keys(manifest.files).sort(), universal.sort());
    const sample = `standards/${DIST_CHANGES.changedStandards[0]}`;
    const blob = fs.readFileSync(path.join(treeAt(ref), "dist/universal", sample));
    assert.is(manifest.files[sample].size, blob.length);
  }
  assert.is(git("ls-tree", "-r", "--name-only", "v1", "dist/universal/standards").trim().split("\n").length, 37);
});

test("source: release 2's differences as `git diff -M` sees them (a move, an add, a delete, edits, the server)", () => {
  const s = (p: string) => `dist/universal/standards/${p}`;
  const expected = [
    "M\tdist/config/mcp.yaml",
    "M\tdist/ouroboros/__init__.py",
    "M\tdist/ouroboros/release.py",
    "M\tdist/ouroboros/requirements.txt",
    "D\tdist/ouroboros/subsystems/legacy_index.py",
    "A\tdist/ouroboros/subsystems/query_router.py",
    "D\tdist/scripts/build-index.py",
    "M\tdist/scripts/upgrade-praxis-os.py",
    "A\tdist/scripts/validate-installation.py",
    "M\tdist/universal/.universal-manifest.json",
    ...DIST_CHANGES.changedStandards.map((p) => `M\t${s(p)}`),
    `A\t${s(DIST_CHANGES.addedStandard)}`,
    `R100\t${s(DIST_CHANGES.movedStandard.from)}\t${s(DIST_CHANGES.movedStandard.to)}`,
    `D\t${s(DIST_CHANGES.deletedStandard)}`,
    `M\tdist/universal/usage/${DIST_CHANGES.changedUsage}`,
    `M\tdist/universal/workflows/${DIST_CHANGES.changedWorkflow}`,
    "M\tinstallation/05-venv-mcp.md",
    "M\tpyproject.toml",
  ];
  const sortKey = (l: string) => l.split("\t")[1];
  assert.equal(git("diff", "-M", "--name-status", "v1", "v2").trim().split("\n"), expected.sort((a, b) => sortKey(a) < sortKey(b) ? -1 : 1));
  assert.is(git("diff", "v1", "v2", "--", "dist/ouroboros/requirements.txt").split("\n").filter((l) => /^[+-][^+-]/.test(l)).join("\n"),
    "-# prAxIs OS MCP server (ouroboros), fixture release 1\n+# prAxIs OS MCP server (ouroboros), fixture release 2\n+aou-fixture-b==1.0  # new in release 2");
});

test("source: mcp.yaml's release 2 merges three-way cleanly with a user's partition; a comment changed", () => {
  const base = git("show", "v1:dist/config/mcp.yaml");
  const theirs = git("show", "v2:dist/config/mcp.yaml");
  for (const text of [base, theirs]) {
    assert.match(text, /^version: "1\.0"$/m);
    assert.match(text, /^indexes:\n(?:.*\n)*? {2}standards:\n(?:.*\n)*? {2}code:\n(?:.*\n)*? {4}partitions:\n/m);
  }
  const changed = git("diff", "-U0", "v1", "v2", "--", "dist/config/mcp.yaml").split("\n").filter((l) => /^[+-][^+-]/.test(l));
  assert.ok(changed.some((l) => /^-\s*#/.test(l)) && changed.some((l) => /^\+\s*#/.test(l)), changed.join("\n"));
  assert.ok(changed.some((l) => l.includes("chunk_size")), "a key in the standards index changed");
  const dir = tmpDir("dist-merge");
  const files = { user: editMcpYamlAsUser(base), base, theirs };
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  const merged = spawnSync("git", ["merge-file", "-p", "user", "base", "theirs"], { cwd: dir, encoding: "utf8" });
  assert.is(merged.status, 0, merged.stdout);
  assert.is(merged.stdout, editMcpYamlAsUser(theirs));
});

test("project helper: release 1 installed, the user's edits each merge cleanly with release 2 (moved file at its new path)", async () => {
  const p = await createDistProject({ venv: false });
  assert.is(gitIn(p.source, "rev-parse", "HEAD").trim(), p.dist.commits.v2);
  assert.is(p.sourceCommit, p.dist.commits.v2);
  assert.equal(p.dist.commits, source.commits, "fixed dates: the same kit builds the same commit ids");
  assert.equal(JSON.parse(fs.readFileSync(path.join(p.project, ".vscode/settings.json"), "utf8"))["editor.tabSize"], 2);
  const v2Path = (rel: string) => rel === DIST_CHANGES.movedStandard.from ? DIST_CHANGES.movedStandard.to : rel;
  const dir = tmpDir("dist-merge");
  const merges: Array<[string, string, string, string]> = [
    ...Object.entries(USER_STANDARD_EDITS).map(([rel, e]) => [`standards/universal/${rel}`, `dist/universal/standards/${rel}`, `dist/universal/standards/${v2Path(rel)}`, e.insert] as [string, string, string, string]),
    ["config/mcp.yaml", "dist/config/mcp.yaml", "dist/config/mcp.yaml", USER_PARTITION],
  ];
  const show = (spec: string) => gitIn(p.source, "show", spec);
  for (const [installed, base, theirs, edit] of merges) {
    const user = fs.readFileSync(path.join(p.install, installed), "utf8");
    assert.is.not(user, show(`v1:${base}`), `${installed} is edited`);
    fs.writeFileSync(path.join(dir, "user"), user);
    fs.writeFileSync(path.join(dir, "base"), show(`v1:${base}`));
    fs.writeFileSync(path.join(dir, "theirs"), show(`v2:${theirs}`));
    const merged = spawnSync("git", ["merge-file", "-p", "user", "base", "theirs"], { cwd: dir, encoding: "utf8" });
    assert.is(merged.status, 0, `${installed}: ${merged.stdout}`);
    assert.ok(merged.stdout.includes(edit) && !show(`v2:${theirs}`).includes(edit), `${installed}: the user's edit is kept`);
  }
});

/** A project with settings and files of its own, installed from release 1 without a venv. */
async function plainInstall(name: string) {
  const project = path.join(tmpDir("dist-proj"), name);
  fs.mkdirSync(path.join(project, ".vscode"), { recursive: true });
  fs.writeFileSync(path.join(project, ".vscode/settings.json"), JSON.stringify({ "editor.tabSize": 2, "cline.mcpServers": { other: { command: "node", args: ["x.js"] } } }, null, 2));
  fs.writeFileSync(path.join(project, ".gitignore"), "node_modules/");
  fs.writeFileSync(path.join(project, ".cursorrules"), "Use tabs.\n");
  const inst = await installDist(project, source.dir, "v1", { venv: false });
  return { project, inst };
}

test("install: .praxis-os by the layout's table, byte for byte; user folders; no version record", async () => {
  const { project, inst } = await plainInstall("webapp");
  assert.is(inst.install, path.join(project, ".praxis-os"));
  assert.equal(fs.readdirSync(inst.install).sort(), ["config", "ouroboros", "scripts", "specs", "standards", "usage", "workflows", "workspace"]);
  for (const [from, to] of DIST_INSTALL_MAP) {
    const src = path.join(treeAt("v1"), from);
    if (fs.statSync(src).isDirectory()) assert.equal(diffTrees(files(src), files(path.join(inst.install, to))), [], to);
    else assert.ok(fs.readFileSync(src).equals(fs.readFileSync(path.join(inst.install, to))), to);
  }
  assert.equal(fs.readdirSync(path.join(inst.install, "standards")).sort(), ["development", "universal"]);
  for (const dir of DIST_USER_DIRS) assert.equal(fs.readdirSync(path.join(inst.install, dir)), [], dir);
  const all = execFileSync("find", [project, "-iname", "*version*"], { encoding: "utf8" }).trim();
  assert.is(all, "", "no version record");
  assert.equal(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith("aou-dist-export-")), [], "the exported tree is removed");
  await installDist(project, source.dir, "v1", { venv: false }).then(() => assert.unreachable("a second install"), (e: Error) => {
    assert.is(e.message, `Cannot install: ${inst.install} already exists`);
  });
});

test("install: the five agents' launch entries, other settings kept; .gitignore lines; instruction files", async () => {
  const { project, inst } = await plainInstall("webapp");
  assert.is(inst.key, "webapp");
  assert.equal(inst.launch, ENTRY(project));
  for (const agent of DIST_AGENTS) assert.equal(readAgentEntry(project, agent, "webapp"), ENTRY(project), agent);
  const read = (f: string) => JSON.parse(fs.readFileSync(path.join(project, f), "utf8"));
  assert.equal(read(".cursor/mcp.json"), { mcpServers: { webapp: ENTRY(project) } });
  assert.equal(read(".mcp.json"), { mcpServers: { webapp: ENTRY(project) } });
  assert.equal(read(".vscode/mcp.json"), { servers: { webapp: ENTRY(project) } });
  assert.equal(read(".vscode/settings.json"), {
    "editor.tabSize": 2,
    "cline.mcpServers": { other: { command: "node", args: ["x.js"] }, webapp: ENTRY(project) },
    "claude-code.mcpServers": { webapp: ENTRY(project) },
  });
  assert.is(fs.readFileSync(path.join(project, ".gitignore"), "utf8"),
    "node_modules/\n\n# prAxIs OS\n.praxis-os/.cache/\n.praxis-os/venv/\n.praxis-os/workspace/\n.praxis-os/.mcp_server_state.json\n");
  for (const f of DIST_INSTRUCTION_FILES) assert.match(fs.readFileSync(path.join(project, f), "utf8"), ".praxis-os/", f);
  assert.ok(fs.readFileSync(path.join(project, ".cursorrules"), "utf8").startsWith("Use tabs.\n\n# prAxIs OS\n"));
});

/** Runs the fixture server with the system python (no venv: the release is imported after the checks). */
function runServer(install: string, args: string[], env: Record<string, string> = {}) {
  const project = path.dirname(install);
  return spawnSync(SYSTEM_PYTHON, ["-m", "ouroboros", ...args], {
    input: "",
    encoding: "utf8",
    timeout: 20_000,
    env: { PATH: process.env.PATH ?? "", HOME: root, PYTHONDONTWRITEBYTECODE: "1", PYTHONPATH: install, PROJECT_ROOT: project, ...env },
  });
}

test("server: without --transport (or with an unknown one) it exits 2 with argparse's usage", async () => {
  const { inst } = await plainInstall("p");
  const usage = "usage: python -m ouroboros [-h] --transport {dual,stdio,http}";
  const missing = runServer(inst.install, []);
  assert.is(missing.status, 2);
  assert.is(missing.stdout, "");
  assert.is(missing.stderr, `${usage}\npython -m ouroboros: error: the following arguments are required: --transport\n`);
  const wrong = runServer(inst.install, ["--transport", "tcp"]);
  assert.is(wrong.status, 2);
  assert.is(wrong.stderr, `${usage}\npython -m ouroboros: error: argument --transport: invalid choice: 'tcp' (choose from 'dual', 'stdio', 'http')\n`);
});

test("server: an unreadable config, a broken one, or no .praxis-os stops it with one ERROR line, exit 1", async () => {
  const { project, inst } = await plainInstall("p");
  const config = path.join(inst.install, "config", "mcp.yaml");
  const lastLine = (r: ReturnType<typeof runServer>) => r.stderr.trim().split("\n").pop()!.replace(/^.* ERROR /, "ERROR ");
  const cases: Array<[string | null, string]> = [
    ["version 1.0\nindexes: {}\n", `ERROR ouroboros: Invalid config ${config}: expected one top-level 'version:' line, found 0`],
    ['version: "1.0"\nindexes:\n\tstandards: {}\n', `ERROR ouroboros: Invalid config ${config}: line 3 is indented with a tab`],
    [null, `ERROR ouroboros: Cannot read the config ${config}: [Errno 2] No such file or directory: '${config}'`],
  ];
  for (const [text, line] of cases) {
    if (text === null) fs.rmSync(config);
    else fs.writeFileSync(config, text);
    const r = runServer(inst.install, ["--transport", "stdio"]);
    assert.is(r.status, 1, r.stderr);
    assert.is(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.is(lastLine(r), line);
  }
  const lost = runServer(inst.install, ["--transport", "stdio"], { PROJECT_ROOT: root });
  assert.is(lost.status, 1);
  assert.is(lastLine(lost), "ERROR ouroboros: Cannot find .praxis-os: set PROJECT_ROOT to the project folder or start the server there");
  assert.ok(fs.existsSync(project));
});

// One real venv for the rest of the file, made on first use (not at import: see test.before above).
let venvProject!: string;
let venvInstall: Awaited<ReturnType<typeof installDist>> | undefined;
async function withVenv() {
  venvProject ??= path.join(tmpDir("dist-venv"), "app");
  venvInstall ??= await installDist(venvProject, source.dir, "v1");
  return venvInstall;
}

test("release 1: every agent's entry, run exactly as written by the official client, serves release 1", async () => {
  const inst = await withVenv();
  assert.ok(fs.existsSync(inst.python), inst.python);
  for (const agent of DIST_AGENTS) {
    const e = readAgentEntry(venvProject, agent, "app")!;
    const probe = await probeStdio({ command: e.command, args: e.args, env: e.env, cwd: root, timeoutMs: 15_000, expectTools: [...OUROBOROS_TOOLS[1]],
      calls: [{ tool: "get_server_info" }, { tool: "pos_search_project", args: { query: "deadlock" }, expect: { contains: "standards/universal/concurrency/deadlocks.md" } }, { tool: "current_date" },
        { tool: "pos_workflow", args: { action: "list_workflows" }, expect: { contains: "spec_creation_v1\nspec_execution_v1" } },
        { tool: "pos_filesystem", args: { path: ".." }, expect: { contains: "Refused: .. is outside .praxis-os" } },
        { tool: "pos_filesystem", args: { path: "config" }, expect: { contains: "mcp.yaml" } }] });
    assert.ok(probe.ok, `${agent}: ${probe.problems.join("; ")}\n${probe.stderr}`);
    assert.equal(probe.serverInfo, { name: "praxis-os", version: OUROBOROS_VERSION[1] });
    assert.equal(probe.tools, OUROBOROS_TOOLS[1]);
    const info = JSON.parse(probe.calls[0].text);
    assert.equal({ release: info.release, version: info.version, transport: info.transport, praxis_dir: info.praxis_dir, deps: info.dependencies },
      { release: 1, version: "1.0.0", transport: "dual", praxis_dir: inst.install, deps: { "aou-fixture-a": "1.0" } });
    assert.match(probe.calls[2].text, /^\d{4}-\d{2}-\d{2}$/);
  }
  assert.equal(fs.readdirSync(path.join(inst.install, ".cache", "indexes")).sort(), ["code", "standards"], "indexes created by the server");
  assert.not.ok(fs.existsSync(path.join(inst.install, ".mcp_server_state.json")), "dual's state file removed when stdin ends");
});

test("release 1: without PROJECT_ROOT the server finds .praxis-os in its working folder", async () => {
  const inst = await withVenv();
  const probe = await probeStdio({ command: inst.python, args: [...OUROBOROS_ARGS], env: { PYTHONPATH: inst.install }, cwd: venvProject, calls: [{ tool: "get_server_info" }] });
  assert.ok(probe.ok, probe.problems.join("; "));
  assert.is(JSON.parse(probe.calls[0].text).praxis_dir, inst.install);
});

test("release 2's ouroboros: replaced exactly, fails until its new requirement is installed, then serves release 2", async () => {
  const inst = await withVenv();
  replaceOuroboros(inst.install, source.dir, "v2");
  assert.equal(diffTrees(files(path.join(treeAt("v2"), "dist/ouroboros")), files(path.join(inst.install, "ouroboros"))), []);
  const entry = readAgentEntry(venvProject, "cursor", "app")!;
  const probe = () => probeStdio({ command: entry.command, args: entry.args, env: entry.env, timeoutMs: 15_000, calls: [{ tool: "get_server_info" }, { tool: "pos_index_status" }] });
  const before = await probe();
  assert.is(before.ok, false);
  assert.is(before.error, "The server exited before answering: ModuleNotFoundError: No module named 'aou_fixture_b'");
  const pip = await pipInstall({ python: inst.python, requirements: path.join(inst.install, "ouroboros", "requirements.txt"), extraArgs: offlinePipArgs(await sharedWheelhouse()), retries: 0 });
  assert.ok(pip.ok, pip.error);
  const after = await probe();
  assert.ok(after.ok, after.problems.join("; "));
  assert.equal(after.serverInfo, { name: "praxis-os", version: OUROBOROS_VERSION[2] });
  assert.equal(after.tools, OUROBOROS_TOOLS[2]);
  const info = JSON.parse(after.calls[0].text);
  assert.equal({ release: info.release, deps: info.dependencies }, { release: 2, deps: { "aou-fixture-a": "1.0", "aou-fixture-b": "1.0" } });
  assert.is(after.calls[1].text, "standards: built\ncode: built");
});

test.run();
