// The installed manifest's `stats` (git's index trick): an upgrade records the stat of every
// file whose bytes it knows, the next plan takes the recorded hash instead of reading a file
// whose stat is unchanged, and an edit is seen even when it keeps the size and the mtime.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { buildPlan } from "../plugins/content/build.ts";
import { parseStatRecord, statKey } from "../plugins/content/manifest.ts";
import { contentSettings } from "../plugins/content/options.ts";
import { resultOf, runCli } from "./helpers/cli.ts";
import { installUniversal, makeSourceRepo, NEW, OLD, release, sha, tmpDir } from "./helpers/content-project.ts";

const EDITED = "standards/universal/testing/test-pyramid.md";

/**
 * An old install (one file edited), upgraded by the CLI twice: the first upgrade (VERSION.txt
 * only) does not read the files upstream left alone, so it records no stats for them; the
 * second (one more upstream commit, with our manifest) reads them, once they are older than
 * the racy window, and records them.
 */
async function upgradedProject() {
  const root = tmpDir("stats");
  const source = path.join(root, "agent-os-enhanced");
  const commits = makeSourceRepo(source, [{ universal: release(OLD) }, { universal: release(NEW) }]);
  const project = path.join(root, "proj");
  const install = installUniversal(project, release(OLD), { commit: commits[0] });
  fs.appendFileSync(path.join(install, EDITED), "\nOur note.\n");
  const first = await runCli(["--source", source, "--no-validate", "--on-conflict", "keep"], { cwd: project, timeoutMs: 90_000 });
  assert.is(first.code, 0, first.stdout + first.stderr);
  const later = execFileSync("git", ["ls-files", "universal/standards"], { cwd: source, encoding: "utf8" }).split("\n").find((f) => f.endsWith(".md") && !f.endsWith(EDITED))!;
  fs.appendFileSync(path.join(source, later), "\nA later upstream line.\n");
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qam", "later"], { cwd: source });
  // The manifest trusts only files unchanged for 3 s before the plan read them (apply.ts RACY_MS).
  await new Promise((r) => setTimeout(r, 3_300));
  const r = await runCli(["--source", source, "--no-validate", "--on-conflict", "keep"], { cwd: project, timeoutMs: 90_000 });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const manifestFile = path.join(install, ".upgrade/installed-manifest.json");
  return { root, source, project, install, manifestFile, manifest: JSON.parse(fs.readFileSync(manifestFile, "utf8")) };
}

const planOf = (p: Awaited<ReturnType<typeof upgradedProject>>) =>
  buildPlan({
    sourceRoot: p.source,
    projectRoot: p.project,
    installDir: p.install,
    installedManifest: p.manifestFile,
    versionFile: path.join(p.install, "VERSION.txt"),
    gitignoreFile: path.join(p.project, ".gitignore"),
    from: null,
    policy: "keep",
    options: contentSettings(),
  });

test("an upgrade records stats for the files it did not write, each the file's stat now, and none for the files it wrote", async () => {
  const p = await upgradedProject();
  try {
    const { files, stats } = p.manifest as { files: Record<string, string>; stats: Record<string, string> };
    const written = Object.keys(files).filter((t) => sha(fs.readFileSync(path.join(p.install, t))) === files[t] && fs.statSync(path.join(p.install, t)).ctimeMs > Date.now() - 60_000 && !stats[t]);
    assert.ok(Object.keys(stats).length > 20, `only ${Object.keys(stats).length} stats recorded`);
    assert.ok(written.length > 0, "the upgrade wrote no file");
    for (const [t, rec] of Object.entries(stats)) {
      const abs = path.join(p.install, t);
      assert.is(parseStatRecord(rec)?.key, statKey(fs.lstatSync(abs)), t);
      assert.is(sha(fs.readFileSync(abs)), files[t], `${t}: a stat is recorded only for bytes that hash to the manifest's entry`);
    }
    // The kept edit differs from its manifest hash (the new upstream version): no stat for it.
    assert.is(stats[EDITED], undefined);
    assert.is.not(sha(fs.readFileSync(path.join(p.install, EDITED))), files[EDITED]);
  } finally {
    fs.rmSync(p.root, { recursive: true, force: true });
  }
});

