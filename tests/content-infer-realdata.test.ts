// Base inference on real Agent OS content (demo/assets): upstream's installer put release
// ced34ea (v1.3.0) into a project and recorded nothing; the source's history holds ced34ea,
// then 395aab3. Inference must find ced34ea and give the plan --from ced34ea gives; without
// history every file upstream changed is a (false) conflict.
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { contentPlugin } from "../plugins/content.ts";
import type { ContentEntry, ContentPlanX } from "../plugins/content/plan.ts";
import { asFirstUpgrade, gitMergeFile, makeCtx, makeSourceRepo, removeTemps, runTaps, tmpDir, writeTree } from "./helpers/content-project.ts";
import { assetRelease, installWithoutRecords, planOf, withoutHistory } from "./helpers/infer-project.ts";

const OLD = "ced34ea";
const NEW = "395aab3";

const EDITS = {
  cleanMerge: "standards/universal/concurrency/locking-strategies.md",
  markers: "standards/universal/testing/test-pyramid.md",
  sharedMerge: "usage/mcp-usage-guide.md",
  notChangedUpstream: "workflows/spec_creation_v1/core/readme-template.md",
  deletedUnchanged: "workflows/spec_creation_v1/core/srd-template.md",
  deletedChanged: "standards/universal/database/database-patterns.md",
  userStandard: "standards/universal/team/our-rules.md",
  retiredShared: "usage/agent-os-update-guide.md",
};
const NOTE = "\n## Team note\n\nWe order locks by id.\n";

let repo: { source: string; commits: string[]; flat: string } | null = null;

/** One source for the whole file; `flat` is the same files without the history. */
function sourceRepo() {
  if (!repo) {
    const root = tmpDir("infer-real-src");
    const source = path.join(root, "agent-os-enhanced");
    const commits = makeSourceRepo(source, [{ universal: assetRelease(OLD) }, { universal: assetRelease(NEW) }]);
    repo = { source, commits, flat: withoutHistory(source, path.join(root, "download")) };
  }
  return repo;
}

function project(edited: boolean): { project: string; install: string } {
  const project = path.join(tmpDir("infer-real"), "proj");
  const install = installWithoutRecords(project, assetRelease(OLD));
  if (edited) {
    const I = (p: string) => path.join(install, p);
    for (const t of [EDITS.cleanMerge, EDITS.markers, EDITS.sharedMerge, EDITS.notChangedUpstream]) fs.appendFileSync(I(t), NOTE);
    fs.rmSync(I(EDITS.deletedUnchanged));
    fs.rmSync(I(EDITS.deletedChanged));
    writeTree(install, { [EDITS.userStandard]: "# Our rules\n" });
  }
  return { project, install };
}

const actions = (plan: ContentPlanX) => Object.fromEntries((plan.entries as ContentEntry[]).map((e) => [e.target, e.action]));

test("as upstream's installer left it: ced34ea inferred from 91 of 91 files; 0 conflicts, 42 without history", async () => {
  const { source, commits, flat } = sourceRepo();
  const p = project(false);
  const inferred = await planOf(p.project, { source });
  assert.equal(inferred.plan.base, { kind: "git", ref: commits[0], via: "inferred", matched: 91, unedited: 91, total: 91 });
  assert.equal(inferred.plan.counts, { new: 39, updated: 42, unchanged: 48, kept_local: 0, conflicts: 0, deleted: 1, errors: 0, merged: 0 });
  assert.equal(inferred.run.findings.warnings.map((f) => f.message), [`Base inferred: ${commits[0].slice(0, 7)}, 91 of 91 files match`]);
  // The retired shared file goes: it is unedited, and the server would index it beside its successor.
  assert.equal([inferred.byTarget[EDITS.retiredShared].action, inferred.byTarget[EDITS.retiredShared].reason], ["delete", "deleted upstream"]);

  const from = await planOf(p.project, { source, from: commits[0] });
  // --from reads no file upstream left alone (not_checked); inference read them all.
  assert.is(from.plan.counts.not_checked, 48);
  assert.equal(from.plan.entries, asFirstUpgrade(inferred.plan.entries, from.plan.entries), "the plan --from ced34ea gives, entry for entry");

  const none = await planOf(p.project, { source: flat });
  assert.equal(none.plan.base, { kind: "none" });
  assert.equal(none.plan.counts, { new: 39, updated: 0, unchanged: 48, kept_local: 1, conflicts: 42, deleted: 0, errors: 0, merged: 0 });
});

test("with user edits: 85 of 90 files match ced34ea; 2 clean merges and 2 true conflicts (42 without history), and merges against ced34ea", async () => {
  const { source, commits, flat } = sourceRepo();
  const p = project(true);
  const inferred = await planOf(p.project, { source, onConflict: "merge" });
  // 91 installed, 2 deleted by the user, 1 added: 90 local files; 4 edited, 1 the user's own.
  assert.equal(inferred.plan.base, { kind: "git", ref: commits[0], via: "inferred", matched: 85, unedited: 85, total: 90 });
  const withAction = (plan: ContentPlanX, action: string) => (plan.entries as ContentEntry[]).filter((e) => e.action === action).map((e) => e.target);
  // The two edits whose three-way merge is clean are merged, as git does (issue 21); the other two are true conflicts.
  assert.equal(withAction(inferred.plan, "conflict"), [EDITS.deletedChanged, EDITS.markers]);
  assert.equal(withAction(inferred.plan, "merge"), [EDITS.cleanMerge, EDITS.sharedMerge]);
  assert.equal(inferred.plan.counts, { new: 39, updated: 38, unchanged: 46, kept_local: 3, conflicts: 2, deleted: 1, errors: 0, merged: 2 });

  const from = await planOf(p.project, { source, from: commits[0], onConflict: "merge" });
  const exact = asFirstUpgrade(inferred.plan.entries, from.plan.entries);
  assert.equal(actions(from.plan), Object.fromEntries(exact.map((e) => [e.target, e.action])));
  assert.equal(from.plan.entries.map((e) => e.hashes), exact.map((e) => e.hashes));

  const none = await planOf(p.project, { source: flat, onConflict: "merge" });
  // The 42 files upstream changed, less the one the user deleted, plus the one only the user changed.
  assert.is(none.plan.counts.conflicts, 42);

  // The real run merges the user's notes into upstream's new versions against ced34ea's.
  const { ctx } = makeCtx(p.project, { source, onConflict: "merge" });
  const run = await runTaps([contentPlugin()], ctx);
  assert.is(run.error, undefined, String(run.error));
  const rel = (t: string) => t.startsWith("standards/universal/") ? `standards/${t.slice("standards/universal/".length)}` : t;
  for (const t of [EDITS.cleanMerge, EDITS.sharedMerge]) {
    const mine = Buffer.concat([fs.readFileSync(path.join(assetRelease(OLD), rel(t))), Buffer.from(NOTE)]);
    const merged = gitMergeFile(mine, fs.readFileSync(path.join(assetRelease(OLD), rel(t))), fs.readFileSync(path.join(assetRelease(NEW), rel(t))));
    assert.equal(fs.readFileSync(path.join(p.install, t)), merged, t);
    assert.ok(merged.toString().endsWith(NOTE), `${t} keeps the note`);
  }
  assert.equal(run.evidence!.needs_attention, [EDITS.deletedChanged, EDITS.markers]);
});

test.after(removeTemps);
test.run();
