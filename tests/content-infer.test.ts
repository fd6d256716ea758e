// Base inference (SPEC §5.2) on real git histories: an installation that records nothing,
// a source whose history holds three releases and the commits between them (renames,
// deletions, moves out of usage/), and the plan, the dry run, --json and the summary that
// report what was inferred. Also shared files upstream deleted, and files upstream moved.
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { EXIT } from "../core/errors.ts";
import type { RunOptions } from "../core/types.ts";
import { runLifecycle } from "../core/upgrader.ts";
import { backupPlugin } from "../plugins/backup.ts";
import { contentPlugin, renderPlanText } from "../plugins/content.ts";
import { type CommitChanges, firstParentHistory, renamesBetween } from "../plugins/content/gitobj.ts";
import { inferBase } from "../plugins/content/infer.ts";
import type { ContentEntry, ContentPlanX } from "../plugins/content/plan.ts";
import { preflightPlugin } from "../plugins/preflight.ts";
import { reportPlugin } from "../plugins/report.ts";
import { resultOf, runCli } from "./helpers/cli.ts";
import { git, gitMergeFile, makeCtx, makeSourceRepo, otherPhasesDouble, read, removeTemps, runTaps, sha, tmpDir, type Tree, writeTree } from "./helpers/content-project.ts";
import { snapshotTree } from "../demo/kit/tree.ts";
import { installWithoutRecords, planOf, withoutHistory } from "./helpers/infer-project.ts";
import { toRunOptions, resolvedWith, type FlatRunOptions } from "./helpers/run-options.ts";

const lines = (name: string, n: number, change: Record<number, string> = {}) =>
  Array.from({ length: n }, (_, i) => change[i] ?? `${name} line ${i + 1}`).join("\n") + "\n";

// Release 1 and what each later commit changes in `universal/`.
const R1: Tree = {
  "standards/a.md": lines("a", 8),
  "standards/b.md": lines("b", 12),
  "standards/c.md": lines("c", 6),
  "standards/d.md": lines("d", 6),
  "standards/e.md": lines("e", 6),
  "standards/h.md": lines("h", 6),
  "standards/same.md": lines("same", 4),
  "standards/x-old.md": lines("x", 10),
  "standards/sys-gone.md": lines("sys-gone", 3),
  "workflows/w_v1/one.md": lines("one", 5),
  "usage/guide.md": lines("guide", 5),
  "usage/old-note.md": lines("old-note", 5),
  "usage/moved.md": lines("moved", 20),
  "usage/moved-clean.md": lines("moved-clean", 20),
};
const FIX1: Tree = { ...R1, "standards/e.md": lines("e", 6, { 2: "e line 3, typo fixed" }) };
const R2: Tree = (() => {
  const t: Tree = {
    ...FIX1,
    "standards/c.md": lines("c", 6, { 0: "c, release 2" }),
    "standards/d.md": lines("d", 6, { 0: "d, release 2" }),
    "standards/h.md": lines("h", 6, { 0: "h, release 2" }),
    // Renamed, and edited a little on the way.
    "standards/x-new.md": lines("x", 10, { 9: "x line 10, renamed" }),
  };
  delete t["standards/x-old.md"];
  return t;
})();
const FIX2: Tree = { ...R2, "workflows/w_v2/two.md": lines("two", 5) };
const R3: Tree = (() => {
  const t: Tree = {
    ...FIX2,
    "standards/b.md": lines("b", 12, { 1: "b line 2, release 3" }),
    "standards/h.md": lines("h", 6, { 0: "h, release 2", 5: "h line 6, release 3" }),
    // usage/ retired: two files move under standards/, two go.
    "standards/ai/moved.md": R1["usage/moved.md"],
    "standards/ai/moved-clean.md": R1["usage/moved-clean.md"],
  };
  for (const gone of ["usage/guide.md", "usage/old-note.md", "usage/moved.md", "usage/moved-clean.md", "standards/sys-gone.md"]) delete t[gone];
  return t;
})();

const MINE = {
  "standards/universal/a.md": lines("a", 8, { 7: "a line 8, our team's rule" }),
  "standards/universal/b.md": lines("b", 12, { 10: "b line 11, ours" }),
  "usage/old-note.md": lines("old-note", 5, { 0: "old-note: we still use this" }),
  "usage/moved.md": lines("moved", 20, { 19: "moved line 20, our addition" }),
};