test("the next plan takes the recorded hash of a file whose stat is unchanged, and reads one whose stat moved", async () => {
  const p = await upgradedProject();
  try {
    const stats = p.manifest.stats as Record<string, string>;
    const [trusted, edited] = Object.keys(stats).filter((t) => t.endsWith(".md"));
    // A manifest that lies about `trusted`'s hash shows whether the plan read the file or trusted the stat.
    const fake = "f".repeat(64);
    fs.writeFileSync(p.manifestFile, JSON.stringify({ ...p.manifest, files: { ...p.manifest.files, [trusted]: fake } }));
    // An edit that keeps the size and puts the mtime back: ctime still moves.
    const abs = path.join(p.install, edited);
    const before = fs.statSync(abs);
    const bytes = fs.readFileSync(abs);
    bytes[0] = bytes[0] === 0x41 ? 0x42 : 0x41;
    // touch -r keeps nanoseconds, which fs.utimes cannot set exactly.
    const ref = path.join(p.root, "mtime-ref");
    fs.writeFileSync(ref, "");
    execFileSync("touch", ["-m", "-r", abs, ref]);
    fs.writeFileSync(abs, bytes);
    execFileSync("touch", ["-m", "-r", ref, abs]);
    assert.is(fs.statSync(abs).size, before.size);
    assert.is(fs.statSync(abs).mtimeMs, before.mtimeMs);

    const { plan } = await planOf(p);
    const entry = (t: string) => plan.entries.find((e) => e.target === t)!;
    assert.is(entry(trusted).hashes.local, fake, "the unchanged file was read instead of trusted");
    assert.is(entry(edited).hashes.local, sha(bytes), "the edited file was trusted instead of read");
    assert.is.not(entry(edited).action, "unchanged");
  } finally {
    fs.rmSync(p.root, { recursive: true, force: true });
  }
});

/** A file whose recorded stat says its bytes are upstream's: its installation and source paths. */
function upstreamRecorded(p: Awaited<ReturnType<typeof upgradedProject>>): { target: string; source: string } {
  const stats = p.manifest.stats as Record<string, string>;
  const [target, rec] = Object.entries(stats).find(([t, r]) => t.endsWith(".md") && parseStatRecord(r)!.upstream !== "")!;
  return { target, source: parseStatRecord(rec)!.upstream };
}

test("the source's copy is not read either when git says upstream left that path alone; a path changed since, or edited in the work tree, is read", async () => {
  const p = await upgradedProject();
  try {
    const { target, source } = upstreamRecorded(p);
    const fake = "e".repeat(64);
    fs.writeFileSync(p.manifestFile, JSON.stringify({ ...p.manifest, files: { ...p.manifest.files, [target]: fake } }));
    const entry = async () => (await planOf(p)).plan.entries.find((e) => e.target === target)!;

    const untouched = await entry();
    assert.equal(untouched.hashes, { base: fake, local: fake, new: fake }, "the source's copy was read");
    assert.is(untouched.action, "unchanged");

    // Edited in the source's work tree, not committed: git's index check sends it to be read.
    const abs = path.join(p.source, source);
    fs.appendFileSync(abs, "\nUpstream work in progress.\n");
    assert.is((await entry()).hashes.new, sha(fs.readFileSync(abs)));

    // Committed upstream: the blob differs from the installed commit's.
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qam", "upstream edit"], { cwd: p.source });
    const changed = await entry();
    assert.is(changed.hashes.new, sha(fs.readFileSync(abs)));
    assert.is(changed.action, "update");
  } finally {
    fs.rmSync(p.root, { recursive: true, force: true });
  }
});

test("a source file marked assume-unchanged, then edited, is read all the same, and the dry run refuses it naming the file and the fix", async () => {
  const p = await upgradedProject();
  try {
    const { target, source } = upstreamRecorded(p);
    const abs = path.join(p.source, source);
    execFileSync("git", ["update-index", "--assume-unchanged", source], { cwd: p.source });
    fs.appendFileSync(abs, "\nUpstream work git is told not to look at.\n");
    // git itself no longer sees the edit.
    assert.is(execFileSync("git", ["status", "--porcelain"], { cwd: p.source, encoding: "utf8" }), "");

    const entry = (await planOf(p)).plan.entries.find((e) => e.target === target)!;
    assert.is(entry.hashes.new, sha(fs.readFileSync(abs)), "the source's copy was trusted, not read");
    assert.is(entry.action, "update");

    const r = await runCli(["--source", p.source, "--dry-run", "--json", "--no-validate"], { cwd: p.project, timeoutMs: 90_000 });
    assert.is(r.code, 4, r.stdout + r.stderr);
    const errors = resultOf(r).findings.filter((f: { level: string }) => f.level === "error");
    assert.equal(errors.map((f: { code: string; message: string; fix: string }) => [f.code, f.message, f.fix]), [[
      "SOURCE_DIRTY",
      `Source ${p.source} has 1 change git does not show, in a file marked assume-unchanged (${source})`,
      `Let git see it (git update-index --no-assume-unchanged -- ${source}), then commit or stash it`,
    ]]);
  } finally {
    fs.rmSync(p.root, { recursive: true, force: true });
  }
});

test.run();
