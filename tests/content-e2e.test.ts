// The content plugin through the real upgrader (runLifecycle) and the real CLI (a child
// process with no terminal), with the built-in pre-flight and report plugins beside it.
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { EXIT } from "../core/errors.ts";
import { checkGate, gateParts } from "../core/evidence.ts";
import { builtinPlugins } from "../plugins/mod.ts";
import type { RunOptions } from "../core/types.ts";
import { runLifecycle } from "../core/upgrader.ts";
import { definePlugin } from "../core/plugin.ts";
import { backupPlugin } from "../plugins/backup.ts";
import { contentPlugin } from "../plugins/content.ts";
import type { ContentPlanX } from "../plugins/content/plan.ts";
import { preflightPlugin } from "../plugins/preflight.ts";
import { reportPlugin } from "../plugins/report.ts";
import { resultOf, runCli } from "./helpers/cli.ts";
import { installUniversal, makeSourceRepo, NEW, OLD, otherPhasesDouble, release, removeTemps, tmpDir } from "./helpers/content-project.ts";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { toRunOptions, resolvedWith, type FlatRunOptions } from "./helpers/run-options.ts";

function setup() {
  const root = tmpDir("e2e");
  const source = path.join(root, "agent-os-enhanced");
  const commits = makeSourceRepo(source, [{ universal: release(OLD) }, { universal: release(NEW) }]);
  const project = path.join(root, "proj");
  const install = installUniversal(project, release(OLD), { commit: commits[0] });
  fs.appendFileSync(path.join(install, "standards/universal/testing/test-pyramid.md"), "\nOur note.\n");
  fs.mkdirSync(path.join(install, "specs"), { recursive: true });
  fs.writeFileSync(path.join(install, "specs/keep.md"), "mine\n");
  return { root, source, commits, project, install };
}

