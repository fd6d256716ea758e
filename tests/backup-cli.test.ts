import { test } from "uvu";
import * as assert from "uvu/assert";
import fs from "node:fs";
import path from "node:path";
import { main } from "../app/cli.ts";
import { EXIT } from "../core/errors.ts";
import { StateStore } from "../core/state.ts";
import { makeProject, ownRecords, type Project } from "./helpers/backup-project.ts";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { upgrade } from "./helpers/backup-upgrade.ts";
import { backupEvidence } from "../plugins/backup.ts";

/** The CLI as a user runs it, in the project folder, with its output captured. */
async function cli(p: Project, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { cwd: p.root, sink: { out: (l) => (out += l + "\n"), err: (l) => (err += l + "\n") } });
  return { code, out, err };
}

async function upgraded() {
  const p = makeProject();
  const before = snapshotTree(p.root, { skip: ownRecords });
  const r = await upgrade(p, null);
  assert.is(r.status, "completed");
  const s = new StateStore(p.layout.stateDir).list()[0].state!;
  return { p, before, id: backupEvidence(s)!.backup_id!, dir: backupEvidence(s)!.backup_path! };
}

test("backups list and verify through the CLI; one flipped byte is named by `backups verify` and `rollback`, nothing changes", async () => {
  const { p, id, dir } = await upgraded();
  const list = await cli(p, "backups", "list");
  assert.is(list.code, EXIT.ok, list.err);
  assert.match(list.out, new RegExp(`^${id}  complete `));
  const ok = await cli(p, "backups", "verify", id);
  assert.is(ok.code, EXIT.ok, ok.err);
  assert.match(ok.out, new RegExp(`^Backup ${id} is intact: `));

  const key = "install/venv/lib/python3.11/site-packages/pkg2/__init__.py";
  const file = path.join(dir, key);
  const buf = fs.readFileSync(file);
  buf[0] ^= 1;
  fs.writeFileSync(file, buf);
  const bad = await cli(p, "backups", "verify", id);
  assert.is(bad.code, EXIT.failed);
  assert.ok(bad.err.includes(`Backup ${id} is damaged: ${key} (content differs from MANIFEST.json`), bad.err);

  const upgradedTree = snapshotTree(p.root, { skip: ownRecords });
  const rb = await cli(p, "rollback");
  assert.is(rb.code, EXIT.rollbackFailed, rb.err);
  assert.ok(rb.err.includes(`${key} (content differs from MANIFEST.json`), rb.err);
  assert.ok(rb.err.includes("nothing was changed"), rb.err);
  assert.equal(diffTrees(upgradedTree, snapshotTree(p.root, { skip: ownRecords })), []);
  assert.not.ok(fs.existsSync(p.layout.lockFile));
  // The refusal changed nothing, so the upgrade it would have undone is still completed.
  assert.is(new StateStore(p.layout.stateDir).list()[0].state!.status, "completed");
});

test("`rollback --to <id>` through the CLI undoes a completed upgrade exactly", async () => {
  const { p, before, id } = await upgraded();
  const rb = await cli(p, "rollback", "--to", id);
  assert.is(rb.code, EXIT.ok, rb.err);
  const diff = diffTrees(before, snapshotTree(p.root, { skip: ownRecords }));
  assert.is(diff.length, 3, diff.join("\n")); // the user's own changes made during the upgrade stay
  assert.ok(diff.every((d) => /\.agent-os\/(specs|workspace|standards\/development)\//.test(d)), diff.join("\n"));
  // The rollback is recorded in the session that made the backup.
  const s = new StateStore(p.layout.stateDir).list()[0].state!;
  assert.is(s.status, "rolled_back");
  assert.is(s.rollback?.status, "completed");
  assert.is(s.rollback?.reason, `manual rollback to ${id}`);
});

test("`backups prune --keep-backups 1` keeps the newest only (a rolled-back session's backup counts), and says why", async () => {
  const { p, id } = await upgraded();
  assert.is((await cli(p, "rollback", "--to", id)).code, EXIT.ok);
  const second = await upgrade(p, null);
  assert.is(second.status, "completed");
  const newest = backupEvidence(new StateStore(p.layout.stateDir).list()[0].state!)!.backup_id!;
  assert.is.not(newest, id);
  const r = await cli(p, "backups", "prune", "--keep-backups", "1");
  assert.is(r.code, EXIT.ok, r.err);
  // The first upgrade was rolled back by hand: its backup counts like any other, so it goes.
  assert.equal(fs.readdirSync(p.layout.backupsDir).sort(), [".gitignore", newest].sort());
  const lines = r.out.trim().split("\n");
  assert.match(lines[0], new RegExp(`^Kept 1 \\(${newest}\\); removed 1 \\(${id}\\), freeing \\d+\\.\\d MB$`));
  assert.equal(lines.slice(1), [`  kept ${newest}: the newest backup`]);
});

test.run();
