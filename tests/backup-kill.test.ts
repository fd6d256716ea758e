import { test } from "uvu";
import * as assert from "uvu/assert";
import fs from "node:fs";
import path from "node:path";
import { backupState } from "../plugins/backup/manifest.ts";
import { isBackupId } from "../plugins/backup/names.ts";
import { listBackups, verifyBackup } from "../plugins/backup/retention.ts";
import { harness, makeProject, ownRecords, ROOT, simulateUpgrade, spawnChild, tmpDir, waitFor } from "./helpers/backup-project.ts";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { backupEvidence } from "../plugins/backup.ts";

const CHILD = path.join(ROOT, "tests/helpers/backup-child.ts");

/** Runs the child until it freezes at the chosen point, then SIGKILLs it. */
async function killAt(op: "backup" | "rollback", root: string, sessionId: string, label: string, at: number): Promise<void> {
  const ready = path.join(tmpDir("kill"), "ready");
  const child = spawnChild(CHILD, [op, root, sessionId, label, String(at), ready]);
  let stderr = "";
  child.stderr!.on("data", (b: Buffer) => (stderr += b));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  let done = false;
  exited.then(() => (done = true));
  await waitFor(() => fs.existsSync(ready) || done, 60000, `${op} child to reach ${label} ${at}`);
  if (!fs.existsSync(ready)) assert.unreachable(`the child ended before the kill point (exit ${await exited}): ${stderr}`);
  child.kill("SIGKILL");
  assert.is(await exited, null, "killed by the signal");
}

test("SIGKILL during the backup: the half-made backup is detected; rollback and a re-run finish exactly", async () => {
  const p = makeProject();
  const before = snapshotTree(p.root, { skip: ownRecords });
  const parent = harness(p.layout);
  const sid = parent.state.session_id;
  await killAt("backup", p.root, sid, "backup:copy", 200);

  const ids = fs.readdirSync(p.layout.backupsDir).filter(isBackupId);
  assert.is(ids.length, 1);
  assert.is(backupState(path.join(p.layout.backupsDir, ids[0])), "abandoned");
  assert.equal(listBackups(p.layout).map((b) => [b.state, b.session_id]), [["abandoned", sid]]);
  assert.equal(diffTrees(before, snapshotTree(p.root, { skip: ownRecords })), [], "the live tree was not touched");

  // The next command (here: rollback of that session) sees there is nothing to restore and clears it.
  const r = await harness(p.layout, { sessionId: sid }).rollback({ manual: true });
  assert.is(r.evidence.restored, false);
  assert.equal(r.evidence.removed_partial_backups, [ids[0]]);
  assert.equal(fs.readdirSync(p.layout.backupsDir), [".gitignore"]);
  assert.equal(diffTrees(before, snapshotTree(p.root, { skip: ownRecords })), []);
});

test("SIGKILL during the backup, then resume: phase 1 runs again and leaves one complete, verified backup", async () => {
  const p = makeProject();
  const sid = harness(p.layout).state.session_id;
  await killAt("backup", p.root, sid, "backup:copy", 300);
  const resumed = harness(p.layout, { sessionId: sid });
  const ev = await resumed.backup();
  const left = fs.readdirSync(p.layout.backupsDir);
  assert.equal(left.sort(), [".gitignore", ev.backup_id as string].sort());
  assert.ok((await verifyBackup(p.layout, ev.backup_id as string)).ok);
});

test("SIGKILL during a rollback: running rollback again finishes it exactly", async () => {
  const p = makeProject();
  const before = snapshotTree(p.root, { skip: ownRecords });
  const h = harness(p.layout);
  await h.backup();
  h.beginPhase2();
  simulateUpgrade(p.layout);
  const upgraded = snapshotTree(p.root, { skip: ownRecords });
  await killAt("rollback", p.root, h.state.session_id, "rollback:commit", 48);

  const mid = snapshotTree(p.root, { skip: ownRecords });
  assert.ok(diffTrees(upgraded, mid).length > 0, "the killed rollback had started changing files");
  assert.ok(diffTrees(before, mid).length > 3, "and had not finished");
  assert.ok(fs.readdirSync(p.layout.backupsDir).some((n) => n.startsWith(".restore-")), "its staging was left behind");

  const again = harness(p.layout, { sessionId: h.state.session_id });
  const r = await again.rollback({ manual: true });
  assert.is(r.evidence.restored, true);
  assert.is(r.evidence.backup_id, backupEvidence(h.state)!.backup_id);
  const diff = diffTrees(before, snapshotTree(p.root, { skip: ownRecords }));
  assert.equal(diff.filter((d) => !/(specs|workspace|standards\/development)\//.test(d)), []);
  assert.is(diff.length, 3, "only the user's own changes differ");
  assert.equal(fs.readdirSync(p.layout.backupsDir).filter((n) => n.startsWith(".") && n !== ".gitignore"), [], "the dead run's staging is swept");
  const steps = again.state.journal.map((j) => j.step);
  assert.is(steps.filter((s) => s === "backup.rollback:begin").length, 2);
  assert.is(steps.filter((s) => s === "backup.rollback:done").length, 1);
});

test("a rollback --to that was killed is finished with the same backup by a plain rollback", async () => {
  const p = makeProject();
  const h1 = harness(p.layout);
  const first = await h1.backup();
  const atFirst = snapshotTree(p.root, { skip: ownRecords });
  fs.writeFileSync(path.join(p.layout.installDir, "VERSION.txt"), "version=1.4\n");
  const h = harness(p.layout);
  await h.backup();
  h.beginPhase2();
  simulateUpgrade(p.layout);
  // The session's journal records a rollback to the older backup that never finished.
  await h.ctx.session!.journal("backup.rollback:begin", { backup_id: first.backup_id });
  const r = await harness(p.layout, { sessionId: h.state.session_id }).rollback({ manual: true });
  assert.is(r.evidence.backup_id, first.backup_id);
  assert.is(diffTrees(atFirst, snapshotTree(p.root, { skip: ownRecords })).length, 3);
});

test.run();
