// Real Agent OS content: release ced34ea installed into a project, edited by its user,
// upgraded to 395aab3 from a git source whose history holds both releases.
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { contentPlugin } from "../plugins/content.ts";
import { type ContentEntry, type ContentPlanX, countPlan } from "../plugins/content/plan.ts";
import {
  gitMergeFile,
  installUniversal,
  asFirstUpgrade,
  makeCtx,
  makeSourceRepo,
  NEW,
  OLD,
  readTree,
  release,
  removeTemps,
  runTaps,
  tmpDir,
  writeTree,
} from "./helpers/content-project.ts";
import { snapshotTree } from "../demo/kit/tree.ts";

const EDITS = {
  cleanMerge: "standards/universal/concurrency/locking-strategies.md",
  markers: "standards/universal/testing/test-pyramid.md",
  sharedMerge: "usage/mcp-usage-guide.md",
  notChangedUpstream: "workflows/spec_creation_v1/core/readme-template.md",
  deletedUnchanged: "workflows/spec_creation_v1/core/srd-template.md",
  deletedChanged: "standards/universal/database/database-patterns.md",
  userStandard: "standards/universal/team/our-rules.md",
  userWorkflow: "workflows/my_flow_v1/README.md",
  retiredShared: "usage/agent-os-update-guide.md",
};
const NOTE = "\n## Team note\n\nWe order locks by id.\n";

interface World {
  root: string;
  source: string;
  commits: string[];
  project: string;
  install: string;
  /** What the user's edited files hold, by installation path. */
  mine: Record<string, Buffer>;
}

let repo: { source: string; commits: string[] } | null = null;

/** One source repository for the whole file: its history is ced34ea, then 395aab3. */
function sourceRepo() {
  if (!repo) {
    const source = path.join(tmpDir("real-src"), "agent-os-enhanced");
    repo = { source, commits: makeSourceRepo(source, [{ universal: release(OLD) }, { universal: release(NEW) }]) };
  }
  return repo;
}

const oldFile = (target: string) => fs.readFileSync(path.join(release(OLD), toUniversal(target)));
const newFile = (target: string) => fs.readFileSync(path.join(release(NEW), toUniversal(target)));
function toUniversal(target: string): string {
  if (target.startsWith("standards/universal/")) return "standards/" + target.slice("standards/universal/".length);
  return target;
}

function world(opts: { manifest: boolean }): World {
  const { source, commits } = sourceRepo();
  const root = tmpDir("real");
  const project = path.join(root, "proj");
  const install = installUniversal(project, release(OLD), { commit: commits[0], manifest: opts.manifest });
  const I = (p: string) => path.join(install, p);
  fs.appendFileSync(I(EDITS.cleanMerge), NOTE);
  fs.appendFileSync(I(EDITS.markers), NOTE);
  fs.appendFileSync(I(EDITS.sharedMerge), NOTE);
  fs.appendFileSync(I(EDITS.notChangedUpstream), NOTE);
  fs.rmSync(I(EDITS.deletedUnchanged));
  fs.rmSync(I(EDITS.deletedChanged));
  writeTree(install, {
    [EDITS.userStandard]: "# Our rules\n",
    [EDITS.userWorkflow]: "# My flow\n",
    "standards/development/python.md": "# Our Python standard\n",
    "specs/2025-10-01-feature/README.md": "# A spec\n",
    "specs/2025-10-01-feature/tasks.md": "- [ ] one\n",
  });
  fs.writeFileSync(path.join(project, ".gitignore"), "node_modules/\n");
  const mine: Record<string, Buffer> = {};
  for (const t of [EDITS.cleanMerge, EDITS.markers, EDITS.sharedMerge, EDITS.notChangedUpstream, EDITS.userStandard, EDITS.userWorkflow]) mine[t] = fs.readFileSync(I(t));
  return { root, source, commits, project, install, mine };
}

const userOwned = (w: World) => ({
  dev: snapshotTree(path.join(w.install, "standards/development"), { mtime: true }),
  specs: snapshotTree(path.join(w.install, "specs"), { mtime: true }),
});

const strip = (plan: unknown) => {
  const { diffs: _d, views: _v, ...rest } = plan as ContentPlanX & { diffs?: unknown; views?: unknown };
  return rest;
};

