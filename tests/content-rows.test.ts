// Every row of SPEC §5.2's table on real files: a real git source with the installed
// release and the new one in its history, a real installation with user edits, and the
// content plugin's taps run as the upgrader runs them. Each base kind is exercised, and a
// base inferred from the source's history when the installation records nothing.
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { contentPlugin, renderPlanJson, renderPlanText } from "../plugins/content.ts";
import type { ContentEntry, ContentPlanX } from "../plugins/content/plan.ts";
import { git, installUniversal, makeCtx, makeSourceRepo, read, removeTemps, runTaps, sha, tmpDir, writeTree } from "./helpers/content-project.ts";

const BIN_OLD = new Uint8Array([0, 1, 2, 3, 0, 5]);
const BIN_NEW = new Uint8Array([0, 9, 9, 9, 0, 5]);

const OLD_TREE = {
  "standards/same.md": "same\n",
  "standards/upd.md": "line 1\nline 2\n",
  "standards/local.md": "original\n",
  "standards/both.md": "a\nb\nc\nd\ne\nf\ng\n",
  "standards/both-clash.md": "one\ntwo\nthree\n",
  "standards/same-change.md": "before\n",
  "standards/gone.md": "obsolete\n",
  "standards/gone-edited.md": "obsolete too\n",
  "standards/deleted-by-user.md": "stable\n",
  "standards/deleted-by-user-changed.md": "v1\n",
  "standards/blob.bin": BIN_OLD,
  "standards/blob-edited.bin": BIN_OLD,
  "standards/nested/deep/only.md": "only file of its folder\n",
  "workflows/wf_v1/metadata.json": "{\"v\":1}\n",
  "usage/guide.md": "guide v1\n",
  "usage/retired.md": "retired upstream\n",
};

const NEW_TREE = {
  "standards/same.md": "same\n",
  "standards/upd.md": "line 1\nline 2 changed upstream\n",
  "standards/local.md": "original\n",
  "standards/both.md": "a\nb (upstream)\nc\nd\ne\nf\ng\n",
  "standards/both-clash.md": "one\ntwo (upstream)\nthree\n",
  "standards/same-change.md": "after\n",
  "standards/deleted-by-user.md": "stable\n",
  "standards/deleted-by-user-changed.md": "v2\n",
  "standards/added.md": "brand new\n",
  "standards/blob.bin": BIN_NEW,
  "standards/blob-edited.bin": BIN_NEW,
  "workflows/wf_v1/metadata.json": "{\"v\":2}\n",
  "workflows/wf_v2/metadata.json": "{\"v\":1}\n",
  "usage/guide.md": "guide v2\n",
};

interface Setup {
  project: string;
  install: string;
  source: string;
  commits: string[];
}

function setup(base: "manifest" | "git" | "none" | "inferred"): Setup {
  const root = tmpDir("rows");
  const source = path.join(root, "source");
  const commits = makeSourceRepo(source, [{ universal: OLD_TREE }, { universal: NEW_TREE }]);
  const project = path.join(root, "proj");
  const install = installUniversal(project, OLD_TREE, { commit: base === "none" || base === "inferred" ? undefined : commits[0], manifest: base === "manifest" });
  // No history at all: the only way to have no base.
  if (base === "none") fs.rmSync(path.join(source, ".git"), { recursive: true });
  // The user's changes.
  writeTree(install, {
    "standards/universal/local.md": "original, edited by me\n",
    "standards/universal/both.md": "a\nb\nc\nd\ne\nf\ng (mine)\n",
    "standards/universal/both-clash.md": "one\ntwo (mine)\nthree\n",
    "standards/universal/same-change.md": "after\n",
    "standards/universal/gone-edited.md": "obsolete too, but I use it\n",
    "standards/universal/mine.md": "my own standard\n",
    "standards/universal/blob-edited.bin": new Uint8Array([0, 7, 7, 7, 0, 5]),
    "standards/development/python.md": "user-owned\n",
    "specs/2025-10-01-x/README.md": "a spec\n",
  });
  fs.rmSync(path.join(install, "standards/universal/deleted-by-user.md"));
  fs.rmSync(path.join(install, "standards/universal/deleted-by-user-changed.md"));
  return { project, install, source, commits };
}

const byTarget = (entries: unknown[]) => Object.fromEntries((entries as ContentEntry[]).map((e) => [e.target, e]));
const actions = (entries: unknown[]) => Object.fromEntries((entries as ContentEntry[]).map((e) => [e.target, e.action]));

