// Issue 23's failure paths beyond the crash sweep: an `abort` decision for a file that names
// `.agent-os/`, a `.praxis-os/` that appears between pre-flight and the move, a file the
// plan showed changed by its user before phase 3 rewrites it, a rollback when a folder has
// taken the old name again, and a kill while the fresh venv is being made (a real venv, pip
// running). Each either stops before writing, or ends exactly old (rollback) or exactly new.
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { REPO, resultOf, runCli, startCli } from "./helpers/cli.ts";
import { makeTemplate, MIGRATE_FILES } from "./helpers/crash.ts";
import { migrateProject } from "./helpers/migrate-project.ts";
import { removeTemps, tmpDir } from "./helpers/temp.ts";

const T = 240_000;
/** Our records (sessions, backups) are written on purpose; the rest of the tree is compared. */
const RECORDS = (rel: string) => /^\.(agent|praxis)-os\/(\.backups|\.cache)(\/|$)/.test(rel);
const tree = (project: string) => snapshotTree(project, { mtime: false, skip: RECORDS });

/** The crash sweep's small project (no venv, no validation), with a config whose extra plugin runs `body` at `hook`. */
function project(hook?: "checkPlan" | "applyContent", body?: string) {
  const t = makeTemplate(tmpDir("migfail"), { migrate: true });
  const config = path.join(t.root, "migfail.config.ts");
  const meddle = hook
    // applyContent's taps take the plan first.
    ? `definePlugin({ name: "test-meddle", apply(hooks) { hooks.${hook}.tap({ stage: 100 }, (${hook === "applyContent" ? "_plan, " : ""}ctx) => { ${body} }); } })`
    : "";
  fs.writeFileSync(config, `import fs from "node:fs";
import path from "node:path";
import { definePlugin } from ${JSON.stringify(path.join(REPO, "core/plugin.ts"))};
export default { disable: ["validate"], plugins: [${meddle}] };
`);
  const flags = ["--source", t.source, "--on-conflict", "theirs", "--no-restart", "--skip-deps", "--config", config, "--json"];
  return { ...t, config, flags };
}

test("an `abort` decision for a file that names .agent-os/ stops before anything is written", async () => {
  const p = project();
  const before = tree(p.project);
  const d = path.join(p.root, "d.json");
  fs.writeFileSync(d, JSON.stringify({ ".cursorrules": "abort" }));
  const r = await runCli(["migrate", ...p.flags, "--decisions", d], { cwd: p.project, timeoutMs: T });
  const res = resultOf(r);
  assert.ok(r.code === 4 || r.code === 6, `exit ${r.code}: ${r.stderr}`);
  assert.is(res.session_id, null, "no session: nothing was written");
  assert.match(JSON.stringify(res.error), ".cursorrules");
  assert.equal(diffTrees(before, snapshotTree(p.project, { mtime: false })), []);
  removeTemps();
});

test("a .praxis-os/ that appears between pre-flight and the move: phase 1 stops before the rename, the installation stays .agent-os/", async () => {
  const p = project("checkPlan", `fs.mkdirSync(path.join(ctx.layout.projectRoot, ".praxis-os"));`);
  const before = tree(p.project);
  const r = await runCli(["migrate", ...p.flags, "--yes"], { cwd: p.project, timeoutMs: T });
  const res = resultOf(r);
  assert.is.not(r.code, 0, r.stdout);
  assert.match(res.error.message, "that folder appeared since pre-flight");
  assert.match(res.error.hint, "Move");
  // Only the folder that appeared (empty: the test made it) differs; no lock is left.
  assert.equal(diffTrees(before, tree(p.project)), ["created: .praxis-os"]);
  assert.not.ok(fs.existsSync(path.join(p.project, ".agent-os/.upgrade-lock")));
  // The way out works: move it aside, migrate again.
  fs.rmdirSync(path.join(p.project, ".praxis-os"));
  const again = await runCli(["migrate", ...p.flags.filter((f) => f !== p.config && f !== "--config"), "--yes", "--config", writeJsonConfig(p.root)], { cwd: p.project, timeoutMs: T });
  assert.is(again.code, 0, again.stdout + again.stderr);
  assert.ok(fs.existsSync(path.join(p.project, ".praxis-os/standards/universal")));
  removeTemps();
});

function writeJsonConfig(root: string): string {
  const f = path.join(root, "plain.config.json");
  fs.writeFileSync(f, JSON.stringify({ disable: ["validate"] }));
  return f;
}

