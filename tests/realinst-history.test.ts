// Installs as upstream's own docs made them, at real commits of agent-os-enhanced
// (tests/fixtures/upstream-history), edited by a user, then upgraded by the real CLI from a
// clone at HEAD (5fd6418). Each file is judged against `git merge-file` on the same three
// versions. Issue 22: ties on the installed commit (845a154, f4efddd), an edited file upstream
// moved (meta-framework/ → meta-workflow/ after 2b02a66), an install without workflows/ (ced34ea).
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { resultOf, runCli } from "./helpers/cli.ts";
import { gitMergeFile, sha } from "./helpers/content-project.ts";
import { fileAt, filteredId, fullId, historyProject, NO_SERVER } from "./helpers/upstream-history.ts";

const AOE = "agent-os-enhanced";
const HEAD = "5fd6418";
const short = (original: string) => filteredId(AOE, original).slice(0, 7);

type Entry = { target: string; action: string; reason: string; hashes: { base: string | null; local: string | null; new: string | null }; base_note?: string; three_way?: string; moved_from?: unknown };
type Finding = { level: string; code: string; message: string };

/** The dry run's plan and findings (`--dry-run --json`). */
async function dryRun(p: { project: string; source: string }) {
  const r = await runCli(["--source", p.source, "--dry-run", "--json", ...NO_SERVER], { cwd: p.project, timeoutMs: 120_000 });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const res = resultOf(r);
  const entries = res.plan.entries as Entry[];
  return { plan: res.plan, findings: res.findings as Finding[], entry: (t: string) => entries.find((e) => e.target === t)!, entries };
}

async function upgrade(p: { project: string; source: string }) {
  const r = await runCli(["--source", p.source, "--json", ...NO_SERVER], { cwd: p.project, timeoutMs: 120_000 });
  assert.is(r.code, 0, r.stdout + r.stderr);
  return resultOf(r);
}

const warnings = (findings: Finding[], code: string) => findings.filter((f) => f.level === "warning" && f.code === code).map((f) => f.message);
const markers = /^(<<<<<<<|>>>>>>>) /m;

test("installed at 845a154 (tied with its parent 8806bcf): the edited README's base is the installed version: no false conflict, no markers", async () => {
  const README = "workflows/agent_os_upgrade_v1/README.md";
  const p = historyProject("845a154");
  const file = path.join(p.install, README);
  const installed = fs.readFileSync(file);
  // The very line 845a154 changed.
  const edited = installed.toString("utf8").replace("**Total Time:** ~3 minutes 35 seconds", "**Total Time:** ~4 minutes on our CI");
  assert.is.not(edited, installed.toString("utf8"));
  fs.writeFileSync(file, edited);
  // Upstream never changed it after 845a154; against the parent's version (the old tie-break) git marks a conflict.
  assert.equal(fileAt(p.source, AOE, HEAD, README), installed);
  assert.match(gitMergeFile(Buffer.from(edited), fileAt(p.source, AOE, "8806bcf", README), installed).toString("utf8"), markers);

  const { plan, findings, entry } = await dryRun(p);
  const id = (original: string) => fullId(p.source, AOE, original);
  assert.equal(plan.base, { kind: "git", ref: id("8806bcf"), via: "inferred", range: { from: id("8806bcf"), to: id("845a154"), commits: 2 }, matched: 120, unedited: 120, total: 121 });
  const e = entry(README);
  assert.equal([e.action, e.reason, e.hashes.base], ["keep_local", "changed locally; upstream unchanged", sha(installed)]);
  const note = `the commits that match the installation (${short("8806bcf")}..${short("845a154")}) hold 2 versions of this file; its base is ${short("845a154")}'s, the closest to yours`;
  assert.is(e.base_note, note);
  assert.equal(warnings(findings, "BASE_INFERRED"), [`Base inferred: ${short("8806bcf")}..${short("845a154")} (2 commits match equally), 120 of 121 files match; 1 edited or your own`]);
  assert.equal(warnings(findings, "BASE_AMBIGUOUS"), [`${README}: ${note}`]);
  assert.is(plan.counts.conflicts, 0);

  const text = await runCli(["--source", p.source, "--dry-run", ...NO_SERVER], { cwd: p.project, timeoutMs: 120_000 });
  assert.match(text.stdout, `Plan (base: git ${id("8806bcf")}..${id("845a154")} (2 commits match equally)): `);
  assert.match(text.stdout, `  kept local ${README}  (changed locally; upstream unchanged)`);

  const res = await upgrade(p);
  assert.is(res.status, "completed");
  assert.is(fs.readFileSync(file, "utf8"), edited, "the user's file as they left it");
  // The summary says the installed version was one of a range.
  assert.match(fs.readFileSync(res.report_path, "utf8"), `- From: ${id("8806bcf").slice(0, 12)}..${id("845a154").slice(0, 12)} (inferred: 2 commits match equally)`);
});

