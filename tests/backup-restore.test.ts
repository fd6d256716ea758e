import { test } from "uvu";
import { Buffer } from "node:buffer";
import * as assert from "uvu/assert";
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { isUpgradeError, type UpgradeError } from "../core/errors.ts";
import { readManifest } from "../plugins/backup/manifest.ts";
import { harness, makeProject, ownRecords, sha256File, simulateUpgrade } from "./helpers/backup-project.ts";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { backupEvidence } from "../plugins/backup.ts";

/** What the simulated upgrade does to user-owned paths: rollback must keep exactly these. */
const USER_CHANGES = [
  'changed: .agent-os/specs/2025-10-01-feature/srd.md: {"type":"file","mode":"0644","sha256":"603c828a03383f98b82bf9c6787deeb5c40c02871a1b8d6ba14b0d538020a02b","size":7} -> {"type":"file","mode":"0644","sha256":"cd71e1fdfe94e475c1044ce439f1b1016ee06b65b10e050de49174aacbf68392","size":37}',
  "created: .agent-os/standards/development/added.md",
  "created: .agent-os/workspace/new-note.md",
];

async function rejects(p: Promise<unknown>): Promise<UpgradeError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isUpgradeError(err), `expected an UpgradeError, got ${err}`);
    return err as UpgradeError;
  }
  throw new Error("expected a rejection");
}

test("rollback restores every backed-up path exactly (bytes, modes, links, types) and removes what the upgrade created", async () => {
  const p = makeProject();
  const before = snapshotTree(p.root, { skip: ownRecords });
  const h = harness(p.layout);
  await h.backup();
  h.beginPhase2();
  simulateUpgrade(p.layout);
  assert.ok(diffTrees(before, snapshotTree(p.root, { skip: ownRecords })).length > 100, "the upgrade changed the tree");
  const req = await h.rollback();
  assert.equal(diffTrees(before, snapshotTree(p.root, { skip: ownRecords })), USER_CHANGES);
  const ev = req.evidence;
  assert.is(ev.restored, true);
  assert.is(ev.backup_verified, true);
  assert.is(ev.backup_id, backupEvidence(h.state)!.backup_id);
  assert.ok((ev.files_restored as number) > 100, `files_restored ${ev.files_restored}`);
  assert.is(ev.symlinks_restored, 3); // bin/python retargeted, lib64 folder -> link, pkg0/dangling (pkg0 was replaced)
  assert.is(ev.created_removed, 5);
  assert.ok((ev.modes_fixed as number) >= 2);
  assert.type((ev.timings as Record<string, number>).total_ms, "number");
  assert.ok(h.state.journal.some((j) => j.step === "backup.rollback:begin"));
  assert.ok(h.state.journal.some((j) => j.step === "backup.rollback:done"));
  // No staging or temp names left anywhere.
  assert.equal(fs.readdirSync(p.layout.backupsDir).filter((n) => n.startsWith(".") && n !== ".gitignore"), []);
});

test("a second rollback finds nothing to do and changes nothing", async () => {
  const p = makeProject();
  const h = harness(p.layout);
  await h.backup();
  h.beginPhase2();
  simulateUpgrade(p.layout);
  await h.rollback();
  const once = snapshotTree(p.root, { skip: ownRecords });
  const again = await h.rollback();
  assert.equal(diffTrees(once, snapshotTree(p.root, { skip: ownRecords })), []);
  assert.is(again.evidence.files_restored, 0);
  assert.is(again.evidence.created_removed, 0);
  assert.is(again.evidence.symlinks_restored, 0);
});

test("a root created by the upgrade is removed, with the parent folder it needed", async () => {
  const p = makeProject({ venv: false });
  fs.rmSync(path.join(p.root, ".cursor"), { recursive: true });
  fs.rmSync(path.join(p.layout.installDir, "usage"), { recursive: true });
  const before = snapshotTree(p.root, { skip: ownRecords });
  const h = harness(p.layout);
  await h.backup();
  h.beginPhase2();
  fs.mkdirSync(path.join(p.root, ".cursor"));
  fs.writeFileSync(p.layout.mcpJson, "{}");
  fs.mkdirSync(path.join(p.layout.installDir, "usage", "sub"), { recursive: true });
  fs.writeFileSync(path.join(p.layout.installDir, "usage", "sub", "guide.md"), "x");
  fs.mkdirSync(p.layout.venvDir);
  await h.rollback();
  assert.equal(diffTrees(before, snapshotTree(p.root, { skip: ownRecords })), []);
});