test("a file the plan showed, changed by its user before phase 3 rewrites it: the migration is rolled back exactly, and the user's change kept with the backup", async () => {
  const edit = "Read .agent-os/standards/universal/ first.\nAnd our own line, added while the migration ran.\n";
  const p = project("applyContent", `fs.writeFileSync(path.join(ctx.layout.projectRoot, ".cursorrules"), ${JSON.stringify(edit)});`);
  const before = tree(p.project);
  const r = await runCli(["migrate", ...p.flags, "--yes"], { cwd: p.project, timeoutMs: T });
  const res = resultOf(r);
  assert.is(r.code, 7, r.stdout + r.stderr);
  assert.match(res.error.message, "Cannot rewrite .cursorrules: it changed during the migration");
  assert.not.ok(fs.existsSync(path.join(p.project, ".praxis-os")));
  assert.equal(diffTrees(before, tree(p.project)), []);
  // The automatic rollback kept what it replaced: the user's edit is there, and the log says where.
  const backups = path.join(p.project, ".agent-os/.backups");
  const id = fs.readdirSync(backups).find((n) => /^\d{4}-/.test(n))!;
  assert.is(fs.readFileSync(path.join(backups, id, "replaced-by-rollback/project/.cursorrules"), "utf8"), edit);
  assert.match(r.stderr + r.stdout, `kept in ${path.join(backups, id, "replaced-by-rollback")}`);
  removeTemps();
});

test("rollback after a migration when a folder has taken the old name: refused, nothing changed, then done once it is moved aside", async () => {
  const p = project();
  const before = tree(p.project);
  const r = await runCli(["migrate", ...p.flags, "--yes"], { cwd: p.project, timeoutMs: T });
  assert.is(r.code, 0, r.stdout + r.stderr);
  fs.mkdirSync(path.join(p.project, ".agent-os"));
  fs.writeFileSync(path.join(p.project, ".agent-os/mine.txt"), "a fresh install of someone's\n");
  const after = tree(p.project);
  const rb = await runCli(["rollback", "--yes", "--config", p.config], { cwd: p.project, timeoutMs: T });
  assert.is(rb.code, 8, rb.stdout + rb.stderr);
  assert.match(rb.stderr, "a folder of that name exists");
  assert.match(rb.stderr, "aside, then run `agent-os-upgrade rollback` again");
  assert.equal(diffTrees(after, tree(p.project)), []);
  fs.renameSync(path.join(p.project, ".agent-os"), path.join(p.root, "aside"));
  const rb2 = await runCli(["rollback", "--yes", "--config", p.config], { cwd: p.project, timeoutMs: T });
  assert.is(rb2.code, 0, rb2.stdout + rb2.stderr);
  assert.equal(diffTrees(before, tree(p.project)), []);
  assert.is(fs.readFileSync(path.join(p.project, ".cursor/mcp.json"), "utf8"), MIGRATE_FILES[".cursor/mcp.json"]);
  removeTemps();
});

test("killed while the fresh venv is made (pip running): rollback gives the old venv back byte for byte; resume finishes with a venv that validates", async () => {
  const p = await migrateProject();
  const before = tree(p.project);
  const d = path.join(p.root, "d.json");
  fs.writeFileSync(d, JSON.stringify({ ".cursorrules": "theirs", [`.agent-os/${p.spec}`]: "keep" }));
  const args = ["migrate", "--source", p.source, "--decisions", d, "--on-conflict", "merge", "--json"];
  const copy = path.join(p.root, "copy");
  const run = startCli(args, { cwd: p.project, timeoutMs: T });
  // The fresh venv exists once `python -m venv` has written its pyvenv.cfg; pip then installs into it.
  const cfg = path.join(p.project, ".praxis-os/venv/pyvenv.cfg");
  const end = Date.now() + 120_000;
  while (!fs.existsSync(cfg) && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  assert.ok(fs.existsSync(cfg), "the fresh venv was started");
  // Our children (python -m venv, pip) die with the upgrade (see crash-faults).
  run.child.kill("SIGKILL");
  await run.done;
  fs.cpSync(p.project, copy, { recursive: true, verbatimSymlinks: true });

  const rb = await runCli(["rollback", "--yes"], { cwd: p.project, timeoutMs: T });
  assert.is(rb.code, 0, rb.stdout + rb.stderr);
  assert.equal(diffTrees(before, tree(p.project)), []);

  const rs = await runCli(["resume", "--yes", "--json"], { cwd: copy, timeoutMs: T });
  assert.is(rs.code, 0, rs.stdout + rs.stderr);
  const res = resultOf(rs);
  assert.is(res.phases.find((x: { phase: number }) => x.phase === 4).status, "completed");
  assert.match(fs.readFileSync(path.join(copy, ".praxis-os/venv/pyvenv.cfg"), "utf8"), path.join(copy, ".praxis-os"));
  removeTemps();
});

test.run();