interface World {
  source: string;
  commits: string[];
  project: string;
  install: string;
}

let repo: { source: string; commits: string[] } | null = null;

function sourceRepo() {
  if (!repo) {
    const source = path.join(tmpDir("infer-src"), "agent-os-enhanced");
    repo = { source, commits: makeSourceRepo(source, [R1, FIX1, R2, FIX2, R3].map((universal) => ({ universal }))) };
  }
  return repo;
}
const RELEASE = { r1: 0, fix1: 1, r2: 2, fix2: 3, r3: 4 };

/** Release 1 installed by upstream's installer (no records), one file hand-copied from release 2, the user's edits. */
function world(): World {
  const { source, commits } = sourceRepo();
  const project = path.join(tmpDir("infer"), "proj");
  const install = installWithoutRecords(project, R1);
  writeTree(install, { "standards/universal/h.md": R2["standards/h.md"], ...MINE, "standards/universal/ours.md": "# Our own standard\n" });
  return { source, commits, project, install };
}

const actionsOf = (plan: ContentPlanX) => Object.fromEntries((plan.entries as ContentEntry[]).filter((e) => e.action !== "unchanged").map((e) => [e.target, e.action]));

test("no records, three releases: the base is release 1, the hand-copied file updates, the edited one merges cleanly", async () => {
  const w = world();
  const { run, plan, byTarget } = await planOf(w.project, { source: w.source });
  // 15 local files: 9 as release 1 has them, h.md as release 2 has it, 4 edited, 1 the user's own.
  assert.equal(plan.base, { kind: "git", ref: w.commits[RELEASE.r1], via: "inferred", matched: 9, unedited: 10, total: 15 });
  assert.equal(run.findings.warnings.map((f) => [f.code, f.message]), [
    ["BASE_INFERRED", `Base inferred: ${w.commits[0].slice(0, 7)}, 9 of 15 files match; 1 more matches another upstream version; 5 edited or your own`],
    ["UPSTREAM_MOVED_CARRIED", "usage/moved.md (edited) was moved upstream to standards/universal/ai/moved.md: your edit is merged there and the old path removed"],
    ["UPSTREAM_DELETED_EDITED", "Kept usage/old-note.md (edited): upstream deleted it"],
  ]);
  assert.equal(actionsOf(plan), {
    "standards/universal/a.md": "keep_local",
    "standards/universal/ai/moved-clean.md": "new",
    // Moved by upstream, edited by the user: merged at the new path, the old one goes.
    "standards/universal/ai/moved.md": "merge",
    "standards/universal/b.md": "merge",
    "standards/universal/c.md": "update",
    "standards/universal/d.md": "update",
    "standards/universal/e.md": "update",
    "standards/universal/h.md": "update",
    "standards/universal/ours.md": "keep",
    "standards/universal/sys-gone.md": "delete",
    "standards/universal/x-new.md": "new",
    "standards/universal/x-old.md": "delete",
    "usage/guide.md": "delete",
    "usage/moved-clean.md": "delete",
    "usage/moved.md": "delete",
    "usage/old-note.md": "keep",
    "workflows/w_v2/two.md": "new",
  });
  // b.md: line 11 is ours, line 2 upstream's: a clean three-way merge, as git makes it.
  assert.equal(plan.counts, { new: 3, updated: 4, unchanged: 2, kept_local: 3, merged: 2, conflicts: 0, deleted: 5, errors: 0 });
  // The hand-copied file's base is the release-2 version it is a copy of.
  assert.equal(byTarget["standards/universal/h.md"].hashes, { base: sha(R2["standards/h.md"]), local: sha(R2["standards/h.md"]), new: sha(R3["standards/h.md"]) });
  // The edited files' base is the inferred commit's version: a real three-way comparison.
  assert.equal(byTarget["standards/universal/b.md"].hashes.base, sha(R1["standards/b.md"]));
  assert.is(byTarget["standards/universal/b.md"].conflict, "both-changed");
  assert.equal(byTarget["standards/universal/a.md"].hashes.base, sha(R1["standards/a.md"]));
  // Upstream's moves, named where they matter.
  assert.is(byTarget["standards/universal/x-old.md"].reason, "moved upstream to standards/universal/x-new.md");
  assert.is(byTarget["usage/moved-clean.md"].reason, "moved upstream to standards/universal/ai/moved-clean.md");
  assert.is(byTarget["usage/moved.md"].reason, "moved upstream to standards/universal/ai/moved.md; your edit is carried there");
  assert.is(byTarget["usage/moved.md"].moved_to, "standards/universal/ai/moved.md");
  assert.equal(byTarget["standards/universal/ai/moved.md"].moved_from, { target: "usage/moved.md", base: sha(R1["usage/moved.md"]), local: sha(MINE["usage/moved.md"]) });
  assert.is(byTarget["usage/old-note.md"].reason, "deleted upstream; kept because you edited it");
  assert.is(byTarget["usage/guide.md"].reason, "deleted upstream");

  const text = renderPlanText(plan);
  assert.match(text, new RegExp(`^Content plan: base git ${w.commits[0].slice(0, 12)} \\(inferred: 9 of 15 files match\\) → ${w.commits[4].slice(0, 12)}\n`));
  assert.match(text, /^  warning    usage\/moved\.md \(edited\) was moved upstream to standards\/universal\/ai\/moved\.md: your edit is merged there and the old path removed$/m);
});

