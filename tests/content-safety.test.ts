// Refusals and prompts: unsafe paths stop the run in pre-flight with a clear message and
// nothing written anywhere; conflicts without a terminal or a policy stop it before any
// write and never wait for input; on a terminal the prompt decides (with "show diff").
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Findings } from "../core/types.ts";
import { createHooks } from "../core/hooks.ts";
import { isUpgradeError } from "../core/errors.ts";
import { applyPlugins, definePlugin } from "../core/plugin.ts";
import type { ContentPlan } from "../core/types.ts";
import { contentPlugin } from "../plugins/content.ts";
import { isSafeRelative } from "../plugins/content/paths.ts";
import type { PromptRequest } from "../plugins/content/options.ts";
import { git, installUniversal, makeCtx, makeSourceRepo, read, removeTemps, runTaps, tmpDir, writeTree } from "./helpers/content-project.ts";
import { snapshotTree } from "../demo/kit/tree.ts";

const OLD = { "standards/a.md": "a\nb\nc\n", "standards/b.md": "one\n", "workflows/w/m.json": "{}\n" };
const NEW = { "standards/a.md": "a\nB\nc\n", "standards/b.md": "two\n", "workflows/w/m.json": "{}\n", "standards/c.md": "new\n" };

function setup() {
  const root = tmpDir("safety");
  const source = path.join(root, "source");
  const commits = makeSourceRepo(source, [{ universal: OLD }, { universal: NEW }]);
  const project = path.join(root, "proj");
  const install = installUniversal(project, OLD, { commit: commits[0] });
  return { root, source, commits, project, install };
}

function commitAll(source: string) {
  git(source, "add", "-A");
  git(source, "commit", "-q", "-m", "change");
}

test("a source symlink pointing outside the source is refused; nothing is written", async () => {
  const s = setup();
  const secret = path.join(s.root, "secret.txt");
  fs.writeFileSync(secret, "not for installing\n");
  fs.symlinkSync(secret, path.join(s.source, "universal/standards/leak.md"));
  commitAll(s.source);
  const before = snapshotTree(s.root, { mtime: true });
  const run = await runTaps([contentPlugin()], makeCtx(s.project, { source: s.source, onConflict: "theirs" }).ctx);
  assert.equal(run.findings.errors.map((f) => [f.code, f.message]), [[
    "UNSAFE_PATH",
    `Cannot copy universal/standards/leak.md: it is a symlink to ${fs.realpathSync(secret)}, outside the source ${s.source}`,
  ]]);
  assert.match(run.findings.errors[0].fix!, /Remove the link from the source/);
  assert.is(run.plan, undefined, "pre-flight stops the run");
  assert.equal(snapshotTree(s.root, { mtime: true }), before);
});

test("a source symlink to a file inside the source installs that file's bytes, not a link", async () => {
  const s = setup();
  fs.symlinkSync("a.md", path.join(s.source, "universal/standards/alias.md"));
  commitAll(s.source);
  const run = await runTaps([contentPlugin()], makeCtx(s.project, { source: s.source, onConflict: "theirs" }).ctx);
  assert.equal(run.findings.errors, []);
  const installed = path.join(s.install, "standards/universal/alias.md");
  assert.not.ok(fs.lstatSync(installed).isSymbolicLink());
  assert.is(read(installed), NEW["standards/a.md"]);
});

test("isSafeRelative: relative, normalised, /-separated paths only", () => {
  const safe = ["a/b.md", "a", "..a/b", "a/..b", "a/b..", ".hidden/x", "a/.b/c", "caf\u00e9.md"];
  const unsafe = ["", "/a", "a/", "a//b", "./a", "a/./b", "a/.", ".", "..", "../a", "a/../b", "a/..", "a\\b", "a\0b", "C:x", "c:/x"];
  assert.equal(safe.filter((p) => !isSafeRelative(p)), []);
  assert.equal(unsafe.filter((p) => isSafeRelative(p)), []);
});

test("an installed manifest naming paths outside the installation is refused", async () => {
  const s = setup();
  writeTree(s.install, {
    ".upgrade/installed-manifest.json": JSON.stringify({ schema_version: 1, source_commit: s.commits[0], version: null, installed_at: "x", files: { "../../evil.md": "0".repeat(64) } }),
  });
  const before = snapshotTree(s.root, { mtime: true });
  const run = await runTaps([contentPlugin()], makeCtx(s.project, { source: s.source, onConflict: "theirs" }).ctx);
  assert.equal(run.findings.errors.map((f) => [f.code, f.message]), [[
    "UNSAFE_PATH",
    `Cannot use the installed manifest ${path.join(s.install, ".upgrade/installed-manifest.json")}: it lists paths outside the installation ("../../evil.md")`,
  ]]);
  assert.equal(snapshotTree(s.root, { mtime: true }), before);
});

