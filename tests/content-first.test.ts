// A first upgrade from a named commit (VERSION.txt, --from; no manifest of ours): the files
// upstream left alone since that commit are kept without reading the local copy (`not_checked`:
// no local hash, drift "not checked", no stats in the manifest written), and the manifest it
// writes makes the next upgrade exact again.
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { buildPlan } from "../plugins/content/build.ts";
import { contentSettings } from "../plugins/content/options.ts";
import type { ContentEntry } from "../plugins/content/plan.ts";
import { resultOf, runCli } from "./helpers/cli.ts";
import { git, installUniversal, makeSourceRepo, removeTemps, sha, tmpDir } from "./helpers/content-project.ts";

test.after.each(removeTemps);

const LINES = (tag: string) => Array.from({ length: 9 }, (_, i) => `line ${i + 1}${i === 0 ? tag : ""}`).join("\n") + "\n";
const V1 = {
  "standards/keep.md": "# keep\n",
  "standards/edited.md": "# edited upstream never\n",
  "standards/both.md": LINES(""),
  "usage/guide.md": "guide v1\n",
  "workflows/wf/metadata.json": "{\"v\":1}\n",
};
const V2 = { ...V1, "standards/both.md": LINES(" (upstream)"), "standards/added.md": "added\n" };
const V3 = { ...V2, "usage/guide.md": "guide v3\n" };

const EDITED = "standards/universal/edited.md";
const BOTH = "standards/universal/both.md";
const MINE = "# edited upstream never\nmy note\n";
const BOTH_MINE = LINES("").replace("line 9", "line 9 (mine)");

/** Installed at the first commit (VERSION.txt only), two files edited by the user; the source three commits on. */
function world() {
  const root = tmpDir("first");
  const source = path.join(root, "src");
  const commits = makeSourceRepo(source, [{ universal: V1 }, { universal: V2 }, { universal: V3 }]);
  const project = path.join(root, "proj");
  const install = installUniversal(project, V1, { commit: commits[0] });
  fs.writeFileSync(path.join(install, EDITED), MINE);
  fs.writeFileSync(path.join(install, BOTH), BOTH_MINE);
  return { root, source, commits, project, install, manifest: path.join(install, ".upgrade/installed-manifest.json") };
}

const planOf = (w: ReturnType<typeof world>, from: string | null = null) =>
  buildPlan({
    sourceRoot: w.source,
    projectRoot: w.project,
    installDir: w.install,
    installedManifest: w.manifest,
    versionFile: path.join(w.install, "VERSION.txt"),
    gitignoreFile: path.join(w.project, ".gitignore"),
    from,
    policy: "keep",
    options: contentSettings(),
  });

/** Every file of the installation the planner opens, by installation path (fs patched for the call), mapped content only. */
async function installReads<T>(install: string, run: () => Promise<T>): Promise<{ value: T; reads: string[] }> {
  const reads: string[] = [];
  const seen = (p: unknown) => {
    if (typeof p === "string" && p.startsWith(install + path.sep)) reads.push(path.relative(install, p).split(path.sep).join("/"));
  };
  const f = fs as unknown as Record<string, (...a: unknown[]) => unknown>;
  const orig = { openSync: f.openSync, readFileSync: f.readFileSync, createReadStream: f.createReadStream };
  for (const [k, fn] of Object.entries(orig)) f[k] = (...a: unknown[]) => (seen(a[0]), fn.apply(fs, a));
  try {
    // Not content: the record files (VERSION.txt, our manifest) and .gitignore's standard, looked for.
    return { value: await run(), reads: reads.filter((r) => !r.startsWith(".upgrade/") && r !== "VERSION.txt" && !r.endsWith("gitignore-requirements.md")) };
  } finally {
    Object.assign(f, orig);
  }
}

test("the plan reads only the local files upstream changed; one edited where upstream did not is not_checked, with no local hash", async () => {
  const w = world();
  const { value: { plan }, reads } = await installReads(w.install, () => planOf(w));
  assert.equal(plan.base, { kind: "git", ref: w.commits[0], via: "VERSION.txt" });
  // both.md and guide.md changed upstream: read; keep.md and edited.md were left alone: not read.
  assert.equal([...new Set(reads)].sort(), [BOTH, "usage/guide.md"]);
  const e = Object.fromEntries((plan.entries as ContentEntry[]).map((x) => [x.target, x]));
  for (const t of ["standards/universal/keep.md", EDITED, "workflows/wf/metadata.json"]) {
    const upstream = sha(V1[t.replace("standards/universal/", "standards/") as keyof typeof V1]!);
    assert.equal([e[t].action, e[t].hashes, e[t].reason], ["not_checked", { base: upstream, local: null, new: upstream }, "upstream did not change it: kept as it is, not read"], t);
  }
  assert.equal([e[BOTH].action, e[BOTH].three_way], ["merge", "clean"]);
  assert.is(e["usage/guide.md"].action, "update");
  assert.equal(plan.counts, { new: 1, updated: 1, unchanged: 0, kept_local: 0, not_checked: 3, merged: 1, conflicts: 0, deleted: 0, errors: 0 });
});