test("the same installation with the installed commit recorded: the hand-copied file becomes a second both-changed file", async () => {
  const w = world();
  const { plan } = await planOf(w.project, { source: w.source, from: w.commits[RELEASE.r1] });
  assert.equal(plan.base, { kind: "git", ref: w.commits[0], via: "--from" });
  // Both merge cleanly (so neither is asked), but h.md is merged where inference updates it.
  assert.equal((plan.entries as ContentEntry[]).filter((e) => e.conflict === "both-changed").map((e) => [e.target, e.action, e.three_way]), [
    ["standards/universal/ai/moved.md", "merge", "clean"],
    ["standards/universal/b.md", "merge", "clean"],
    ["standards/universal/h.md", "merge", "clean"],
  ]);
  // Without any history nothing is known: every file that differs is a conflict.
  const flat = withoutHistory(w.source, path.join(tmpDir("infer-flat"), "src"));
  const none = await planOf(w.project, { source: flat });
  assert.equal(none.plan.base, { kind: "none" });
  assert.is(none.plan.counts.conflicts, 6, "a, b, c, d, e, h: every local file that differs from release 3");
});

test("--on-conflict merge: what the run writes, deletes and keeps", async () => {
  const w = world();
  const { ctx, journal } = makeCtx(w.project, { source: w.source, onConflict: "merge" });
  const run = await runTaps([contentPlugin()], ctx);
  assert.is(run.error, undefined, String(run.error));
  const I = (p: string) => path.join(w.install, p);
  const U = (p: string) => R3[p] as string;
  assert.is(read(I("standards/universal/h.md")), U("standards/h.md"), "the hand-copied file is updated cleanly");
  assert.is(read(I("standards/universal/b.md")), gitMergeFile(Buffer.from(MINE["standards/universal/b.md"]), Buffer.from(R1["standards/b.md"] as string), Buffer.from(U("standards/b.md"))).toString());
  assert.ok(read(I("standards/universal/b.md")).includes("b line 2, release 3\n") && read(I("standards/universal/b.md")).includes("b line 11, ours\n"), "both changes, no markers");
  assert.is(read(I("standards/universal/a.md")), MINE["standards/universal/a.md"]);
  for (const p of ["c.md", "d.md", "e.md", "x-new.md", "ai/moved-clean.md"]) assert.is(read(I(`standards/universal/${p}`)), U(`standards/${p}`), p);
  // The edited file upstream moved: the user's edit, at the new path.
  assert.is(read(I("standards/universal/ai/moved.md")), MINE["usage/moved.md"]);
  // Unedited shared and system files upstream deleted are gone, so is the old path of the moved one; the edited shared one stays, byte for byte.
  for (const p of ["usage/guide.md", "usage/moved-clean.md", "usage/moved.md", "standards/universal/sys-gone.md", "standards/universal/x-old.md"]) assert.not.ok(fs.existsSync(I(p)), p);
  assert.is(read(I("usage/old-note.md")), MINE["usage/old-note.md"]);
  assert.equal(fs.readdirSync(I("usage")).sort(), ["old-note.md"]);
  assert.equal(run.evidence!.needs_attention, []);
  assert.equal((run.evidence!.base as ContentPlanX["base"]).via, "inferred");
  // The summary lists journal steps named warning:…
  assert.equal(journal.filter((j) => j.step.startsWith("warning:")).map((j) => j.step), [
    `warning:Base inferred: ${w.commits[0].slice(0, 7)}, 9 of 15 files match; 1 more matches another upstream version; 5 edited or your own`,
    "warning:usage/moved.md (edited) was moved upstream to standards/universal/ai/moved.md: your edit is merged there and the old path removed",
    "warning:Kept usage/old-note.md (edited): upstream deleted it",
  ]);
  // From now on the installed manifest is the base: nothing is inferred, nothing is asked.
  const next = await planOf(w.project, { source: w.source });
  assert.equal(next.plan.base, { kind: "manifest", ref: w.commits[4], via: "installed-manifest" });
  assert.equal(actionsOf(next.plan), { "standards/universal/a.md": "keep_local", "standards/universal/ai/moved.md": "keep_local", "standards/universal/b.md": "keep_local", "standards/universal/ours.md": "keep", "usage/old-note.md": "keep" });
});