test("a created parent folder that now holds something else is kept", async () => {
  const p = makeProject({ venv: false });
  fs.rmSync(path.join(p.root, ".cursor"), { recursive: true });
  const h = harness(p.layout);
  await h.backup();
  h.beginPhase2();
  fs.mkdirSync(path.join(p.root, ".cursor"));
  fs.writeFileSync(p.layout.mcpJson, "{}");
  fs.writeFileSync(path.join(p.root, ".cursor", "rules.md"), "the IDE wrote this");
  await h.rollback();
  assert.not.ok(fs.existsSync(p.layout.mcpJson));
  assert.is(fs.readFileSync(path.join(p.root, ".cursor", "rules.md"), "utf8"), "the IDE wrote this");
});

test("read-only folders and files are restored with their modes; a same-size rewrite with the old mtime is caught", async () => {
  const p = makeProject({ venv: false });
  const ro = path.join(p.layout.installDir, "workflows", "readonly");
  fs.mkdirSync(ro);
  fs.writeFileSync(path.join(ro, "a.md"), "aaaa");
  fs.chmodSync(path.join(ro, "a.md"), 0o444);
  fs.chmodSync(ro, 0o555);
  const target = path.join(p.layout.installDir, "VERSION.txt");
  const before = snapshotTree(p.root, { skip: ownRecords });
  const h = harness(p.layout);
  await h.backup();
  h.beginPhase2();
  fs.chmodSync(ro, 0o755);
  fs.writeFileSync(path.join(ro, "b.md"), "new");
  fs.chmodSync(path.join(ro, "a.md"), 0o644);
  fs.writeFileSync(path.join(ro, "a.md"), "bbbb");
  // Same size, mtime put back: only the content (and ctime) tells.
  const st = fs.statSync(target);
  const same = Buffer.from(fs.readFileSync(target));
  same[0] ^= 1;
  fs.writeFileSync(target, same);
  fs.utimesSync(target, st.atime, st.mtime);
  await h.rollback();
  assert.equal(diffTrees(before, snapshotTree(p.root, { skip: ownRecords })), []);
  assert.is(fs.statSync(ro).mode & 0o7777, 0o555);
});

test("rollback --to restores an older backup; without a session a manual rollback takes the newest", async () => {
  const p = makeProject();
  const atFirst = snapshotTree(p.root, { skip: ownRecords });
  const h1 = harness(p.layout);
  const ev1 = await h1.backup();
  fs.writeFileSync(path.join(p.layout.installDir, "VERSION.txt"), "version=1.4\n");
  fs.writeFileSync(path.join(p.layout.installDir, "workflows", "added-by-1.4.md"), "x");
  const atSecond = snapshotTree(p.root, { skip: ownRecords });
  const h2 = harness(p.layout);
  const ev2 = await h2.backup();
  assert.is.not(ev1.backup_id, ev2.backup_id);
  h2.beginPhase2();
  simulateUpgrade(p.layout);
  const manual = harness(p.layout, { noSession: true });
  const r = await manual.rollback({ manual: true });
  assert.is(r.evidence.backup_id, ev2.backup_id);
  assert.equal(diffTrees(atSecond, snapshotTree(p.root, { skip: ownRecords })), USER_CHANGES);
  const r2 = await manual.rollback({ manual: true, backupId: ev1.backup_id as string });
  assert.is(r2.evidence.backup_id, ev1.backup_id);
  assert.equal(diffTrees(atFirst, snapshotTree(p.root, { skip: ownRecords })), USER_CHANGES);
});

test("a session that stopped before phase 2 has nothing to restore", async () => {
  const p = makeProject({ venv: false });
  const before = snapshotTree(p.root, { skip: ownRecords });
  const h = harness(p.layout);
  const r = await h.rollback();
  assert.is(r.evidence.restored, false);
  assert.ok(String(r.evidence.reason).includes("before phase 2"));
  assert.equal(diffTrees(before, snapshotTree(p.root, { skip: ownRecords })), []);
});

test("no backup at all: a clear refusal that says what to do", async () => {
  const p = makeProject({ venv: false });
  const h = harness(p.layout);
  h.beginPhase2();
  const err = await rejects(h.rollback());
  assert.is(err.code, "ROLLBACK_FAILED");
  assert.ok(err.message.endsWith(`Cannot roll back: no backup of session ${h.state.session_id} was found in ${p.layout.backupsDir}`), err.message);
  assert.ok(err.hint?.includes("rollback --to <id>"));
  assert.is((err.details as { nothing_changed?: boolean }).nothing_changed, true);
  const bad = await rejects(harness(p.layout).rollback({ manual: true, backupId: "not-an-id" }));
  assert.is(bad.code, "USAGE");
  assert.ok(bad.message.includes('Cannot find backup "not-an-id"'), bad.message);
});

