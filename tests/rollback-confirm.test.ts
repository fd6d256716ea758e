/**
 * A manual rollback is itself undoable (issue 11 part 1): it names the files changed since
 * the upgrade and refuses off a terminal without --yes; with --yes it first keeps the current
 * files in a "before rollback" backup that `rollback --to` brings back; a second rollback of
 * the same session changes nothing and says so. Real CLI processes, real git, real files.
 */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { resultOf, runCli } from "./helpers/cli.ts";
import { makeProject, makeSource, tmpDir } from "./helpers/project.ts";

const test = suite("rollback-confirm");

// Our own records change on every command; the user's tree is everything else.
const ours = (rel: string) => /^\.agent-os\/(\.backups|\.cache|\.upgrade-lock)(\/|$)/.test(rel);
const tree = (dir: string) => snapshotTree(dir, { skip: ours });

function setup() {
  const root = tmpDir("rollback-confirm");
  const src = makeSource(path.join(root, "src"), { "universal/standards/testing/new.md": "new in v2\n" });
  const proj = makeProject(path.join(root, "proj"));
  // No venv here: the server-side plugins are left out; content, backup, report remain.
  fs.writeFileSync(path.join(proj.dir, "upgrade.config.ts"), `export default { disable: ["deps", "server", "migrate", "validate"] };\n`);
  return { root, src, proj };
}

test("after an edit: refused off a terminal naming the file; --yes restores exactly; --to the before-rollback backup brings the edit back; again is a no-op", async () => {
  const { src, proj } = setup();
  const before = tree(proj.dir);
  const up = await runCli(["--source", src.dir, "--on-conflict", "theirs", "--json"], { cwd: proj.dir });
  assert.is(up.code, 0, up.stdout + up.stderr);
  const unit = path.join(proj.install, "standards/universal/testing/unit.md");
  assert.is(fs.readFileSync(unit, "utf8"), "# Unit tests v2\n");
  fs.writeFileSync(unit, "# Unit tests v2\nmy later edit\n");
  const edited = tree(proj.dir);

  const refused = await runCli(["rollback"], { cwd: proj.dir });
  assert.is(refused.code, 10, refused.stdout + refused.stderr);
  assert.match(refused.stderr, "Error [CONFIRMATION_NEEDED]: Cannot roll back without confirmation: 1 file changed since the upgrade: .agent-os/standards/universal/testing/unit.md");
  assert.match(refused.stderr, "agent-os-upgrade rollback --yes");
  assert.equal(diffTrees(edited, tree(proj.dir)), [], "nothing changed");

  const yes = await runCli(["rollback", "--yes"], { cwd: proj.dir });
  assert.is(yes.code, 0, yes.stdout + yes.stderr);
  assert.equal(diffTrees(before, tree(proj.dir)), [], "the pre-upgrade tree, byte for byte");

  const listed = resultOf(await runCli(["backups", "list", "--json"], { cwd: proj.dir })) as { backups: Array<{ id: string; label: string | null }> };
  const kept = listed.backups.filter((b) => b.label?.startsWith("before rollback"));
  assert.is(kept.length, 1, JSON.stringify(listed.backups));

  const again = await runCli(["rollback"], { cwd: proj.dir });
  assert.is(again.code, 0, again.stdout + again.stderr);
  assert.match(again.stdout, /Session [0-9a-f-]+ was already rolled back at .*; nothing was changed/);
  assert.is((again.stdout + again.stderr).split("already rolled back").length - 1, 1, "said once");
  assert.equal(diffTrees(before, tree(proj.dir)), [], "the second rollback changed nothing");

  const back = await runCli(["rollback", "--to", kept[0].id, "--yes"], { cwd: proj.dir });
  assert.is(back.code, 0, back.stdout + back.stderr);
  assert.equal(diffTrees(edited, tree(proj.dir)), [], "the edit and the upgrade are back");

  // A refusal of `rollback --to <id>` names the way out with the same --to.
  fs.writeFileSync(unit, "# Unit tests v2\nmy later edit\nand another\n");
  const upgradeBackup = listed.backups.find((b) => !b.label)!.id;
  const refusedTo = await runCli(["rollback", "--to", upgradeBackup], { cwd: proj.dir });
  assert.is(refusedTo.code, 10, refusedTo.stdout + refusedTo.stderr);
  assert.match(refusedTo.stderr, `Run \`agent-os-upgrade rollback --to ${upgradeBackup} --yes\` to roll back anyway`);
});

test("no change since the upgrade: rollback proceeds without asking, off a terminal", async () => {
  const { src, proj } = setup();
  const before = tree(proj.dir);
  const up = await runCli(["--source", src.dir, "--on-conflict", "theirs"], { cwd: proj.dir });
  assert.is(up.code, 0, up.stdout + up.stderr);
  const r = await runCli(["rollback"], { cwd: proj.dir });
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(diffTrees(before, tree(proj.dir)), []);
});

test.run();