const EXPECTED_WITH_BASE = {
  "standards/universal/added.md": "new",
  "standards/universal/blob-edited.bin": "conflict",
  "standards/universal/blob.bin": "update",
  "standards/universal/both-clash.md": "conflict",
  "standards/universal/both.md": "merge",
  "standards/universal/deleted-by-user-changed.md": "conflict",
  "standards/universal/deleted-by-user.md": "keep_local",
  "standards/universal/gone-edited.md": "conflict",
  "standards/universal/gone.md": "delete",
  "standards/universal/local.md": "keep_local",
  "standards/universal/mine.md": "keep",
  "standards/universal/nested/deep/only.md": "delete",
  "standards/universal/same-change.md": "unchanged",
  "standards/universal/same.md": "unchanged",
  "standards/universal/upd.md": "update",
  "usage/guide.md": "update",
  "usage/retired.md": "delete",
  "workflows/wf_v1/metadata.json": "update",
  "workflows/wf_v2/metadata.json": "new",
};

/**
 * A first upgrade from a named commit (VERSION.txt, --from; no manifest of ours): the files
 * upstream left alone are kept without being read, whatever the user did to them.
 */
const EXPECTED_FIRST: Record<string, string> = {
  ...EXPECTED_WITH_BASE,
  "standards/universal/local.md": "not_checked",
  "standards/universal/same.md": "not_checked",
};

const BASES = {
  manifest: (s: Setup) => ({ kind: "manifest", ref: s.commits[0], via: "installed-manifest" }),
  git: (s: Setup) => ({ kind: "git", ref: s.commits[0], via: "VERSION.txt" }),
  // 15 local files: 8 are as release 1 has them, same-change.md as release 2 has it, 6 are edited or the user's own.
  inferred: (s: Setup) => ({ kind: "git", ref: s.commits[0], via: "inferred", matched: 8, unedited: 9, total: 15 }),
};

