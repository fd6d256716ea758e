/**
 * Issue 20 item 4: git never runs a command from a repository's config. The source's
 * .git/config names a marker-writing program as its fsmonitor, hooks, clean/smudge filter,
 * diff textconv and command, external diff and credential helper; the project is a git
 * repository with the same config and the report's optional commit on. After a dry run, an
 * upgrade and a rollback through the real CLI, the marker does not exist.
 */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { REPO, runCli } from "./helpers/cli.ts";
import { git, makeProject, makeSource, tmpDir } from "./helpers/project.ts";

const test = suite("reliability-git");

/** Every way a repository's config can name a program, each aimed at `evil`. */
function arm(repo: string, evil: string): void {
  const tracked = git(repo, "ls-files").split("\n").filter(Boolean);
  const set = (k: string, v: string) => git(repo, "config", k, v);
  set("core.fsmonitor", evil);
  set("core.hooksPath", path.join(path.dirname(evil), "hooks"));
  set("filter.evil.clean", evil);
  set("filter.evil.smudge", evil);
  set("filter.evil.process", evil);
  set("diff.evil.textconv", evil);
  set("diff.evil.command", evil);
  set("diff.external", evil);
  set("credential.helper", `!${evil}`);
  set("core.pager", evil);
  set("gpg.program", evil);
  set("commit.gpgSign", "true");
  fs.mkdirSync(path.join(repo, ".git/info"), { recursive: true });
  fs.writeFileSync(path.join(repo, ".git/info/attributes"), "* filter=evil diff=evil\n");
  for (const hook of ["pre-commit", "commit-msg", "post-commit", "post-index-change", "pre-auto-gc"]) {
    fs.mkdirSync(path.join(repo, ".git/hooks"), { recursive: true });
    fs.copyFileSync(evil, path.join(repo, ".git/hooks", hook));
    fs.chmodSync(path.join(repo, ".git/hooks", hook), 0o755);
  }
  // Every tracked file's stat moves: git re-reads (and would filter) each one.
  const later = new Date(Date.now() + 5_000);
  for (const f of tracked) fs.utimesSync(path.join(repo, f), later, later);
}

test("a source and a project whose git config names programs: dry run, upgrade with a commit, rollback — none runs", async () => {
  const root = tmpDir("reliab-git");
  const marker = path.join(root, "MARKER");
  const evil = path.join(root, "evil.sh");
  fs.writeFileSync(evil, `#!/bin/sh\necho "ran: $0 $*" >> '${marker}'\ncat\n`);
  fs.chmodSync(evil, 0o755);
  fs.mkdirSync(path.join(root, "hooks"));
  for (const hook of ["pre-commit", "commit-msg", "post-commit", "post-index-change"]) fs.copyFileSync(evil, path.join(root, "hooks", hook));
  for (const hook of fs.readdirSync(path.join(root, "hooks"))) fs.chmodSync(path.join(root, "hooks", hook), 0o755);

  const src = makeSource(path.join(root, "src"), { "universal/standards/testing/new.md": "new in v2\n" });
  const proj = makeProject(path.join(root, "proj"));
  fs.writeFileSync(path.join(proj.dir, "upgrade.config.ts"), [
    `import { reportPlugin } from ${JSON.stringify(path.join(REPO, "plugins/report.ts"))};`,
    `export default { disable: ["deps", "server", "migrate", "validate"], plugins: [reportPlugin({ gitCommit: true })] };`,
    "",
  ].join("\n"));
  git(proj.dir, "init", "-q", "-b", "main");
  git(proj.dir, "add", "-A");
  git(proj.dir, "commit", "-q", "-m", "project");
  arm(src.dir, evil);
  arm(proj.dir, evil);
  const skip = (rel: string) => /^(\.git|\.agent-os\/(\.backups|\.cache))(\/|$)/.test(rel);
  const before = snapshotTree(proj.dir, { skip });
  assert.not.ok(fs.existsSync(marker), "the setup ran nothing");

  const dry = await runCli(["--source", src.dir, "--dry-run", "--diff", "--on-conflict", "theirs"], { cwd: proj.dir });
  assert.is(dry.code, 0, dry.stdout + dry.stderr);
  assert.not.ok(fs.existsSync(marker), `dry run: ${fs.existsSync(marker) ? fs.readFileSync(marker, "utf8") : ""}`);

  const up = await runCli(["--source", src.dir, "--on-conflict", "theirs"], { cwd: proj.dir });
  assert.is(up.code, 0, up.stdout + up.stderr);
  assert.not.ok(fs.existsSync(marker), `upgrade: ${fs.existsSync(marker) ? fs.readFileSync(marker, "utf8") : ""}`);
  // Read with git's config disarmed: the test's own git must not write the marker either.
  assert.match(git(proj.dir, "-c", "core.fsmonitor=false", "-c", "core.pager=cat", "log", "-1", "--format=%s"), /^Upgrade Agent OS to /);
  assert.is(fs.readFileSync(path.join(proj.install, "standards/universal/testing/unit.md"), "utf8"), "# Unit tests v2\n");

  const rb = await runCli(["rollback", "--yes"], { cwd: proj.dir });
  assert.is(rb.code, 0, rb.stdout + rb.stderr);
  assert.not.ok(fs.existsSync(marker), `rollback: ${fs.existsSync(marker) ? fs.readFileSync(marker, "utf8") : ""}`);
  assert.equal(diffTrees(before, snapshotTree(proj.dir, { skip })), [], "the project's files are exactly the old ones");
  assert.not.ok(fs.existsSync(path.join(proj.install, ".upgrade-lock")), "no lock");
});

test.run();