test("odd file names (quotes, backslashes, newlines, unicode, spaces) are backed up, parsed back and restored", async () => {
  const p = makeProject({ venv: false });
  const d = path.join(p.layout.installDir, "workflows", "odd names");
  fs.mkdirSync(d);
  const names = ['we"ird.md', "back\\slash.md", "line\nbreak.md", "ünïcødé ✓.md", "tab\there.md", "pkg1", "pkg1-1.0.dist-info", "a: b.md"];
  for (const n of names) fs.writeFileSync(path.join(d, n), `content of ${n}`);
  fs.symlinkSync('target with "quotes"', path.join(d, "link \\ odd"));
  const before = snapshotTree(p.root, { skip: ownRecords });
  const h = harness(p.layout);
  const ev = await h.backup();
  const m = readManifest(ev.backup_path as string);
  for (const n of names) {
    const i = m.entries.indexOf(`install/workflows/odd names/${n}`);
    assert.ok(i >= 0, `${JSON.stringify(n)} is in the parsed manifest`);
    assert.is(m.entries.shaHex(i), sha256File(path.join(d, n)));
  }
  assert.is(m.entries.text(m.entries.indexOf("install/workflows/odd names/link \\ odd")), 'target with "quotes"');
  h.beginPhase2();
  for (const n of names) fs.writeFileSync(path.join(d, n), "changed");
  fs.rmSync(path.join(d, "link \\ odd"));
  fs.writeFileSync(path.join(d, "new \"one\".md"), "x");
  await h.rollback();
  assert.equal(diffTrees(before, snapshotTree(p.root, { skip: ownRecords })), []);
});

/** `chattr +i` makes a file undeletable even for root: a real, repeatable commit failure. */
function canMakeImmutable(dir: string): boolean {
  const f = path.join(dir, ".immutable-probe");
  fs.writeFileSync(f, "");
  const ok = spawnSync("chattr", ["+i", f]).status === 0;
  if (ok) spawnSync("chattr", ["-i", f]);
  fs.rmSync(f, { force: true });
  return ok;
}

test("a rollback that cannot finish says exactly what remains and how to finish; running it again completes", async () => {
  const p = makeProject({ venv: false });
  if (!canMakeImmutable(p.root)) {
    console.log("  (skipped: chattr +i is not available here)");
    return;
  }
  const before = snapshotTree(p.root, { skip: ownRecords });
  const h = harness(p.layout);
  const ev = await h.backup();
  h.beginPhase2();
  const stuck = path.join(p.layout.installDir, "workflows", "created-by-upgrade.md");
  fs.writeFileSync(stuck, "new");
  fs.writeFileSync(path.join(p.layout.installDir, "VERSION.txt"), "version=2\n");
  spawnSync("chattr", ["+i", stuck]);
  try {
    const err = await rejects(h.rollback());
    assert.is(err.code, "ROLLBACK_FAILED");
    assert.ok(err.message.includes(`Cannot finish the rollback: 1 change could not be made: remove ${stuck} (EPERM`), err.message);
    assert.ok(err.message.endsWith("Everything else was restored"), err.message);
    assert.ok(err.hint?.includes(`agent-os-upgrade rollback --to ${ev.backup_id}\` again: it redoes only what still differs`), err.hint);
    assert.ok(err.hint?.includes(`rm -rf ${JSON.stringify(stuck)}`), err.hint);
    assert.equal((err.details as { remaining: Array<{ key: string }> }).remaining.map((r) => r.key), ["install/workflows/created-by-upgrade.md"]);
    assert.is((err.details as { nothing_changed?: boolean }).nothing_changed, false);
    assert.equal(diffTrees(before, snapshotTree(p.root, { skip: ownRecords })), ["created: .agent-os/workflows/created-by-upgrade.md"], "everything else was restored");
  } finally {
    spawnSync("chattr", ["-i", stuck]);
  }
  const again = await h.rollback({ manual: true });
  assert.is(again.evidence.created_removed, 1);
  assert.equal(diffTrees(before, snapshotTree(p.root, { skip: ownRecords })), []);
});

test.run();
