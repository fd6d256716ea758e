// What git vouches for (gitobj.ts `unchangedSince`): the source paths whose work-tree file is
// the base commit's blob, so the plan need not read them. One `git diff-index` names what
// differs; every way a work tree can differ from the base (an edit, a staged edit, a
// deletion, a mode change, a new file, a file git is told not to look at) is left out.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { unchangedSince } from "../plugins/content/gitobj.ts";
import { removeTemps, tmpDir } from "./helpers/temp.ts";

const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false", ...args], { cwd, encoding: "utf8" }).trim();

test.after.each(removeTemps);

test("only paths whose work-tree file is the base commit's blob are vouched for, with that blob's id", async () => {
  const repo = tmpDir("vouch");
  git(repo, "init", "-q", "-b", "main");
  const names = ["same.md", "edited.md", "staged.md", "deleted.md", "flagged.md", "mode.md", "reverted.md"];
  for (const n of names) {
    fs.mkdirSync(path.join(repo, "universal/standards"), { recursive: true });
    fs.writeFileSync(path.join(repo, "universal/standards", n), `# ${n}\n`);
  }
  fs.writeFileSync(path.join(repo, "outside.md"), "not under the mapped folder\n");
  git(repo, "add", "-A");
  git(repo, "commit", "-qm", "base");
  const base = git(repo, "rev-parse", "HEAD");
  const blob = (n: string) => git(repo, "rev-parse", `HEAD:universal/standards/${n}`);
  const at = (n: string) => path.join(repo, "universal/standards", n);

  fs.appendFileSync(at("edited.md"), "edit\n");
  fs.appendFileSync(at("staged.md"), "staged\n");
  git(repo, "add", "universal/standards/staged.md");
  fs.rmSync(at("deleted.md"));
  git(repo, "update-index", "--assume-unchanged", "universal/standards/flagged.md");
  fs.appendFileSync(at("flagged.md"), "hidden edit\n");
  fs.chmodSync(at("mode.md"), 0o755);
  // Staged, then put back as the base had it: the index differs from the base, the work tree does not.
  fs.appendFileSync(at("reverted.md"), "x\n");
  git(repo, "add", "universal/standards/reverted.md");
  fs.writeFileSync(at("reverted.md"), "# reverted.md\n");
  fs.writeFileSync(at("new.md"), "# new\n");
  fs.writeFileSync(path.join(repo, "outside.md"), "changed too\n");

  const vouched = await unchangedSince(repo, base, ["universal/standards"]);
  assert.ok(vouched);
  const got = Object.fromEntries([...names, "new.md"].map((n) => [n, vouched!.get(`universal/standards/${n}`) ?? null]));
  assert.equal(got, {
    "same.md": blob("same.md"),
    "edited.md": null,
    "staged.md": null,
    "deleted.md": null,
    "flagged.md": null,
    "mode.md": null,
    "reverted.md": null,
    "new.md": null,
  });
  assert.is(vouched!.get("outside.md"), undefined);
});

test("a commit git does not know: nothing is vouched for (null), never a guess", async () => {
  const repo = tmpDir("vouch-unknown");
  git(repo, "init", "-q", "-b", "main");
  fs.mkdirSync(path.join(repo, "universal"), { recursive: true });
  fs.writeFileSync(path.join(repo, "universal/a.md"), "a\n");
  git(repo, "add", "-A");
  git(repo, "commit", "-qm", "one");
  assert.is(await unchangedSince(repo, "0".repeat(40), ["universal"]), null);
});

test.run();
