import { test } from "uvu";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import * as assert from "uvu/assert";
import fs from "node:fs";
import path from "node:path";
import { isUpgradeError, type UpgradeError } from "../core/errors.ts";
import { readManifest } from "../plugins/backup/manifest.ts";
import { verifyBackup } from "../plugins/backup/retention.ts";
import { harness, makeProject, ownRecords, simulateUpgrade } from "./helpers/backup-project.ts";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";

async function rejects(p: Promise<unknown>): Promise<UpgradeError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isUpgradeError(err), `expected an UpgradeError, got ${err}`);
    return err as UpgradeError;
  }
  throw new Error("expected a rejection");
}

/** Flips one bit of one byte in place (same size; the mtime is put back, as bit rot would leave it). */
function flipByte(file: string, at = 3): void {
  const st = fs.statSync(file);
  const fd = fs.openSync(file, "r+");
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, at);
  b[0] ^= 0x20;
  fs.writeSync(fd, b, 0, 1, at);
  fs.closeSync(fd);
  fs.utimesSync(file, st.atime, st.mtime);
}

async function upgraded() {
  const p = makeProject();
  const h = harness(p.layout);
  const ev = await h.backup();
  h.beginPhase2();
  simulateUpgrade(p.layout);
  return { p, h, id: ev.backup_id as string, dir: ev.backup_path as string };
}

test("an intact backup verifies: every file hashed, no problems", async () => {
  const { p, id, dir } = await upgraded();
  const r = await verifyBackup(p.layout, id);
  const m = readManifest(dir);
  assert.is(r.ok, true);
  assert.is(r.mode, "full");
  assert.is(r.files_checked, m.file_count);
  assert.is(r.files_hashed, m.file_count);
  assert.equal(r.problems, []);
});

for (const [what, key] of [
  ["a file the rollback does not need (an untouched venv module)", "install/venv/lib/python3.11/site-packages/pkg3/__init__.py"],
  ["a file the rollback restores (server code the upgrade replaced)", "install/mcp_server/server.py"],
] as const) {
  test(`one flipped byte in ${what}: backups verify and rollback name the file, nothing changes`, async () => {
    const { p, h, id, dir } = await upgraded();
    flipByte(path.join(dir, key));
    const r = await verifyBackup(p.layout, id);
    assert.is(r.ok, false);
    assert.is(r.problems.length, 1);
    assert.is(r.problems[0].path, key);
    assert.match(r.problems[0].problem, /^content differs from MANIFEST\.json \(sha256 [0-9a-f]{12}…, expected [0-9a-f]{12}…\)$/);

    const live = snapshotTree(p.root, { skip: ownRecords });
    const backupBefore = snapshotTree(dir);
    const err = await rejects(h.rollback());
    assert.is(err.code, "ROLLBACK_FAILED");
    assert.ok(err.message.includes(`Cannot roll back: cannot restore backup ${id}: 1 file in it does not match its MANIFEST.json: ${key} (content differs from MANIFEST.json`), err.message);
    assert.ok(err.message.endsWith("nothing was changed"), err.message);
    assert.ok(err.hint?.includes(`backups verify ${id}`), err.hint);
    assert.is((err.details as { nothing_changed?: boolean }).nothing_changed, true);
    assert.equal(diffTrees(live, snapshotTree(p.root, { skip: ownRecords })), [], "the live tree is unchanged");
    assert.equal(diffTrees(backupBefore, snapshotTree(dir)), [], "the backup is unchanged");
    assert.equal(fs.readdirSync(p.layout.backupsDir).filter((n) => n.startsWith(".") && n !== ".gitignore"), [], "no staging left");
  });
}

test("the full-check rollback option names a flipped byte too", async () => {
  const p = makeProject({ venv: false });
  const h = harness(p.layout, { plugin: { rollbackVerify: "full" } });
  const ev = await h.backup();
  h.beginPhase2();
  const key = "install/workflows/spec_creation_v1/core/" + fs.readdirSync(path.join(p.layout.installDir, "workflows/spec_creation_v1/core"))[0];
  flipByte(path.join(ev.backup_path as string, key), 0);
  const err = await rejects(h.rollback());
  assert.ok(err.message.includes(`: ${key} (content differs`), err.message);
});

test("a missing copy and a damaged manifest are named", async () => {
  const { p, h, id, dir } = await upgraded();
  fs.rmSync(path.join(dir, "install/VERSION.txt"));
  const r = await verifyBackup(p.layout, id);
  assert.equal(r.problems, [{ path: "install/VERSION.txt", problem: "missing from the backup" }]);
  const e1 = await rejects(h.rollback());
  assert.ok(e1.message.includes("install/VERSION.txt (missing from the backup)"), e1.message);

  const manifest = path.join(dir, "MANIFEST.json");
  fs.writeFileSync(manifest, fs.readFileSync(manifest, "utf8").replace('"total_size": ', '"total_size": 1'));
  const r2 = await verifyBackup(p.layout, id);
  assert.equal(r2.problems, [{ path: "MANIFEST.json", problem: "MANIFEST.json does not match MANIFEST.sha256: it was changed or damaged after the backup" }]);
  const live = snapshotTree(p.root, { skip: ownRecords });
  const e2 = await rejects(h.rollback());
  assert.is(e2.code, "ROLLBACK_FAILED");
  assert.ok(e2.message.includes(`Cannot use backup ${id}: MANIFEST.json does not match MANIFEST.sha256`), e2.message);
  assert.is((e2.details as { nothing_changed?: boolean }).nothing_changed, true);
  assert.equal(diffTrees(live, snapshotTree(p.root, { skip: ownRecords })), []);
});

test("a manifest whose checksum matches but whose entries are malformed is refused, nothing changes", async () => {
  const { p, h, id, dir } = await upgraded();
  const file = path.join(dir, "MANIFEST.json");
  const key = "install/mcp_server/server.py";
  const text = fs.readFileSync(file, "utf8").replace(new RegExp(`^(    "${key.replace(/[/.]/g, "\\$&")}": )\\["f",[^\\]]*\\]`, "m"), '$1["f", "644"]');
  fs.writeFileSync(file, text);
  fs.writeFileSync(path.join(dir, "MANIFEST.sha256"), `${createHash("sha256").update(text).digest("hex")}  MANIFEST.json\n`);
  const before = snapshotTree(p.root, { skip: ownRecords });
  const err = await rejects(h.rollback());
  assert.is(err.code, "ROLLBACK_FAILED");
  assert.is(err.message, `Plugin "backup" failed in hook "rollback": Cannot use backup ${id}: MANIFEST.json cannot be read (the entry "${key}" is not a valid entry (["f","644"]))`);
  assert.is((err.details as { nothing_changed?: boolean }).nothing_changed, true);
  const r = await verifyBackup(p.layout, id);
  assert.equal(r.problems, [{ path: "MANIFEST.json", problem: `MANIFEST.json cannot be read (the entry "${key}" is not a valid entry (["f","644"]))` }]);
  assert.equal(diffTrees(before, snapshotTree(p.root, { skip: ownRecords })), []);
});

test("a file added to a backup is reported by verify", async () => {
  const p = makeProject({ venv: false });
  const ev = await harness(p.layout).backup();
  fs.writeFileSync(path.join(ev.backup_path as string, "install/workflows/stray.md"), "x");
  const r = await verifyBackup(p.layout, ev.backup_id as string);
  assert.equal(r.problems, [{ path: "install/workflows/stray.md", problem: "is in the backup folder but not in MANIFEST.json" }]);
});

test.run();
