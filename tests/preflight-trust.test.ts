// Sources the tool can trust (issue 22 item 4): a shallow clone, a history without the
// installed commit, another layout, a downgrade — each refused in pre-flight (exit 4), nothing
// written, one finding naming the fix; `--allow-downgrade` plans the downgrade honestly.
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { EXIT } from "../core/errors.ts";
import { snapshotTree } from "../demo/kit/tree.ts";
import { resultOf, runCli } from "./helpers/cli.ts";
import { git, makeProject, makeSource, tmpDir, writeFiles } from "./helpers/project.ts";

const test = suite("preflight-trust");
const FAST = ["--no-validate", "--skip-deps", "--no-restart", "--on-conflict", "keep"];

/** A source with two releases and a project installed from the first, VERSION.txt naming it. */
function world() {
  const root = tmpDir("trust");
  const src = makeSource(path.join(root, "src"));
  const first = src.commit;
  writeFiles(src.dir, { "universal/standards/testing/unit.md": "# Unit tests v3\n" });
  git(src.dir, "commit", "-qam", "release 2");
  const second = git(src.dir, "rev-parse", "HEAD");
  const proj = makeProject(path.join(root, "proj"), { "VERSION.txt": `commit=${first}\n` });
  return { root, src: src.dir, first, second, proj };
}

/** Runs the CLI and checks the refusal: exit 4, the one code, its fix, and the project unchanged byte for byte. */
async function refused(args: string[], cwd: string, code: string, fix: RegExp) {
  const before = snapshotTree(cwd);
  const r = await runCli([...args, ...FAST, "--json"], { cwd });
  assert.is(r.code, EXIT.preflight, r.stdout + r.stderr);
  const findings = resultOf(r).findings as { code: string; level: string; fix: string }[];
  const errors = findings.filter((f) => f.level === "error");
  assert.equal(errors.map((f) => f.code), [code], JSON.stringify(findings));
  assert.match(errors[0].fix, fix);
  assert.equal(snapshotTree(cwd), before, "nothing written");
  return errors[0];
}

test("a shallow clone (git clone --depth 1) is refused with git fetch --unshallow, never a silent no-op", async () => {
  const w = world();
  const shallow = path.join(w.root, "shallow");
  git(w.root, "clone", "-q", "--depth", "1", `file://${w.src}`, shallow);
  assert.is(git(shallow, "rev-parse", "--is-shallow-repository"), "true");
  await refused(["--source", shallow], w.proj.dir, "SOURCE_SHALLOW", /git -C ".*shallow" fetch --unshallow/);
  assert.is(fs.readFileSync(path.join(w.proj.install, "VERSION.txt"), "utf8"), `commit=${w.first}\n`, "VERSION.txt not bumped");
});

test("a source whose history does not hold the installed commit is refused, naming --from", async () => {
  const w = world();
  const other = makeSource(path.join(w.root, "other"), { "universal/standards/testing/unit.md": "# another repository\n" });
  fs.writeFileSync(path.join(w.proj.install, "VERSION.txt"), `commit=${other.commit}\n`);
  await refused(["--source", w.src], w.proj.dir, "SOURCE_HISTORY", /--from/);
});

test("a praxis-os source over an .agent-os install is refused as a layout mismatch, naming migrate and the source to use", async () => {
  const w = world();
  writeFiles(w.src, { "README.md": "# prAxIs OS\n\nInstalls into `.praxis-os/` (see `.praxis-os/standards/`).\n" });
  git(w.src, "add", "-A");
  git(w.src, "commit", "-qm", "rename to praxis-os");
  const f = await refused(["--source", w.src], w.proj.dir, "LAYOUT_MISMATCH", /run `agent-os-upgrade migrate --source .*` \(--dry-run first shows every change\); to upgrade it as it is, use a source of its layout \(agent-os-enhanced\)/);
  assert.match(JSON.stringify(f), /praxis-os-2025-10/);
});

test("a dist/ouroboros source over an .agent-os install is refused as a layout mismatch, naming migrate", async () => {
  const w = world();
  writeFiles(w.src, { "dist/universal/standards/a.md": "a\n", "dist/ouroboros/__main__.py": "print('o')\n" });
  git(w.src, "add", "-A");
  git(w.src, "commit", "-qm", "dist layout");
  const f = await refused(["--source", w.src], w.proj.dir, "LAYOUT_MISMATCH", /To move the installation to praxis-os-dist, run `agent-os-upgrade migrate --source .*` \(--dry-run first shows every change\); to upgrade it as it is, use a source of its layout \(agent-os-enhanced\)/);
  assert.match(JSON.stringify(f), /praxis-os-dist/);
});

test("a downgrade is refused; --allow-downgrade plans it, saying so", async () => {
  const w = world();
  // Installed from the second release, as it shipped.
  fs.writeFileSync(path.join(w.proj.install, "VERSION.txt"), `commit=${w.second}\n`);
  fs.writeFileSync(path.join(w.proj.install, "standards/universal/testing/unit.md"), "# Unit tests v3\n");
  git(w.src, "checkout", "-q", w.first);
  await refused(["--source", w.src], w.proj.dir, "DOWNGRADE", /--allow-downgrade/);
  const before = snapshotTree(w.proj.dir);
  const r = await runCli(["--source", w.src, "--allow-downgrade", "--dry-run", ...FAST, "--json"], { cwd: w.proj.dir });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const res = resultOf(r);
  const warnings = (res.findings ?? []).filter((f: { level: string }) => f.level === "warning").map((f: { code: string }) => f.code);
  assert.ok(warnings.includes("DOWNGRADE"), JSON.stringify(res.findings));
  assert.equal(res.plan.entries.find((e: { target: string }) => e.target === "standards/universal/testing/unit.md")?.action, "update");
  assert.equal(snapshotTree(w.proj.dir), before, "a dry run writes nothing");
});

test("a base inferred from a history that explains few installed files is refused as a guess, naming --from", async () => {
  const root = tmpDir("trust-weak");
  const src = makeSource(path.join(root, "src"));
  // One file matches the source's history; ten others match no upstream version at all.
  const own: Record<string, string> = { "standards/universal/testing/unit.md": "# Unit tests v2\n" };
  for (let i = 0; i < 10; i++) own[`standards/universal/notes/n${i}.md`] = `not upstream's ${i}\n`;
  const proj = makeProject(path.join(root, "proj"), own);
  const f = await refused(["--source", src.dir], proj.dir, "BASE_WEAK", /--from <the source commit that was installed>/);
  assert.match(JSON.stringify(f), /explains only 1 of the 12 installed files/);
  // Naming the installed commit skips the guess.
  const r = await runCli(["--source", src.dir, "--from", src.commit, "--dry-run", ...FAST, "--json"], { cwd: proj.dir });
  assert.is(r.code, 0, r.stdout + r.stderr);
});

test("the human output names the problem and the fix on one line each", async () => {
  const w = world();
  const shallow = path.join(w.root, "shallow");
  git(w.root, "clone", "-q", "--depth", "1", `file://${w.src}`, shallow);
  const r = await runCli(["--source", shallow, ...FAST], { cwd: w.proj.dir });
  assert.is(r.code, EXIT.preflight);
  const lines = (r.stdout + r.stderr).split("\n");
  assert.ok(lines.some((l) => l.includes("SOURCE_SHALLOW") || l.includes("shallow clone")), r.stdout + r.stderr);
  assert.ok(lines.some((l) => l.includes("fetch --unshallow")), r.stdout + r.stderr);
});

test.run();
