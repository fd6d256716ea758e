// Issue 23: `agent-os-upgrade migrate` moves an agent-os-enhanced install (4a65907, from the
// real history, edited by its user) to praxis-os of October 2025 as one transaction: the plan
// first (nothing written), refusals before writing, then the migration — content three-way
// against `git merge-file` file by file, user folders intact, a fresh venv, the launch entry
// moved and validated by its own line, `.gitignore` lines renamed in place, instruction files
// rewritten only on a decision — and `rollback --yes` back to the project byte for byte.
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { resultOf, runCli } from "./helpers/cli.ts";
import { gitMergeFile, installUniversal, makeSourceRepo } from "./helpers/content-project.ts";
import { AGENT_OS_LINES, CURSORRULES, GITIGNORE_HEAD, GITIGNORE_TAIL, migrateProject, SPEC, TEAM_STANDARD, USER_NOTE } from "./helpers/migrate-project.ts";
import { git } from "./helpers/project.ts";
import { removeTemps, tmpDir } from "./helpers/temp.ts";
import { makeDistSource } from "../demo/kit/dist-source.ts";

const T = 240_000;
const treeOf = (project: string) => snapshotTree(project);
const decisionsFile = (p: { root: string }, d: Record<string, string>) => {
  const f = path.join(p.root, "decisions.json");
  fs.writeFileSync(f, JSON.stringify(d));
  return f;
};

test("the plan first: --dry-run lists the move, the entry's changes, .gitignore and each file that names .agent-os/, and writes nothing", async () => {
  const p = await migrateProject();
  const before = treeOf(p.project);
  const r = await runCli(["migrate", "--source", p.source, "--dry-run", "--json"], { cwd: p.project, timeoutMs: T });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const res = resultOf(r);
  assert.equal(res.layout, { source: "praxis-os-2025-10", install: "agent-os-enhanced", move: { from: p.install, to: path.join(p.project, ".praxis-os") } });
  assert.equal(res.plan.mentions.map((m: { file: string; decision: string | null }) => [m.file, m.decision]), [[".cursorrules", null], [`.agent-os/${p.spec}`, null]]);
  assert.match(res.plan.mentions[0].diff, "+Before coding, search the standards: call pos_search_standards, or read .praxis-os/standards/universal/ directly.");
  const entry = res.plan.launch_migrations[0];
  assert.equal([entry.file, entry.server, entry.status, entry.after], [".cursor/mcp.json", "agent-os-rag", "applied", ["-m", "mcp_server", "--transport", "dual"]]);
  assert.equal(entry.changes, [
    "command: ${workspaceFolder}/.agent-os/venv/bin/python → ${workspaceFolder}/.praxis-os/venv/bin/python",
    "env PYTHONPATH: ${workspaceFolder}/.agent-os → ${workspaceFolder}/.praxis-os",
    "autoApprove: aos_* → pos_*",
    'key: "agent-os-rag" → "praxis-os-rag"',
  ]);
  assert.equal(res.plan.gitignore.rename.lines.length, 5); // .agent-os.backup.* names another folder
  assert.equal(diffTrees(before, treeOf(p.project)), []);
  removeTemps();
});

test("refused before writing: no decision for the files that name .agent-os/ (off a terminal, no --yes), a .praxis-os/ already there, a source of another lineage", async () => {
  const p = await migrateProject();
  const before = treeOf(p.project);
  const r = await runCli(["migrate", "--source", p.source, "--on-conflict", "merge", "--json"], { cwd: p.project, timeoutMs: T });
  assert.is(r.code, 4, r.stdout + r.stderr);
  const codes = resultOf(r).findings.filter((f: { level: string }) => f.level === "error").map((f: { code: string }) => f.code);
  assert.equal(codes, ["MENTIONS_UNDECIDED"]);
  assert.equal(diffTrees(before, treeOf(p.project)), []);

  fs.mkdirSync(path.join(p.project, ".praxis-os"));
  const before2 = treeOf(p.project);
  const r2 = await runCli(["migrate", "--source", p.source, "--yes", "--json"], { cwd: p.project, timeoutMs: T });
  assert.is(r2.code, 4, r2.stdout + r2.stderr);
  assert.ok(resultOf(r2).findings.some((f: { code: string }) => f.code === "MIGRATE_BOTH_FOLDERS"));
  assert.equal(diffTrees(before2, treeOf(p.project)), []);

  // A dist/ source of another history (the demo kit's): not a later release of this installation's lineage.
  fs.rmdirSync(path.join(p.project, ".praxis-os"));
  const dist = makeDistSource(path.join(p.root, "dist-source"));
  const r3 = await runCli(["migrate", "--source", dist.dir, "--yes", "--on-conflict", "merge", "--json"], { cwd: p.project, timeoutMs: T });
  assert.is(r3.code, 4, r3.stdout + r3.stderr);
  const refusal = resultOf(r3).findings.find((f: { code: string }) => f.code === "MIGRATE_SOURCE");
  assert.match(refusal?.message ?? "", "its history holds no version of the installed files, so it is not a later release of the installation's lineage");
  assert.equal(diffTrees(before, treeOf(p.project)), []);
  removeTemps();
});