const options = (s: ReturnType<typeof setup>, o: FlatRunOptions): RunOptions => toRunOptions({
  source: s.source,
  target: s.project,
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

const resolved = () => (resolvedWith([preflightPlugin(), backupPlugin(), contentPlugin(), otherPhasesDouble({ backup: false }), reportPlugin()]));

const strip = (plan: unknown) => {
  const { diffs: _d, views: _v, ...rest } = plan as ContentPlanX & { diffs?: unknown; views?: unknown };
  return rest;
};

test("runLifecycle: dry run writes nothing; the real run executes the same plan and records it", async () => {
  const s = setup();
  const before = snapshotTree(s.project, { mtime: true });
  const dry = await runLifecycle({ resolved: resolved(), options: options(s, { dryRun: true, diff: true, onConflict: "merge" }) });
  assert.is(dry.status, "completed", JSON.stringify(dry.error));
  assert.is(dry.exit_code, EXIT.ok);
  assert.equal(snapshotTree(s.project, { mtime: true }), before, "no lock, no state, no backup, no log, no content");
  const dryPlan = dry.plan as ContentPlanX & { diffs: Record<string, string> };
  assert.is(dryPlan.counts.conflicts, 1);
  assert.match(dryPlan.diffs["standards/universal/testing/test-pyramid.md"], /^## Merged \(what "merge" writes; 1 conflict marked/m);

  const real = await runLifecycle({ resolved: resolved(), options: options(s, { onConflict: "merge" }) });
  assert.is(real.status, "completed", JSON.stringify(real.error));
  assert.equal(strip(real.plan), strip(dry.plan));
  const stateFile = path.join(s.install, ".cache/state", `${real.session_id}.json`);
  const state = JSON.parse(fs.readFileSync(stateFile, "utf8"));
  assert.equal(checkGate(gateParts(2, builtinPlugins()), state.phases["2"].evidence), { ok: true });
  const ev2 = state.phases["2"].evidence.content;
  assert.equal(ev2.plan_counts, dryPlan.counts);
  assert.equal(ev2.needs_attention, ["standards/universal/testing/test-pyramid.md"]);
  assert.equal(state.journal.map((j: { step: string }) => j.step).filter((x: string) => x.startsWith("content:")), ["content:decisions", "content:applied"]);
  const manifest = JSON.parse(fs.readFileSync(path.join(s.install, ".upgrade/installed-manifest.json"), "utf8"));
  assert.is(manifest.source_commit, s.commits[1]);
  assert.not.ok(fs.existsSync(path.join(s.install, ".upgrade/installed-manifest.pending.json")));
  const summary = fs.readFileSync(real.report_path!, "utf8");
  assert.match(summary, /`standards\/universal\/testing\/test-pyramid\.md`: merge/);
  assert.is(fs.readFileSync(path.join(s.install, "specs/keep.md"), "utf8"), "mine\n");

  // The next upgrade uses our manifest as its base and finds nothing to do.
  const again = await runLifecycle({ resolved: resolved(), options: options(s, { dryRun: true }) });
  assert.equal((again.plan as ContentPlanX).base, { kind: "manifest", ref: s.commits[1], via: "installed-manifest" });
  assert.equal((again.plan as ContentPlanX).counts.conflicts + (again.plan as ContentPlanX).counts.updated + (again.plan as ContentPlanX).counts.new, 0);
});

test("runLifecycle with the real backup: a failure after content rolls the content back exactly, and no new manifest stays", async () => {
  const s = setup();
  const failing = definePlugin({ name: "failing-validation", apply(h) { h.validate.tap((_c, f) => f.error("X", "validation double failed")); } });
  const plugins = [preflightPlugin(), backupPlugin(), contentPlugin(), otherPhasesDouble({ backup: false }), failing, reportPlugin()];
  // Our records (.cache, .backups) change on purpose; mtimes of restored files may differ.
  const skip = (rel: string) => /^(\.cache|\.backups)(\/|$)/.test(rel);
  const before = snapshotTree(s.install, { skip });
  const gitignoreBefore = fs.existsSync(path.join(s.project, ".gitignore"));
  const r = await runLifecycle({ resolved: resolvedWith(plugins), options: options(s, { onConflict: "theirs" }) });
  assert.is(r.status, "rolled_back", JSON.stringify(r.error));
  assert.is(r.exit_code, EXIT.rolledBack);
  assert.equal(diffTrees(before, snapshotTree(s.install, { skip })), [], "restored exactly; files the upgrade added are gone");
  assert.is(fs.existsSync(path.join(s.project, ".gitignore")), gitignoreBefore);
  assert.not.ok(fs.existsSync(path.join(s.install, ".upgrade/installed-manifest.json")));
  assert.not.ok(fs.existsSync(path.join(s.install, ".upgrade/installed-manifest.pending.json")));
});

test("CLI without a terminal or a policy: exits with the conflicts code before any write, never waits", async () => {
  const s = setup();
  const before = snapshotTree(s.project, { mtime: true });
  const t0 = performance.now();
  // Zero config: content is a built-in plugin.
  // --no-validate: this install has no venv, so its server cannot start (the conflicts are the point here).
  const r = await runCli(["--source", s.source, "--no-validate"], { cwd: s.project, timeoutMs: 60_000 });
  assert.ok(performance.now() - t0 < 60_000);
  assert.is(r.code, EXIT.conflicts, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /Cannot upgrade the content without a decision: 1 conflict \(standards\/universal\/testing\/test-pyramid\.md\)/);
  assert.match(r.stdout + r.stderr, /--on-conflict keep\|theirs\|merge\|skip/);
  assert.equal(snapshotTree(s.project, { mtime: true }), before);
});

test("CLI --dry-run --json and --dry-run --diff: the plan, the diffs, and nothing written", async () => {
  const s = setup();
  const before = snapshotTree(s.project, { mtime: true });
  const r = await runCli(["--source", s.source, "--dry-run", "--json", "--no-validate"], { cwd: s.project, timeoutMs: 60_000 });
  assert.is(r.code, EXIT.ok, r.stdout + r.stderr);
  const result = resultOf(r);
  assert.equal(result.plan.counts, { new: 39, updated: 41, unchanged: 0, kept_local: 0, not_checked: 48, merged: 0, conflicts: 1, deleted: 1, errors: 0 });
  assert.equal(result.plan.base, { kind: "git", ref: s.commits[0], via: "VERSION.txt" });
  assert.equal(snapshotTree(s.project, { mtime: true }), before);

  // A small change set for the human rendering: core/bin.ts exits before a large stdout drains.
  const small = smallSetup();
  const smallBefore = snapshotTree(small.project, { mtime: true });
  const human = await runCli(["--source", small.source, "--dry-run", "--diff", "--no-validate"], { cwd: small.project, timeoutMs: 60_000 });
  assert.is(human.code, EXIT.ok, human.stdout + human.stderr);
  assert.match(human.stdout, /^ +update +standards\/universal\/a\.md +\(changed upstream\)$/m);
  assert.match(human.stdout, /^ +new +workflows\/w\/new\.md +\(added upstream\)$/m);
  assert.match(human.stdout, /--- a\/standards\/universal\/a\.md\tlocal\n\+\+\+ b\/standards\/universal\/a\.md\tupstream\n@@ -1,3 \+1,3 @@\n a\n-b\n\+B\n c\n/);
  // New files are named, not dumped (--diff=all shows their bodies).
  assert.match(human.stdout, /^new file workflows\/w\/new\.md \(--diff=all shows its body\)$/m);
  assert.not.match(human.stdout, /\+\+\+ b\/workflows\/w\/new\.md/);
  const all = await runCli(["--source", small.source, "--dry-run", "--diff=all", "--no-validate"], { cwd: small.project, timeoutMs: 60_000 });
  assert.is(all.code, EXIT.ok, all.stdout + all.stderr);
  assert.match(all.stdout, /--- \/dev\/null\tlocal\n\+\+\+ b\/workflows\/w\/new\.md\tupstream\n/);
  const conflictsOnly = await runCli(["--source", small.source, "--dry-run", "--diff=conflicts", "--no-validate"], { cwd: small.project, timeoutMs: 60_000 });
  assert.is(conflictsOnly.code, EXIT.ok);
  assert.not.match(conflictsOnly.stdout, /^(---|\+\+\+|new file) /m, "no conflicts here: no diffs at all");
  const bad = await runCli(["--source", small.source, "--dry-run", "--diff=some", "--no-validate"], { cwd: small.project, timeoutMs: 60_000 });
  assert.is(bad.code, EXIT.usage);
  assert.match(bad.stderr, "option '--diff=some' is invalid. Allowed choices are conflicts, changed, all.");
  assert.equal(snapshotTree(small.project, { mtime: true }), smallBefore);
});

function smallSetup() {
  const root = tmpDir("e2e-small");
  const source = path.join(root, "src");
  const OLDT = { "standards/a.md": "a\nb\nc\n", "workflows/w/m.md": "m\n" };
  const commits = makeSourceRepo(source, [{ universal: OLDT }, { universal: { ...OLDT, "standards/a.md": "a\nB\nc\n", "workflows/w/new.md": "n\n" } }]);
  const project = path.join(root, "proj");
  installUniversal(project, OLDT, { commit: commits[0] });
  return { root, source, project };
}

test.after(removeTemps);
test.run();