test("installed at f4efddd (tied with its parent): the edited orientation guide merges against the installed version, as git merge-file does", async () => {
  const GUIDE = "standards/universal/ai-assistant/AGENT-OS-ORIENTATION.md";
  const p = historyProject("f4efddd");
  const file = path.join(p.install, GUIDE);
  const installed = fs.readFileSync(file);
  // A line f4efddd added (its parent has no such section), upstream leaves it alone later.
  const edited = installed.toString("utf8").replace(`6. "How many times should I query per task?"`, `6. "How many times should I query per task? (our team: five at least)"`);
  assert.is.not(edited, installed.toString("utf8"));
  fs.writeFileSync(file, edited);
  const head = fileAt(p.source, AOE, HEAD, GUIDE);
  const expected = gitMergeFile(Buffer.from(edited), installed, head);
  assert.not.match(expected.toString("utf8"), markers);
  assert.match(gitMergeFile(Buffer.from(edited), fileAt(p.source, AOE, "99a7137", GUIDE), head).toString("utf8"), markers, "against the parent's version: false conflicts");

  const { plan, findings, entry } = await dryRun(p);
  assert.equal(plan.base.range, { from: fullId(p.source, AOE, "99a7137"), to: fullId(p.source, AOE, "f4efddd"), commits: 2 });
  const e = entry(GUIDE);
  assert.equal([e.action, e.three_way, e.hashes.base], ["merge", "clean", sha(installed)]);
  assert.equal(warnings(findings, "BASE_AMBIGUOUS").length, 1);
  assert.is(plan.counts.conflicts, 0);

  await upgrade(p);
  assert.equal(fs.readFileSync(file), expected, "byte for byte what git merge-file gives against the installed version");
});

// Our own records change on every command; the user's tree is everything else.
const ours = (rel: string) => /^\.agent-os\/(\.backups|\.cache|\.upgrade-lock)(\/|$)/.test(rel);