test("migrated as one transaction, then `rollback --yes` gives the project back byte for byte", async () => {
  const p = await migrateProject();
  const before = snapshotTree(p.project, { mtime: false });
  const baseOf = (rel: string) => Buffer.from(git(p.at, "show", `HEAD:universal/standards/${rel.slice("standards/universal/".length)}`) + "\n");
  const local = fs.readFileSync(path.join(p.install, p.edited));
  const d = decisionsFile(p, { ".cursorrules": "theirs", [`.agent-os/${p.spec}`]: "keep" });
  const r = await runCli(["migrate", "--source", p.source, "--decisions", d, "--on-conflict", "merge", "--json"], { cwd: p.project, timeoutMs: T });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const res = resultOf(r);
  const target = path.join(p.project, ".praxis-os");
  assert.not.ok(fs.existsSync(p.install), "no .agent-os/ left");

  // Content: the edited standard is git merge-file's result of (yours, the installed commit's, praxis-os HEAD's).
  const upstream = fs.readFileSync(path.join(p.source, "universal/standards", p.edited.slice("standards/universal/".length)));
  assert.equal(fs.readFileSync(path.join(target, p.edited)), gitMergeFile(local, baseOf(p.edited), upstream));
  assert.ok(fs.readFileSync(path.join(target, p.edited), "utf8").includes(USER_NOTE));
  // Every other upstream file is praxis-os HEAD's (the user edited none of them).
  for (const rel of git(p.source, "ls-files", "universal/standards").split("\n")) {
    const to = `standards/universal/${rel.slice("universal/standards/".length)}`;
    if (to === p.edited) continue;
    assert.equal(fs.readFileSync(path.join(target, to)), fs.readFileSync(path.join(p.source, rel)), to);
  }
  // The user's folders, moved intact; the spec kept by decision, .cursorrules rewritten by decision.
  assert.is(fs.readFileSync(path.join(target, p.spec), "utf8"), SPEC);
  assert.is(fs.readFileSync(path.join(target, "standards/development/team.md"), "utf8"), TEAM_STANDARD);
  assert.is(fs.readFileSync(path.join(p.project, ".cursorrules"), "utf8"), CURSORRULES.replace("aos_search", "pos_search").replaceAll(".agent-os/", ".praxis-os/"));
  // .gitignore: upstream's lines renamed in place, the user's around them untouched, the new folder's own added.
  const gi = fs.readFileSync(path.join(p.project, ".gitignore"), "utf8");
  const renamed = AGENT_OS_LINES.map((l) => l.startsWith(".agent-os/") ? l.replace(".agent-os/", ".praxis-os/") : l).join("\n");
  assert.ok(gi.startsWith(`${GITIGNORE_HEAD}# Agent OS - Ephemeral content (do not commit)\n${renamed}\n${GITIGNORE_TAIL}`), gi);
  // No line names a path inside the old folder; the old folder itself is ignored whole (teammates' clones keep their old venv there).
  assert.not.match(gi, /^\.agent-os\/./m);
  assert.match(gi, /^\.agent-os\/$/m);
  // The launch entry: moved, renamed, with the new server's required --transport.
  const mcp = JSON.parse(fs.readFileSync(path.join(p.project, ".cursor/mcp.json"), "utf8"));
  assert.equal(Object.keys(mcp.mcpServers), ["praxis-os-rag"]);
  assert.equal(mcp.mcpServers["praxis-os-rag"], {
    command: "${workspaceFolder}/.praxis-os/venv/bin/python",
    args: ["-m", "mcp_server", "--transport", "dual"],
    env: { PROJECT_ROOT: "${workspaceFolder}", PYTHONPATH: "${workspaceFolder}/.praxis-os", PYTHONUNBUFFERED: "1" },
    autoApprove: ["search_standards", "pos_get_current_phase"],
  });
  // A fresh venv at the new place, validated through that entry's own line.
  assert.match(fs.readFileSync(path.join(target, "venv/pyvenv.cfg"), "utf8"), target);
  assert.is(res.phases.find((x: { phase: number }) => x.phase === 4).status, "completed");
  // status and rollback, from the project root, find the migration's session.
  const st = await runCli(["status"], { cwd: p.project, timeoutMs: T });
  assert.match(st.stdout, `Newest session ${res.session_id}: completed`);

  const rb = await runCli(["rollback", "--yes"], { cwd: p.project, timeoutMs: T });
  assert.is(rb.code, 0, rb.stdout + rb.stderr);
  assert.not.ok(fs.existsSync(target), "no .praxis-os/ left");
  const after = snapshotTree(p.project, { skip: (rel) => rel === ".agent-os/.backups" || rel.startsWith(".agent-os/.backups/") || rel === ".agent-os/.cache" || rel.startsWith(".agent-os/.cache/") });
  assert.equal(diffTrees(before, after), []);
  const again = await runCli(["status"], { cwd: p.project, timeoutMs: T });
  assert.match(again.stdout, `Newest session ${res.session_id}: rolled_back`);
  removeTemps();
});