for (const base of ["manifest", "git", "inferred"] as const) {
  test(`every row of the table on real files (base: ${base})`, async () => {
    const s = setup(base);
    const { ctx } = makeCtx(s.project, { source: s.source, onConflict: "merge" });
    const run = await runTaps([contentPlugin()], ctx);
    assert.is(run.error, undefined, String(run.error));
    assert.equal(run.findings.errors, []);
    assert.equal(run.plan!.base, BASES[base](s));
    assert.equal(actions(run.plan!.entries), base === "git" ? EXPECTED_FIRST : EXPECTED_WITH_BASE);
    const e = byTarget(run.plan!.entries);
    assert.is(e["standards/universal/both.md"].conflict, "both-changed");
    assert.is(e["standards/universal/both.md"].three_way, "clean", "a clean three-way merge is merged, as git does");
    assert.is(e["standards/universal/both.md"].decision, undefined, "--on-conflict applies to true conflicts only");
    assert.is(e["standards/universal/both-clash.md"].three_way, "conflict");
    assert.is(e["standards/universal/deleted-by-user-changed.md"].conflict, "deleted-locally");
    assert.is(e["standards/universal/gone-edited.md"].conflict, "deleted-upstream");
    assert.ok(e["standards/universal/blob.bin"].opaque);

    const I = (p: string) => path.join(s.install, p);
    // update / new: upstream's bytes
    assert.is(read(I("standards/universal/upd.md")), NEW_TREE["standards/upd.md"]);
    assert.is(read(I("standards/universal/added.md")), "brand new\n");
    assert.is(read(I("workflows/wf_v2/metadata.json")), "{\"v\":1}\n");
    assert.is(read(I("usage/guide.md")), "guide v2\n");
    assert.equal(new Uint8Array(fs.readFileSync(I("standards/universal/blob.bin"))), BIN_NEW);
    // keep local: the user's bytes
    assert.is(read(I("standards/universal/local.md")), "original, edited by me\n");
    assert.is(read(I("standards/universal/mine.md")), "my own standard\n");
    assert.not.ok(fs.existsSync(I("standards/universal/deleted-by-user.md")), "a file the user deleted stays deleted");
    // delete (system and unedited shared)
    assert.not.ok(fs.existsSync(I("standards/universal/gone.md")));
    assert.not.ok(fs.existsSync(I("standards/universal/nested")), "folders emptied by deletions go too");
    assert.not.ok(fs.existsSync(I("usage/retired.md")));
    // a clean merge, and conflicts with --on-conflict merge
    assert.is(read(I("standards/universal/both.md")), "a\nb (upstream)\nc\nd\ne\nf\ng (mine)\n", "a clean merge is written");
    assert.is(read(I("standards/universal/both-clash.md")), "one\n<<<<<<< local\ntwo (mine)\n=======\ntwo (upstream)\n>>>>>>> upstream\nthree\n");
    assert.is(read(I("standards/universal/gone-edited.md")), "obsolete too, but I use it\n", "a deletion cannot be merged: kept");
    assert.not.ok(fs.existsSync(I("standards/universal/deleted-by-user-changed.md")));
    assert.equal(new Uint8Array(fs.readFileSync(I("standards/universal/blob-edited.bin"))), new Uint8Array([0, 7, 7, 7, 0, 5]), "binaries are never merged");
    // user-owned: untouched
    assert.is(read(I("standards/development/python.md")), "user-owned\n");
    assert.is(read(I("specs/2025-10-01-x/README.md")), "a spec\n");

    const ev = run.evidence!;
    const counts = { new: 2, updated: 4, unchanged: 2, kept_local: 3, merged: 1, conflicts: 4, deleted: 3, errors: 0 };
    // A first upgrade (VERSION.txt): local.md (edited) and same.md, left alone upstream, are kept unread.
    assert.equal(ev.plan_counts, base === "git" ? { ...counts, unchanged: 1, kept_local: 2, not_checked: 2 } : counts);
    assert.is(ev.files_written, 8);
    assert.is(ev.files_deleted, 3);
    assert.is(ev.written_hashes_verified, true);
    assert.equal(ev.needs_attention, [
      "standards/universal/blob-edited.bin",
      "standards/universal/both-clash.md",
      "standards/universal/deleted-by-user-changed.md",
      "standards/universal/gone-edited.md",
    ]);
    const decisions = Object.fromEntries((ev.decisions as Array<{ target: string; result: string; by: string }>).map((d) => [d.target, `${d.by}: ${d.result}`]));
    assert.equal(decisions, {
      "standards/universal/blob-edited.bin": "policy: kept local: cannot merge (binary or large file)",
      "standards/universal/both-clash.md": "policy: merged with 1 conflict marked",
      "standards/universal/both.md": "clean merge: merged cleanly",
      "standards/universal/deleted-by-user-changed.md": "policy: kept local: cannot merge (deleted locally)",
      "standards/universal/gone-edited.md": "policy: kept local: cannot merge (deleted upstream)",
    });

    // The installed manifest, promoted by cleanup: upstream's hashes for what derives from it.
    const m = JSON.parse(read(ctx.layout.installedManifest));
    assert.is(m.source_commit, s.commits[1]);
    assert.is(m.files["standards/universal/local.md"], sha("original\n"));
    assert.is(m.files["standards/universal/both.md"], sha(NEW_TREE["standards/both.md"]));
    assert.is(m.files["standards/universal/gone.md"], undefined);
    assert.is(m.files["standards/universal/mine.md"], undefined);
    assert.is(m.files["mcp_server/__init__.py"], undefined, "phase 3 did not install the new server here");
    assert.not.ok(fs.existsSync(ctx.layout.installedManifest.replace(".json", ".pending.json")));

    // The next upgrade from the same source sees the user's edits as local and has nothing to ask.
    const again = await runTaps([contentPlugin()], makeCtx(s.project, { source: s.source }).ctx, "plan");
    assert.equal(again.findings.errors, []);
    const left = (again.plan!.entries as ContentEntry[]).filter((x) => !["unchanged", "keep_local", "keep"].includes(x.action));
    assert.equal(left.map((x) => `${x.target}:${x.action}`), []);
  });
}

test("no base at all (a source without history): every differing file is a conflict, missing ones are added, nothing is overwritten", async () => {
  const s = setup("none");
  const { ctx } = makeCtx(s.project, { source: s.source, dryRun: true });
  const run = await runTaps([contentPlugin()], ctx, "plan");
  assert.equal(run.findings.warnings.map((f) => f.code), ["BASE_REF_UNKNOWN", "CONFLICTS_UNRESOLVED"]);
  assert.is(run.plan!.base.kind, "none");
  const a = actions(run.plan!.entries);
  assert.is(a["standards/universal/upd.md"], "conflict");
  assert.is(a["standards/universal/local.md"], "conflict");
  assert.is(a["standards/universal/same.md"], "unchanged");
  assert.is(a["standards/universal/added.md"], "new");
  assert.is(a["standards/universal/deleted-by-user.md"], "new");
  assert.is(a["standards/universal/gone.md"], "keep", "without a base nobody knows the file was ours");
  assert.ok((run.plan!.entries as ContentEntry[]).filter((e) => e.action === "conflict").every((e) => e.conflict === "no-base"));
});