test("a damaged installed manifest stops the plan instead of guessing a base", async () => {
  const s = setup();
  writeTree(s.install, { ".upgrade/installed-manifest.json": "{ truncated" });
  const run = await runTaps([contentPlugin()], makeCtx(s.project, { source: s.source, onConflict: "theirs" }).ctx);
  assert.equal(run.findings.errors.map((f) => f.code), ["INSTALLED_MANIFEST_INVALID"]);
  assert.match(run.findings.errors[0].message, /^Cannot read the installed manifest .*installed-manifest\.json: it is not valid JSON/);
  assert.match(run.findings.errors[0].fix!, /--from/);
});

test("a symlinked folder in the installation is never written through", async () => {
  const s = setup();
  const elsewhere = path.join(s.root, "elsewhere");
  fs.renameSync(path.join(s.install, "workflows"), elsewhere);
  fs.symlinkSync(elsewhere, path.join(s.install, "workflows"));
  const before = snapshotTree(s.root, { mtime: true });
  const run = await runTaps([contentPlugin()], makeCtx(s.project, { source: s.source, onConflict: "theirs" }).ctx);
  assert.equal(run.findings.errors.map((f) => f.code), ["UNSAFE_PATH"]);
  assert.is(run.findings.errors[0].message, `Cannot upgrade workflows/: ${path.join(s.install, "workflows")} is a symlink (to ${elsewhere}); an upgrade never writes through a link`);
  assert.equal(snapshotTree(s.root, { mtime: true }), before);
});

test("a symlinked file in the installation where upstream has the file is refused", async () => {
  const s = setup();
  const target = path.join(s.root, "outside.md");
  fs.writeFileSync(target, "outside\n");
  fs.rmSync(path.join(s.install, "standards/universal/b.md"));
  fs.symlinkSync(target, path.join(s.install, "standards/universal/b.md"));
  const run = await runTaps([contentPlugin()], makeCtx(s.project, { source: s.source, onConflict: "theirs" }).ctx);
  assert.equal(run.findings.errors.map((f) => [f.code, f.message]), [[
    "UNSAFE_PATH",
    `Cannot update standards/universal/b.md: it is a symlink in the installation (${target}); an upgrade never writes through a link`,
  ]]);
  assert.is(read(target), "outside\n");
});

test("a system folder missing from the source is refused (it would read as 'upstream deleted everything')", async () => {
  const s = setup();
  fs.rmSync(path.join(s.source, "universal/workflows"), { recursive: true });
  commitAll(s.source);
  const run = await runTaps([contentPlugin()], makeCtx(s.project, { source: s.source, onConflict: "theirs" }).ctx);
  assert.equal(run.findings.errors.map((f) => [f.code, f.message]), [["CONTENT_PLAN_ERROR", "Cannot plan workflows/: the source has no universal/workflows/ folder"]]);
});

test("a plan rewritten by another plugin to leave the installation is refused at apply", async () => {
  const s = setup();
  const hostile = definePlugin({
    name: "hostile",
    apply(hooks) {
      hooks.planContent.tap((plan: ContentPlan) => {
        const e = plan.entries.find((x) => x.action === "new")!;
        e.target = "standards/universal/../../../evil.md";
        return plan;
      });
    },
  });
  const hooks = createHooks();
  applyPlugins(hooks, [contentPlugin(), hostile]);
  const { ctx } = makeCtx(s.project, { source: s.source, onConflict: "theirs" });
  const plan = await hooks.planContent.promise({ base: { kind: "none" }, entries: [] }, ctx, new Findings());
  const before = snapshotTree(s.root, { mtime: true });
  let err: unknown;
  try {
    await hooks.applyContent.promise(plan, ctx, {});
  } catch (e) {
    err = e;
  }
  assert.ok(isUpgradeError(err));
  assert.is(err.code, "CONTENT_FAILED");
  assert.match(err.message, /Cannot use path "standards\/universal\/\.\.\/\.\.\/\.\.\/evil\.md": it leads outside/);
  assert.not.ok(fs.existsSync(path.join(s.root, "evil.md")));
  assert.equal(snapshotTree(s.root, { mtime: true }), before);
});