test("an edited system file upstream moved: merged at the new path, the old one goes", async () => {
  const w = world();
  const mine = lines("x", 10, { 0: "x line 1, ours" });
  writeTree(w.install, { "standards/universal/x-old.md": mine });
  const { run, byTarget } = await planOf(w.project, { source: w.source });
  const o = byTarget["standards/universal/x-old.md"];
  const n = byTarget["standards/universal/x-new.md"];
  assert.equal([o.action, o.conflict, o.moved_to, o.reason], ["delete", undefined, "standards/universal/x-new.md", "moved upstream to standards/universal/x-new.md; your edit is carried there"]);
  assert.equal([n.action, n.three_way, n.moved_from], ["merge", "clean", { target: "standards/universal/x-old.md", base: sha(R1["standards/x-old.md"]), local: sha(mine) }]);
  assert.equal(run.findings.warnings.filter((f) => f.code === "UPSTREAM_MOVED_EDITED" && f.message.startsWith("standards/")), []);
});

test("an edited file upstream moved whose merge conflicts: a conflict of the new path; merge writes the markers there and removes the old path", async () => {
  const w = world();
  const mine = lines("x", 10, { 9: "x line 10, ours" });
  writeTree(w.install, { "standards/universal/x-old.md": mine });
  const { run, byTarget } = await planOf(w.project, { source: w.source, onConflict: "merge" });
  const o = byTarget["standards/universal/x-old.md"];
  const n = byTarget["standards/universal/x-new.md"];
  assert.equal([o.action, o.reason], ["keep", "moved upstream to standards/universal/x-new.md; the decision for standards/universal/x-new.md decides (merge or theirs remove this path)"]);
  assert.equal([n.action, n.conflict, n.three_way, n.decision, n.reason], ["conflict", "both-changed", "conflict", "merge", "moved upstream from standards/universal/x-old.md; changed locally and upstream"]);
  const moved = run.findings.warnings.find((f) => f.code === "UPSTREAM_MOVED_EDITED" && f.message.startsWith("standards/"));
  assert.equal([moved?.message, moved?.fix], [
    "standards/universal/x-old.md (edited) was moved upstream to standards/universal/x-new.md, and the merge there has conflicts: merge writes them marked at standards/universal/x-new.md and removes standards/universal/x-old.md",
    "Decide for standards/universal/x-new.md: merge (then remove the markers), theirs (upstream's file; yours stays in the backup) or keep (yours stays at standards/universal/x-old.md)",
  ]);

  const { ctx } = makeCtx(w.project, { source: w.source, onConflict: "merge" });
  const applied = await runTaps([contentPlugin()], ctx);
  assert.is(applied.error, undefined, String(applied.error));
  const I = (p: string) => path.join(w.install, p);
  assert.is(read(I("standards/universal/x-new.md")), gitMergeFile(Buffer.from(mine), Buffer.from(R1["standards/x-old.md"] as string), Buffer.from(R3["standards/x-new.md"] as string)).toString());
  assert.match(read(I("standards/universal/x-new.md")), /^<<<<<<< local\nx line 10, ours\n/m);
  assert.not.ok(fs.existsSync(I("standards/universal/x-old.md")));
  assert.ok((applied.evidence!.needs_attention as string[]).includes("standards/universal/x-new.md"));
});