test("--from names the installed commit when the installation records none (and wins over inference)", async () => {
  const s = setup("inferred");
  const run = await runTaps([contentPlugin()], makeCtx(s.project, { source: s.source, from: s.commits[0].slice(0, 10), onConflict: "keep" }).ctx, "plan");
  assert.equal(run.plan!.base, { kind: "git", ref: s.commits[0], via: "--from" });
  assert.equal(actions(run.plan!.entries), EXPECTED_FIRST);
  const bad = await runTaps([contentPlugin()], makeCtx(s.project, { source: s.source, from: "no-such-ref" }).ctx, "plan");
  assert.equal(bad.findings.errors.map((f) => [f.code, f.message]), [["BASE_REF_UNKNOWN", `Cannot find the installed commit "no-such-ref" (from --from) in the source ${s.source}`]]);
});

test("decisions keep, theirs and skip: what is written and what the next upgrade asks", async () => {
  for (const decision of ["keep", "theirs", "skip"] as const) {
    const s = setup("git");
    const run = await runTaps([contentPlugin()], makeCtx(s.project, { source: s.source, onConflict: decision }).ctx);
    assert.is(run.error, undefined, String(run.error));
    const clash = read(path.join(s.install, "standards/universal/both-clash.md"));
    const gone = fs.existsSync(path.join(s.install, "standards/universal/gone-edited.md"));
    const back = fs.existsSync(path.join(s.install, "standards/universal/deleted-by-user-changed.md"));
    assert.is(read(path.join(s.install, "standards/universal/both.md")), "a\nb (upstream)\nc\nd\ne\nf\ng (mine)\n", `a clean merge whatever the policy (${decision})`);
    if (decision === "theirs") {
      assert.is(clash, NEW_TREE["standards/both-clash.md"]);
      assert.not.ok(gone, "theirs follows upstream's deletion");
      assert.ok(back, "theirs restores upstream's new version");
    } else {
      assert.is(clash, "one\ntwo (mine)\nthree\n");
      assert.ok(gone);
      assert.not.ok(back);
    }
    assert.equal(run.evidence!.needs_attention, [], decision);
    const next = await runTaps([contentPlugin()], makeCtx(s.project, { source: s.source }).ctx, "preflight");
    const asked = next.findings.errors.filter((f) => f.code === "CONFLICTS_UNRESOLVED");
    if (decision === "skip") assert.is(asked.length, 1, "skip asks again next time");
    else assert.is(asked.length, 0, `${decision} is remembered by the installed manifest`);
  }
});

test("per-glob rules decide before the policy", async () => {
  const s = setup("git");
  const plugin = contentPlugin({ rules: [{ glob: "standards/universal/both*.md", action: "theirs" }, { glob: "*.bin", action: "keep" }] });
  const run = await runTaps([plugin], makeCtx(s.project, { source: s.source, onConflict: "skip" }).ctx);
  const e = byTarget(run.plan!.entries);
  // A per-file rule wins over a clean merge: both.md stays a (decided) conflict and takes upstream's bytes.
  assert.equal([e["standards/universal/both.md"].action, e["standards/universal/both.md"].three_way, e["standards/universal/both.md"].decision, e["standards/universal/both.md"].decided_by], ["conflict", "clean", "theirs", "rule:standards/universal/both*.md"]);
  assert.is(read(path.join(s.install, "standards/universal/both.md")), NEW_TREE["standards/both.md"]);
  assert.equal([e["standards/universal/blob-edited.bin"].decision, e["standards/universal/blob-edited.bin"].decided_by], ["keep", "rule:*.bin"]);
  assert.equal([e["standards/universal/gone-edited.md"].decision, e["standards/universal/gone-edited.md"].decided_by], ["skip", "policy"]);
  assert.is(read(path.join(s.install, "standards/universal/both-clash.md")), NEW_TREE["standards/both-clash.md"]);
});

test("a file the user saves after the plan is left alone and listed", async () => {
  const s = setup("git");
  const { ctx } = makeCtx(s.project, { source: s.source, onConflict: "theirs" });
  const hooksRun = await runTaps([contentPlugin()], ctx, "plan");
  fs.writeFileSync(path.join(s.install, "standards/universal/upd.md"), "saved meanwhile\n");
  const { createHooks } = await import("../core/hooks.ts");
  const { applyPlugins } = await import("../core/plugin.ts");
  const hooks = createHooks();
  applyPlugins(hooks, [contentPlugin()]);
  const ev: Record<string, unknown> = {};
  await hooks.applyContent.promise(hooksRun.plan!, ctx, ev);
  assert.is(read(path.join(s.install, "standards/universal/upd.md")), "saved meanwhile\n");
  assert.equal(ev.changed_during_run, ["standards/universal/upd.md"]);
  assert.ok((ev.needs_attention as string[]).includes("standards/universal/upd.md"));
});