test("rollback --to a backup from before the migration is refused, naming the way out; plain rollback then --to work", async () => {
  const root = tmpDir("mig-to");
  const src = path.join(root, "src");
  const tree = (a: string) => ({ "standards/a.md": a, "workflows/w_v1/metadata.json": "{}\n", "usage/guide.md": "# Guide\n" });
  const ids = makeSourceRepo(src, [
    { universal: tree("a1\n") },
    { universal: tree("a2\n") },
    { universal: tree("a3\n"), extra: { "README.md": "# praxis-os\n\nInstall into .praxis-os/ of your project.\n" } },
  ]);
  const proj = path.join(root, "proj");
  installUniversal(proj, tree("a1\n"), { commit: ids[0] });
  const cfg = path.join(root, "cfg.json");
  fs.writeFileSync(cfg, JSON.stringify({ disable: ["validate"] }));
  const flags = ["--source", src, "--yes", "--skip-deps", "--no-restart", "--config", cfg, "--json"];
  git(src, "checkout", "-q", ids[1]);
  const up = resultOf(await runCli(flags, { cwd: proj, timeoutMs: T }));
  assert.is(up.exit_code, 0, JSON.stringify(up.error));
  git(src, "checkout", "-q", "-");
  const mig = resultOf(await runCli(["migrate", ...flags], { cwd: proj, timeoutMs: T }));
  assert.is(mig.exit_code, 0, JSON.stringify(mig.error));
  const before = treeOf(proj);

  const r = await runCli(["rollback", "--to", up.summary.backup_id, "--yes", "--config", cfg], { cwd: proj, timeoutMs: T });
  assert.is(r.code, 4, r.stdout + r.stderr);
  assert.match(r.stderr, `Cannot roll back to ${up.summary.backup_id}: the migration of session ${mig.session_id} (.agent-os → .praxis-os) came after it`);
  assert.match(r.stderr, "Run `agent-os-upgrade rollback` first");
  assert.equal(diffTrees(before, treeOf(proj)), []);

  assert.is((await runCli(["rollback", "--yes", "--config", cfg], { cwd: proj, timeoutMs: T })).code, 0);
  const back = await runCli(["rollback", "--to", up.summary.backup_id, "--yes", "--config", cfg], { cwd: proj, timeoutMs: T });
  assert.is(back.code, 0, back.stdout + back.stderr);
  assert.is(fs.readFileSync(path.join(proj, ".agent-os/standards/universal/a.md"), "utf8"), "a1\n");
  assert.not.ok(fs.existsSync(path.join(proj, ".praxis-os")));
  removeTemps();
});

test.run();