test("--from reads the same: only what upstream changed since that commit", async () => {
  const w = world();
  fs.rmSync(path.join(w.install, "VERSION.txt"));
  const { value: { plan }, reads } = await installReads(w.install, () => planOf(w, w.commits[0]));
  assert.equal(plan.base, { kind: "git", ref: w.commits[0], via: "--from" });
  assert.equal([...new Set(reads)].sort(), [BOTH, "usage/guide.md"]);
  assert.is(plan.counts.not_checked, 3);
});

test("check says the drift is not checked; the upgrade keeps the unread edit byte for byte, merges the other, records no stats for unread files; the next upgrade is exact", async () => {
  const w = world();
  const check = await runCli(["check", "--json", "--source", w.source], { cwd: w.project, timeoutMs: 90_000 });
  const c = resultOf(check);
  assert.is(check.code, 2, check.stdout + check.stderr);
  assert.equal([c.drift, c.drift_not_checked], [[".agent-os/" + BOTH], 3]);
  const text = await runCli(["check", "--source", w.source], { cwd: w.project, timeoutMs: 90_000 });
  assert.match(text.stdout, /^Drift: 1 file edited since install \(\.agent-os\/standards\/universal\/both\.md\)$/m);
  assert.match(text.stdout, /^Drift: 3 files not checked \(nothing records what was installed; upstream did not change them, so the upgrade keeps them as they are\)$/m);

  const up = await runCli(["--source", w.source, "--no-validate", "--json"], { cwd: w.project, timeoutMs: 90_000 });
  assert.is(up.code, 0, up.stdout + up.stderr);
  const summary = resultOf(up).summary;
  assert.equal(summary.counts, { new: 1, updated: 1, unchanged: 0, kept_local: 0, not_checked: 3, merged: 1, conflicts: 0, deleted: 0, errors: 0 });
  assert.is(fs.readFileSync(path.join(w.install, EDITED), "utf8"), MINE);
  assert.is(fs.readFileSync(path.join(w.install, BOTH), "utf8"), LINES(" (upstream)").replace("line 9", "line 9 (mine)"));
  const m = JSON.parse(fs.readFileSync(w.manifest, "utf8")) as { files: Record<string, string>; stats: Record<string, string> };
  // The manifest records what the files derive from (upstream's), never a stat for a file nobody read.
  assert.is(m.files[EDITED], sha(V1["standards/edited.md"]));
  assert.is(m.stats[EDITED], undefined);
  assert.is(m.stats["standards/universal/keep.md"], undefined);

  // Now ours records the install: check is exact (the edit is drift, nothing unchecked).
  const after = resultOf(await runCli(["check", "--json", "--source", w.source], { cwd: w.project, timeoutMs: 90_000 }));
  assert.equal([after.status, after.drift, after.drift_not_checked], ["up_to_date", [".agent-os/" + BOTH, ".agent-os/" + EDITED], 0]);

  // One more upstream commit, the unread file edited again: read now (a manifest base), kept.
  fs.writeFileSync(path.join(w.source, "universal/usage/guide.md"), "guide v4\n");
  git(w.source, "commit", "-qam", "release 4");
  fs.appendFileSync(path.join(w.install, EDITED), "another note\n");
  const { value: next } = await installReads(w.install, () => planOf(w));
  const e = (next.plan.entries as ContentEntry[]).find((x) => x.target === EDITED)!;
  assert.equal([next.plan.base.kind, e.action, e.hashes.local], ["manifest", "keep_local", sha(MINE + "another note\n")]);
  const second = await runCli(["--source", w.source, "--no-validate"], { cwd: w.project, timeoutMs: 90_000 });
  assert.is(second.code, 0, second.stdout + second.stderr);
  assert.is(fs.readFileSync(path.join(w.install, EDITED), "utf8"), MINE + "another note\n");
  assert.is(fs.readFileSync(path.join(w.install, "usage/guide.md"), "utf8"), "guide v4\n");
});

test.run();