test("an edited file upstream moved whose merge conflicts: theirs installs upstream's file and removes the old path; keep leaves yours beside it", async () => {
  const mine = lines("x", 10, { 9: "x line 10, ours" });
  for (const [decision, oldStays] of [["theirs", false], ["keep", true]] as const) {
    const w = world();
    writeTree(w.install, { "standards/universal/x-old.md": mine });
    const { ctx } = makeCtx(w.project, { source: w.source, onConflict: decision });
    const applied = await runTaps([contentPlugin()], ctx);
    assert.is(applied.error, undefined, String(applied.error));
    const I = (p: string) => path.join(w.install, p);
    assert.is(read(I("standards/universal/x-new.md")), R3["standards/x-new.md"], decision);
    assert.is(fs.existsSync(I("standards/universal/x-old.md")), oldStays, decision);
    if (oldStays) assert.is(read(I("standards/universal/x-old.md")), mine);
  }
});

test("installed from the middle release: its commit is found, not the oldest one", async () => {
  const { source, commits } = sourceRepo();
  const project = path.join(tmpDir("infer-mid"), "proj");
  installWithoutRecords(project, R2);
  const { plan } = await planOf(project, { source });
  // Release 2 and the commit after it (it only adds a file) tie: the range is recorded, and the
  // oldest is the base of unedited files (the added file is new, not deleted by the user).
  assert.equal(plan.base, { kind: "git", ref: commits[RELEASE.r2], via: "inferred", range: { from: commits[RELEASE.r2], to: commits[RELEASE.fix2], commits: 2 }, matched: 14, unedited: 14, total: 14 });
  assert.is((plan.entries as ContentEntry[]).find((e) => e.target === "workflows/w_v2/two.md")?.action, "new");
  assert.match(renderPlanText(plan), new RegExp(`^Content plan: base git ${commits[RELEASE.r2].slice(0, 12)}\\.\\.${commits[RELEASE.fix2].slice(0, 12)} \\(inferred: 2 commits match equally; 14 of 14 files match\\) → `));
  assert.is(plan.counts.conflicts, 0);
  assert.equal(Object.values(actionsOf(plan)).filter((a) => a === "update").length, 2, "b.md and h.md");
});

test("a VERSION.txt commit the source does not know: said, then inferred", async () => {
  const w = world();
  fs.writeFileSync(path.join(w.install, "VERSION.txt"), "version=1.0\ncommit=0123456789abcdef0123456789abcdef01234567\n");
  const { run, plan } = await planOf(w.project, { source: w.source });
  assert.equal([plan.base.via, plan.base.ref], ["inferred", w.commits[0]]);
  assert.equal(run.findings.warnings.map((f) => f.code).slice(0, 2), ["BASE_REF_UNKNOWN", "BASE_INFERRED"]);
  assert.equal([plan.counts.merged, plan.counts.conflicts], [2, 0]);
});

