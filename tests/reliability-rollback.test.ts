/**
 * Issue 20 item 1: a manual rollback of a finished upgrade whose record of what it left
 * (AFTER.json) is missing or damaged must not discard later edits silently. Unknown counts as
 * changed: off a terminal (stdin /dev/null) without --yes it refuses (exit 10) and changes
 * nothing; with --yes it first keeps the current files in a "before rollback" backup, which
 * brings the edit back. Real CLI processes, real git, real files.
 */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { resultOf, runCli } from "./helpers/cli.ts";
import { makeProject, makeSource, tmpDir } from "./helpers/project.ts";

const test = suite("reliability-rollback");

const ours = (rel: string) => /^\.agent-os\/(\.backups|\.cache|\.upgrade-lock)(\/|$)/.test(rel);
const tree = (dir: string) => snapshotTree(dir, { skip: ours });

async function upgraded() {
  const root = tmpDir("reliab-rollback");
  const src = makeSource(path.join(root, "src"), { "universal/standards/testing/new.md": "new in v2\n" });
  const proj = makeProject(path.join(root, "proj"));
  fs.writeFileSync(path.join(proj.dir, "upgrade.config.ts"), `export default { disable: ["deps", "server", "migrate", "validate"] };\n`);
  const before = tree(proj.dir);
  const up = await runCli(["--source", src.dir, "--on-conflict", "theirs", "--json"], { cwd: proj.dir });
  assert.is(up.code, 0, up.stdout + up.stderr);
  const id = resultOf(up).summary.backup_id as string;
  const after = path.join(proj.install, ".backups", id, "AFTER.json");
  assert.ok(fs.existsSync(after), "the finished upgrade recorded what it left");
  // The post-upgrade edit a silent rollback would lose.
  fs.writeFileSync(path.join(proj.install, "standards/universal/testing/unit.md"), "# Unit tests v2\nmy later edit\n");
  return { proj, before, id, after, edited: tree(proj.dir) };
}

const DAMAGES: Array<[string, (file: string) => void]> = [
  ["missing", (f) => fs.rmSync(f)],
  ["not JSON", (f) => fs.writeFileSync(f, "{\"version\": 2, \"digests\": {")],
  ["JSON of the wrong shape", (f) => fs.writeFileSync(f, "{\"version\": 2, \"digests\": 5}")],
];

for (const [what, damage] of DAMAGES) {
  test(`AFTER.json ${what}: refused off a terminal (exit 10, nothing changed); --yes keeps a before-rollback backup first, which brings the edit back`, async () => {
    const { proj, before, id, after, edited } = await upgraded();
    damage(after);
    const lock = path.join(proj.install, ".upgrade-lock");

    const refused = await runCli(["rollback"], { cwd: proj.dir });
    assert.is(refused.code, 10, refused.stdout + refused.stderr);
    const line = refused.stderr.split("\n").find((l) => l.startsWith("Error ["));
    assert.is(line, `Error [CONFIRMATION_NEEDED]: Cannot roll back without confirmation: what changed since the upgrade is unknown: backup ${id} has no readable record of what its upgrade left (AFTER.json is missing or damaged)`);
    assert.match(refused.stderr, "agent-os-upgrade rollback --yes");
    assert.equal(diffTrees(edited, tree(proj.dir)), [], "nothing changed");
    assert.not.ok(fs.existsSync(lock), "no lock left");

    const yes = await runCli(["rollback", "--yes", "--json"], { cwd: proj.dir });
    assert.is(yes.code, 0, yes.stdout + yes.stderr);
    assert.equal(diffTrees(before, tree(proj.dir)), [], "the pre-upgrade tree, byte for byte");
    assert.not.ok(fs.existsSync(lock), "no lock left");
    const listed = resultOf(await runCli(["backups", "list", "--json"], { cwd: proj.dir })) as { backups: Array<{ id: string; label: string | null }> };
    const kept = listed.backups.filter((b) => b.label?.startsWith("before rollback"));
    assert.is(kept.length, 1, JSON.stringify(listed.backups));

    const back = await runCli(["rollback", "--to", kept[0].id, "--yes"], { cwd: proj.dir });
    assert.is(back.code, 0, back.stdout + back.stderr);
    assert.equal(diffTrees(edited, tree(proj.dir)), [], "the edit and the upgrade are back, byte for byte");
    assert.not.ok(fs.existsSync(lock), "no lock left");
  });
}

test.run();