test(".gitignore gets the standard's lines (comments stripped) and our own, once", async () => {
  const s = setup("git");
  writeTree(s.source, {
    "universal/standards/installation/gitignore-requirements.md": "# Req\n```gitignore\n# header\n.agent-os/.cache/   # big\n.agent-os/venv/\n.agent-os/.upgrade_lock    # <1KB\n```\n",
  });
  git(s.source, "add", "-A");
  git(s.source, "commit", "-q", "-m", "gitignore standard");
  fs.writeFileSync(path.join(s.project, ".gitignore"), "node_modules/\n.agent-os/venv/\n");
  const run = await runTaps([contentPlugin()], makeCtx(s.project, { source: s.source, onConflict: "keep" }).ctx);
  assert.equal(run.evidence!.gitignore_added, [".agent-os/.cache/", ".agent-os/.upgrade_lock", ".agent-os/.backups/", ".agent-os/.upgrade-lock"]);
  assert.is(
    read(path.join(s.project, ".gitignore")),
    "node_modules/\n.agent-os/venv/\n\n# Agent OS (added by agent-os-upgrade)\n.agent-os/.cache/\n.agent-os/.upgrade_lock\n.agent-os/.backups/\n.agent-os/.upgrade-lock\n",
  );
  const again = await runTaps([contentPlugin()], makeCtx(s.project, { source: s.source }).ctx, "plan");
  assert.equal((again.plan as unknown as ContentPlanX).gitignore.add, []);
});

test("large files are compared by hash only: no text diff, no merge", async () => {
  const s = setup("git");
  const plugin = contentPlugin({ largeFileBytes: 4 });
  const dry = await runTaps([plugin], makeCtx(s.project, { source: s.source, onConflict: "merge", dryRun: true, diff: true }).ctx);
  const e = byTarget(dry.plan!.entries);
  assert.ok(e["standards/universal/both.md"].opaque);
  const diffs = (dry.plan as unknown as { diffs: Record<string, string> }).diffs;
  assert.is(e["standards/universal/both.md"].three_way, "conflict", "a binary is never merged: a true conflict");
  const binary = "Binary or large file standards/universal/both.md: compared by hash only";
  assert.is(diffs["standards/universal/both.md"], `# conflict: standards/universal/both.md (changed locally and upstream)\n## Your change (base → yours)\n${binary}\n## Upstream's change (base → upstream)\n${binary}\n## Merged (what "merge" writes)\n(merge cannot apply: one side deleted the file, or it is binary; choose keep or theirs)\n`);
  const run = await runTaps([plugin], makeCtx(s.project, { source: s.source, onConflict: "merge" }).ctx);
  assert.is(read(path.join(s.install, "standards/universal/both.md")), "a\nb\nc\nd\ne\nf\ng (mine)\n");
  assert.ok((run.evidence!.needs_attention as string[]).includes("standards/universal/both.md"));
  assert.is(read(path.join(s.install, "standards/universal/upd.md")), NEW_TREE["standards/upd.md"], "updates need no diff");
});

test("the plan renders as text and JSON", async () => {
  const s = setup("git");
  const dry = await runTaps([contentPlugin()], makeCtx(s.project, { source: s.source, onConflict: "keep", dryRun: true }).ctx);
  const plan = dry.plan as unknown as ContentPlanX;
  const text = renderPlanText(plan);
  assert.match(text, new RegExp(`^Content plan: base git ${s.commits[0].slice(0, 12)} \\(VERSION\\.txt\\) → ${s.commits[1].slice(0, 12)}\n  2 new, 4 updated, 1 unchanged, 2 kept local, 2 not checked, 1 merged, 4 conflicts, 3 deleted, 0 errors\n`));
  assert.match(text, /^  merged     standards\/universal\/both\.md  \(changed locally and upstream; merges cleanly\)$/m);
  assert.match(text, /^  conflict   standards\/universal\/both-clash\.md  \(changed locally and upstream → keep \(policy\)\)$/m);
  assert.not.match(text, /same\.md/, "unchanged files are counted, not listed");
  const json = JSON.parse(renderPlanJson(plan));
  assert.is(json.schema_version, 1);
  assert.equal(json.entries, JSON.parse(JSON.stringify(plan.entries)));
});

test.after(removeTemps);
test.run();