test("nothing local matches any version upstream ever had: no base, and it says so", async () => {
  const { source } = sourceRepo();
  const project = path.join(tmpDir("infer-nomatch"), "proj");
  installWithoutRecords(project, { "standards/a.md": "not upstream's\n", "standards/b.md": "nor this\n" });
  const { run, plan } = await planOf(project, { source });
  assert.equal(plan.base, { kind: "none" });
  // The installation has no workflows/: its upstream files are new, and that is said.
  assert.equal(run.findings.warnings.map((f) => f.code), ["BASE_REF_UNKNOWN", "MAPPED_FOLDER_NOT_INSTALLED", "CONFLICTS_UNRESOLVED"]);
  assert.match(run.findings.warnings[0].message, /and not one of the 2 installed files matches a version in the source's history: every file that differs from the source is a conflict$/);
  assert.is(plan.counts.conflicts, 2);
});

test("a source repository without a commit yet: no base, and the reason", async () => {
  const source = path.join(tmpDir("infer-unborn"), "src");
  writeTree(source, { "universal/standards/a.md": "a\n", "universal/workflows/w/x.md": "x\n", "mcp_server/__init__.py": "" });
  git(source, "init", "-q");
  const project = path.join(tmpDir("infer-unborn"), "proj");
  installWithoutRecords(project, { "standards/a.md": "a, older\n" });
  const { run, plan } = await planOf(project, { source });
  assert.equal(plan.base, { kind: "none" });
  assert.equal(run.findings.errors, []);
  assert.is(run.findings.warnings[0].message, "The installed version is unknown and the source's history cannot be read (fatal: bad revision 'HEAD'): every file that differs from the source is a conflict");
  assert.equal((plan.entries as ContentEntry[]).map((e) => [e.target, e.action]), [["standards/universal/a.md", "conflict"], ["workflows/w/x.md", "new"]]);
});

// The inference itself, on hand-made histories (the raw changes `git log --raw` would give).
const ch = (path: string, before: string | null, after: string | null, from?: string) => ({ status: from ? "R" : after === null ? "D" : before === null ? "A" : "M", path, before, after, ...(from ? { from } : {}) });

test("inferBase: ties recorded (the oldest is the commit), an edited file's differing tied versions offered; a rename keeps a file's versions together", () => {
  const history: CommitChanges[] = [
    { commit: "c1", changes: [ch("u/a", null, "a1"), ch("u/b", null, "b1")] },
    { commit: "c2", changes: [ch("u/c", null, "c1")] },
    { commit: "c3", changes: [ch("u/b2", "b1", "b2", "u/b"), ch("u/a", "a1", "a2")] },
    { commit: "c4", changes: [ch("u/b2", "b2", "b3")] },
  ];
  // a as c1..c2 had it, b as its renamed successor had it in c4: an old path holding a newer version.
  const r = inferBase(history, new Map([["u/a", "a1"], ["u/b", "b3"], ["u/mine", "m"]]));
  assert.equal({ ...r, bases: Object.fromEntries(r.bases) }, {
    commit: "c1",
    matched: 1,
    unedited: 2,
    total: 3,
    bases: { "u/a": "a1", "u/b": "b3" },
    tied: ["c1", "c2"],
    choices: new Map(),
  });
  // Only u/a (edited) and u/c installed: c2, c3 and c4 tie; u/a's two versions among them are offered, oldest first.
  const edited = inferBase(history, new Map([["u/a", "a2, edited"], ["u/c", "c1"]]));
  assert.equal([edited.commit, edited.tied, edited.bases.get("u/a"), [...edited.choices]], ["c2", ["c2", "c3", "c4"], "a1", [["u/a", [{ oid: "a1", commit: "c2" }, { oid: "a2", commit: "c3" }]]]]);
  const none = inferBase(history, new Map([["u/a", "zz"]]));
  assert.equal([none.commit, none.matched, none.unedited, none.bases.size], [null, 0, 0, 0]);
  const later = inferBase(history, new Map([["u/a", "a2"], ["u/b2", "b2"], ["u/c", "c1"]]));
  assert.equal([later.commit, later.matched, Object.fromEntries(later.bases)], ["c3", 3, { "u/a": "a2", "u/b2": "b2", "u/c": "c1" }]);
});

test("firstParentHistory on a real repository with a merge: the main line only, each commit against its first parent", async () => {
  const dir = path.join(tmpDir("infer-merge"), "src");
  const [c1] = makeSourceRepo(dir, [{ universal: { "standards/a.md": "a1\n", "standards/b.md": lines("b", 10) } }]);
  git(dir, "checkout", "-q", "-b", "side");
  writeTree(dir, { "universal/standards/a.md": "a2 (side)\n" });
  git(dir, "commit", "-qam", "side 1");
  writeTree(dir, { "universal/standards/a.md": "a3 (side)\n" });
  git(dir, "commit", "-qam", "side 2");
  git(dir, "checkout", "-q", "main");
  git(dir, "mv", "universal/standards/b.md", "universal/standards/b-renamed.md");
  git(dir, "commit", "-qm", "rename on main");
  const renamed = git(dir, "rev-parse", "HEAD");
  git(dir, "merge", "-q", "--no-ff", "-m", "merge side", "side");
  const merge = git(dir, "rev-parse", "HEAD");
  const blob = (rev: string) => git(dir, "rev-parse", rev);
  const history = await firstParentHistory(dir, ["universal/standards"]);
  assert.equal(history, [
    { commit: c1, changes: [
      { status: "A", path: "universal/standards/a.md", before: null, after: blob(`${c1}:universal/standards/a.md`) },
      { status: "A", path: "universal/standards/b.md", before: null, after: blob(`${c1}:universal/standards/b.md`) },
    ] },
    { commit: renamed, changes: [{ status: "R", from: "universal/standards/b.md", path: "universal/standards/b-renamed.md", before: blob(`${c1}:universal/standards/b.md`), after: blob(`${c1}:universal/standards/b.md`) }] },
    { commit: merge, changes: [{ status: "M", path: "universal/standards/a.md", before: blob(`${c1}:universal/standards/a.md`), after: blob(`${merge}:universal/standards/a.md`) }] },
  ]);
  assert.equal(await renamesBetween(dir, c1, merge, ["universal/standards"]), new Map([["universal/standards/b.md", "universal/standards/b-renamed.md"]]));
});

// Through the real upgrader and the real CLI: the plan's base in --json, the dry run's text, the summary.
const runOptions = (w: World, o: FlatRunOptions): RunOptions => toRunOptions({
  source: w.source,
  target: w.project,
  dryRun: false,
  diff: false,
  onConflict: null,
  yes: false,
  json: true,
  restart: false,
  skipDeps: true,
  keepBackups: 3,
  from: null,
  interactive: false,
  ...o,
});

test("runLifecycle: the summary says which base was inferred and which edited files upstream deleted or moved", async () => {
  const w = world();
  const plugins = [preflightPlugin(), backupPlugin(), contentPlugin(), otherPhasesDouble({ backup: false }), reportPlugin()];
  const r = await runLifecycle({ resolved: resolvedWith(plugins), options: runOptions(w, { onConflict: "merge" }) });
  assert.is(r.status, "completed", JSON.stringify(r.error));
  assert.equal((r.plan as ContentPlanX).base, { kind: "git", ref: w.commits[0], via: "inferred", matched: 9, unedited: 10, total: 15 });
  const summary = fs.readFileSync(r.report_path!, "utf8");
  assert.match(summary, new RegExp(`\n## Warnings\n\n- Base inferred: ${w.commits[0].slice(0, 7)}, 9 of 15 files match; 1 more matches another upstream version; 5 edited or your own\n- usage/moved\\.md \\(edited\\) was moved upstream to standards/universal/ai/moved\\.md: your edit is merged there and the old path removed\n- Kept usage/old-note\\.md \\(edited\\): upstream deleted it\n`));
});

test("CLI --dry-run --json and --dry-run: the inferred base in the plan and in the text; nothing written", async () => {
  const w = world();
  const before = snapshotTree(w.project, { mtime: true });
  // --no-validate: this installation has no server to start (a dry run probes it like the real run).
  const j = await runCli(["--source", w.source, "--dry-run", "--json", "--no-validate"], { cwd: w.project, timeoutMs: 60_000 });
  assert.is(j.code, EXIT.ok, j.stdout + j.stderr);
  const result = resultOf(j);
  assert.equal(result.plan.base, { kind: "git", ref: w.commits[0], via: "inferred", matched: 9, unedited: 10, total: 15 });
  assert.equal([result.plan.counts.merged, result.plan.counts.conflicts], [2, 0]);
  const h = await runCli(["--source", w.source, "--dry-run", "--no-validate"], { cwd: w.project, timeoutMs: 60_000 });
  assert.is(h.code, EXIT.ok, h.stdout + h.stderr);
  assert.match(h.stdout, new RegExp(`^  ! Base inferred: ${w.commits[0].slice(0, 7)}, 9 of 15 files match; 1 more matches another upstream version; 5 edited or your own$`, "m"));
  assert.match(h.stdout, /^ +delete +usage\/moved\.md +\(moved upstream to standards\/universal\/ai\/moved\.md; your edit is carried there\)$/m);
  assert.equal(snapshotTree(w.project, { mtime: true }), before);
});

test.after(removeTemps);
test.run();