test("ced34ea → 395aab3 with user edits and --on-conflict merge: every file ends as the table says", async () => {
  const w = world({ manifest: true });
  const before = userOwned(w);
  const { ctx } = makeCtx(w.project, { source: w.source, onConflict: "merge" });
  const run = await runTaps([contentPlugin()], ctx);
  assert.is(run.error, undefined, String(run.error));
  assert.equal(run.findings.errors, []);
  const plan = run.plan as ContentPlanX;
  assert.equal(plan.base, { kind: "manifest", ref: w.commits[0], via: "installed-manifest" });
  // The fixture README: 39 added, 42 edited, 1 deleted (a shared file, unedited: removed). Four
  // of the edited files were also edited by the user, two files the user deleted, two the user added.
  // Two of the four merge cleanly (merged as git would, whatever the policy), two are true conflicts.
  assert.equal(plan.counts, { new: 39, updated: 38, unchanged: 46, kept_local: 4, merged: 2, conflicts: 2, deleted: 1, errors: 0 });
  const action = Object.fromEntries((plan.entries as ContentEntry[]).map((e) => [e.target, e.action]));
  const threeWay = Object.fromEntries((plan.entries as ContentEntry[]).filter((e) => e.three_way).map((e) => [e.target, e.three_way]));
  assert.equal(threeWay, { [EDITS.cleanMerge]: "clean", [EDITS.markers]: "conflict", [EDITS.sharedMerge]: "clean" });
  assert.is(action[EDITS.cleanMerge], "merge");
  assert.is(action[EDITS.markers], "conflict");
  assert.is(action[EDITS.sharedMerge], "merge");
  assert.is(action[EDITS.deletedChanged], "conflict");
  assert.is(action[EDITS.notChangedUpstream], "keep_local");
  assert.is(action[EDITS.deletedUnchanged], "keep_local");
  assert.is(action[EDITS.userStandard], "keep");
  assert.is(action[EDITS.userWorkflow], "keep");
  assert.is(action[EDITS.retiredShared], "delete");

  const I = (p: string) => path.join(w.install, p);
  // Every upstream file the user did not touch is upstream's new version, byte for byte.
  const edited = new Set(Object.values(EDITS));
  const newTree = readTree(release(NEW));
  let checked = 0;
  for (const [rel, data] of Object.entries(newTree)) {
    const target = rel.startsWith("standards/") ? `standards/universal/${rel.slice("standards/".length)}` : rel;
    if (!/^(standards\/universal|workflows|usage)\//.test(target) || edited.has(target)) continue;
    assert.equal(fs.readFileSync(I(target)), data, target);
    checked++;
  }
  assert.is(checked, 129 - 6, "all of 395aab3 but the manifest and the six paths the user changed");
  // The user's changes survive: merged with upstream's where both changed.
  for (const t of [EDITS.cleanMerge, EDITS.markers, EDITS.sharedMerge]) {
    assert.equal(fs.readFileSync(I(t)), gitMergeFile(w.mine[t], oldFile(t), newFile(t)), `${t} is what git merge-file makes of the same three inputs`);
  }
  assert.ok(fs.readFileSync(I(EDITS.cleanMerge), "utf8").endsWith(NOTE));
  assert.not.ok(fs.readFileSync(I(EDITS.cleanMerge), "utf8").includes("<<<<<<<"));
  assert.ok(fs.readFileSync(I(EDITS.markers), "utf8").includes("<<<<<<< local\n"));
  assert.equal(fs.readFileSync(I(EDITS.notChangedUpstream)), w.mine[EDITS.notChangedUpstream]);
  assert.equal(fs.readFileSync(I(EDITS.userStandard)), w.mine[EDITS.userStandard]);
  assert.equal(fs.readFileSync(I(EDITS.userWorkflow)), w.mine[EDITS.userWorkflow]);
  assert.not.ok(fs.existsSync(I(EDITS.deletedUnchanged)));
  assert.not.ok(fs.existsSync(I(EDITS.deletedChanged)));
  assert.not.ok(fs.existsSync(I(EDITS.retiredShared)), "an unedited shared file upstream deleted goes (the backup has it)");
  // User-owned folders: not a byte, not an mtime.
  assert.equal(userOwned(w), before);

  const ev = run.evidence!;
  assert.equal(ev.needs_attention, [EDITS.deletedChanged, EDITS.markers]);
  assert.is(ev.files_written, 38 + 39 + 3);
  assert.is(ev.written_hashes_verified, true);
  assert.equal((ev.decisions as Array<{ target: string; result: string }>).map((d) => `${d.target}: ${d.result}`), [
    `${EDITS.cleanMerge}: merged cleanly`,
    `${EDITS.markers}: merged with 1 conflict marked`,
    `${EDITS.deletedChanged}: kept local: cannot merge (deleted locally)`,
    `${EDITS.sharedMerge}: merged cleanly`,
  ].sort());
  // The standard's lines (this release is the first to ship it) and our own.
  assert.is(fs.readFileSync(path.join(w.project, ".gitignore"), "utf8"), [
    "node_modules/",
    "",
    "# Agent OS (added by agent-os-upgrade)",
    ".agent-os/.cache/",
    ".agent-os/venv/",
    ".agent-os/mcp_server/__pycache__/",
    ".agent-os/scripts/__pycache__/",
    ".agent-os.backup.*",
    ".agent-os/.upgrade_lock",
    ".agent-os/.backups/",
    ".agent-os/.upgrade-lock",
    "",
  ].join("\n"));
  const manifest = JSON.parse(fs.readFileSync(ctx.layout.installedManifest, "utf8"));
  assert.is(manifest.source_commit, w.commits[1]);
  assert.is(manifest.version, "1.3.0", "upstream's manifest version (it was not bumped in 395aab3)");
  const mapped = Object.keys(manifest.files).filter((k) => !k.startsWith("mcp_server/"));
  assert.is(mapped.length, 129, "every path of 395aab3: the user's edits derive from it, deleted ones stay deleted next time");
  assert.not.ok(EDITS.userStandard in manifest.files);
  // Server files are recorded when the installation holds the source's bytes (phase 3 did not run here).
  assert.equal(Object.keys(manifest.files).filter((k) => k.startsWith("mcp_server/")), ["mcp_server/requirements.txt"]);
});

test("no installed manifest, VERSION.txt commit= into the source's history: the same plan", async () => {
  const a = world({ manifest: true });
  const b = world({ manifest: false });
  const pa = (await runTaps([contentPlugin()], makeCtx(a.project, { source: a.source, onConflict: "merge" }).ctx, "plan")).plan as ContentPlanX;
  const pb = (await runTaps([contentPlugin()], makeCtx(b.project, { source: b.source, onConflict: "merge" }).ctx, "plan")).plan as ContentPlanX;
  assert.equal(pb.base, { kind: "git", ref: b.commits[0], via: "VERSION.txt" });
  // VERSION.txt alone: the files upstream left alone are not read (not_checked); the manifest's plan read them.
  assert.ok(pb.counts.not_checked! > 0);
  const exact = asFirstUpgrade(pa.entries, pb.entries);
  assert.equal(pb.entries, exact);
  assert.equal(pb.counts, countPlan(exact));
  assert.equal(pb.gitignore, pa.gitignore);
});

test("dry run: the whole project is byte- and mtime-identical, and its plan is the plan the real run executes", async () => {
  const w = world({ manifest: false });
  const before = snapshotTree(w.project, { mtime: true });
  const dry = makeCtx(w.project, { source: w.source, onConflict: "merge", dryRun: true, diff: true });
  const d = await runTaps([contentPlugin()], dry.ctx);
  assert.equal(d.findings.errors, []);
  assert.equal(snapshotTree(w.project, { mtime: true }), before);
  const diffs = (d.plan as ContentPlanX & { diffs: Record<string, string> }).diffs;
  assert.is(Object.keys(diffs).length, 39 + 38 + 4 + 1 + 1, "every file the run adds, updates, decides or deletes, and .gitignore");
  assert.match(diffs["usage/creating-specs.md"], /^--- a\/usage\/creating-specs\.md\tlocal\n\+\+\+ b\/usage\/creating-specs\.md\tupstream\n@@ /m);
  assert.match(diffs[EDITS.markers], new RegExp(`^# conflict: ${EDITS.markers} \\(changed locally and upstream\\)\n## Your change \\(base → yours\\)\n`));
  assert.match(diffs[EDITS.markers], /^<<<<<<< local$/m, "the view of a conflict shows the merge the run will write");
  assert.match(diffs[EDITS.cleanMerge], /\tlocal\n\+\+\+ b\/[^\n]*\tmerged\n/, "a clean merge's diff is local → the merge");
  assert.match(diffs[".gitignore"], /\+\.agent-os\/\.backups\//);

  const real = makeCtx(w.project, { source: w.source, onConflict: "merge" });
  const r = await runTaps([contentPlugin()], real.ctx);
  assert.is(r.error, undefined);
  assert.equal(strip(r.plan), strip(d.plan));
  assert.not.equal(snapshotTree(w.project, { mtime: true }), before);
});

test.after(removeTemps);
test.run();