test("installed at 2b02a66, command-language.md edited, upstream moved meta-framework/ to meta-workflow/: the edit is merged at the new path, the old path is gone; rollback is exact", async () => {
  const OLD = "standards/universal/meta-framework/command-language.md";
  const NEW = "standards/universal/meta-workflow/command-language.md";
  const p = historyProject("2b02a66");
  const oldFile = path.join(p.install, OLD);
  const installed = fs.readFileSync(oldFile);
  const edited = installed.toString("utf8").replace("Command symbols are explicit and create strong obligations.", "Command symbols are explicit and create strong obligations. (Our team: every workflow uses them.)");
  assert.is.not(edited, installed.toString("utf8"));
  fs.writeFileSync(oldFile, edited);
  const expected = gitMergeFile(Buffer.from(edited), installed, fileAt(p.source, AOE, HEAD, NEW));
  assert.not.match(expected.toString("utf8"), markers);
  assert.match(expected.toString("utf8"), "(Our team: every workflow uses them.)");

  const { findings, entry } = await dryRun(p);
  const o = entry(OLD);
  const n = entry(NEW);
  assert.equal([o.action, o.reason], ["delete", `moved upstream to ${NEW}; your edit is carried there`]);
  assert.equal([n.action, n.reason, n.three_way, n.moved_from], ["merge", `moved upstream from ${OLD}; your edit merges cleanly`, "clean", { target: OLD, base: sha(installed), local: sha(edited) }]);
  assert.equal(warnings(findings, "UPSTREAM_MOVED_CARRIED"), [`${OLD} (edited) was moved upstream to ${NEW}: your edit is merged there and the old path removed`]);
  assert.equal(warnings(findings, "UPSTREAM_MOVED_EDITED"), [], "not kept beside");

  const before = snapshotTree(p.project, { skip: ours });
  const res = await upgrade(p);
  assert.equal(fs.readFileSync(path.join(p.install, NEW)), expected, "byte for byte what git merge-file gives");
  assert.not.ok(fs.existsSync(oldFile), "the old path is gone");
  assert.not.ok(fs.existsSync(path.join(p.install, "standards/universal/meta-framework")), "and its folder, emptied");
  assert.equal(res.summary.needs_attention, []);

  const back = await runCli(["rollback", "--yes"], { cwd: p.project, timeoutMs: 120_000 });
  assert.is(back.code, 0, back.stdout + back.stderr);
  assert.equal(diffTrees(before, snapshotTree(p.project, { skip: ours })), [], "the pre-upgrade tree, byte for byte");
});

/** Source path → sha256 of every file under a folder. */
const hashesUnder = (root: string) => Object.fromEntries(Object.entries(snapshotTree(root)).filter(([, n]) => n.type === "file").map(([k, n]) => [k, (n as { sha256: string }).sha256]));

async function assertWorkflowsNew(p: { project: string; source: string; install: string }) {
  const { plan, findings, entries } = await dryRun(p);
  const upstream = Object.keys(hashesUnder(path.join(p.source, "universal/workflows"))).map((k) => `workflows/${k}`).sort();
  const wf = entries.filter((e) => e.target.startsWith("workflows/"));
  assert.equal(wf.map((e) => e.target).sort(), upstream);
  assert.equal([...new Set(wf.map((e) => `${e.action}: ${e.reason}`))], ["new: not installed: the installation has no workflows/"]);
  assert.equal(plan.not_installed, ["workflows"]);
  assert.equal(warnings(findings, "MAPPED_FOLDER_NOT_INSTALLED"), [`workflows/ is not installed (no file in it): its ${upstream.length} upstream files are installed as new`]);
  assert.equal([plan.counts.conflicts, plan.counts.kept_local], [0, 0], "no workflow counts as deleted by the user");
  return upstream.length;
}

test("installed at ced34ea, whose guide never copied workflows/: the folder is not installed, its upstream files are installed as new", async () => {
  const p = historyProject("ced34ea");
  assert.not.ok(fs.existsSync(path.join(p.install, "workflows")));
  // Pre-flight's default expects workflows/ in every install: this project's config says otherwise.
  fs.writeFileSync(path.join(p.project, "upgrade.config.ts"), `import { preflightPlugin } from ${JSON.stringify(path.resolve("plugins/mod.ts"))};
export default { plugins: [preflightPlugin({ requiredTargetDirs: ["standards", "mcp_server"] })] };
`);
  const count = await assertWorkflowsNew(p);
  assert.ok(count > 100, `${count} workflow files`);
  await upgrade(p);
  assert.equal(hashesUnder(path.join(p.install, "workflows")), hashesUnder(path.join(p.source, "universal/workflows")), "every workflow installed, byte for byte");
});

test("installed at ced34ea with an empty workflows/ folder: the workflows are new, not deleted by the user", async () => {
  const p = historyProject("ced34ea");
  fs.mkdirSync(path.join(p.install, "workflows"));
  await assertWorkflowsNew(p);
});

test.run();