test("no terminal, no policy, conflicts: pre-flight stops the run before any write and names the flags", async () => {
  const s = setup();
  fs.writeFileSync(path.join(s.install, "standards/universal/a.md"), "a\nmine\nc\n");
  const asked: string[] = [];
  const plugin = contentPlugin({ prompt: async (r) => (asked.push(r.target), "keep") });
  const before = snapshotTree(s.root, { mtime: true });
  const t0 = performance.now();
  const run = await runTaps([plugin], makeCtx(s.project, { source: s.source, interactive: false, onConflict: null }).ctx);
  assert.ok(performance.now() - t0 < 20_000, "never waits for input");
  assert.equal(run.findings.errors.map((f) => [f.code, f.message, f.fix]), [[
    "CONFLICTS_UNRESOLVED",
    "Cannot upgrade the content without a decision: 1 conflict (standards/universal/a.md)",
    "Pass --on-conflict keep|theirs|merge|skip (or abort), add per-glob rules to the content plugin in upgrade.config.ts, or run on a terminal to choose per file; nothing was written",
  ]]);
  assert.equal(asked, []);
  assert.equal(snapshotTree(s.root, { mtime: true }), before);

  // `--on-conflict ask` without a terminal is no policy either.
  const ask = await runTaps([plugin], makeCtx(s.project, { source: s.source, onConflict: "ask" }).ctx, "preflight");
  assert.equal(ask.findings.errors.map((f) => f.code), ["CONFLICTS_UNRESOLVED"]);

  // Even if pre-flight were skipped, apply refuses instead of prompting.
  const hooks = createHooks();
  applyPlugins(hooks, [plugin]);
  const { ctx } = makeCtx(s.project, { source: s.source });
  const plan = await hooks.planContent.promise({ base: { kind: "none" }, entries: [] }, ctx, new Findings());
  let err: unknown;
  try {
    await hooks.applyContent.promise(plan, ctx, {});
  } catch (e) {
    err = e;
  }
  assert.ok(isUpgradeError(err));
  assert.is(err.code, "CONFLICTS_UNRESOLVED");
  assert.is(err.exitCode, 6);
  assert.equal(asked, []);
  assert.equal(snapshotTree(s.root, { mtime: true }), before);

  // A dry run shows the conflicts instead of failing on them.
  const dry = await runTaps([plugin], makeCtx(s.project, { source: s.source, dryRun: true }).ctx);
  assert.equal(dry.findings.errors, []);
  assert.equal(dry.findings.warnings.map((f) => f.code), ["CONFLICTS_UNRESOLVED"]);
});

test("--on-conflict abort stops in pre-flight when there are conflicts", async () => {
  const s = setup();
  fs.writeFileSync(path.join(s.install, "standards/universal/b.md"), "mine\n");
  const run = await runTaps([contentPlugin()], makeCtx(s.project, { source: s.source, onConflict: "abort" }).ctx);
  assert.equal(run.findings.errors.map((f) => [f.code, f.message]), [["CONFLICTS_UNRESOLVED", "Cannot upgrade the content: the conflict decision is abort for 1 file (standards/universal/b.md)"]]);
});

test("on a terminal the prompt decides each true conflict, and can show its three-way view first; a clean merge is not asked", async () => {
  const s = setup();
  fs.writeFileSync(path.join(s.install, "standards/universal/a.md"), "a\nb\nc\nmine\n");
  fs.writeFileSync(path.join(s.install, "standards/universal/b.md"), "mine\n");
  const seen: Array<{ target: string; diff: string }> = [];
  const prompt = async (r: PromptRequest) => {
    seen.push({ target: r.target, diff: await r.diff() });
    return "keep" as const;
  };
  const { ctx, journal } = makeCtx(s.project, { source: s.source, interactive: true });
  const run = await runTaps([contentPlugin({ prompt })], ctx);
  assert.is(run.error, undefined, String(run.error));
  assert.equal(run.findings.errors, []);
  assert.equal(seen.map((x) => x.target), ["standards/universal/b.md"], "a.md merges cleanly: never asked");
  const view = seen[0].diff;
  assert.ok(view.startsWith("# conflict: standards/universal/b.md (changed locally and upstream)\n## Your change (base → yours)\n"), view);
  assert.match(view, "--- base/standards/universal/b.md\tbase\n+++ yours/standards/universal/b.md\tyours\n");
  assert.match(view, "\n+mine\n## Upstream's change (base → upstream)\n");
  assert.match(view, "+++ upstream/standards/universal/b.md\tupstream\n");
  assert.match(view, "\n+two\n## Merged (what \"merge\" writes; 1 conflict marked <<<<<<< local … >>>>>>> upstream)\n<<<<<<< local\nmine\n=======\ntwo\n>>>>>>> upstream\n");
  assert.is(read(path.join(s.install, "standards/universal/a.md")), "a\nB\nc\nmine\n");
  assert.is(read(path.join(s.install, "standards/universal/b.md")), "mine\n");
  assert.equal((run.evidence!.decisions as Array<{ target: string; by: string }>).map((d) => [d.target, d.by]), [["standards/universal/a.md", "clean merge"], ["standards/universal/b.md", "prompt"]]);
  assert.equal(journal.map((j) => j.step), ["content:decisions", "content:applied"]);
});

test("choosing abort at the prompt stops in pre-flight, before the lock, the backup and the first write", async () => {
  const s = setup();
  fs.writeFileSync(path.join(s.install, "standards/universal/b.md"), "mine\n");
  const before = snapshotTree(s.root, { mtime: true });
  const err = await runTaps([contentPlugin({ prompt: async () => "abort" })], makeCtx(s.project, { source: s.source, interactive: true }).ctx).catch((e) => e);
  assert.ok(isUpgradeError(err));
  assert.is(err.code, "CONFLICTS_UNRESOLVED");
  assert.is(err.message, "Aborted by you; nothing was changed");
  assert.is(err.hook, "planContent");
  assert.equal(snapshotTree(s.root, { mtime: true }), before);
});

test.after(removeTemps);
test.run();
