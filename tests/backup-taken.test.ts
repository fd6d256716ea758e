/**
 * Backups that cost what the upgrade changes, through the real CLI (issue 24 items 2–3, issue
 * 20 item 5): files the content upgrade replaces are hard-linked into the backup, not copied,
 * and the backup still verifies, restores exactly and is undoable; expired backups go to a
 * trash that is deleted after the command (a killed deletion is finished by the next one);
 * a user's symbolic link inside a content path does not block a rollback.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { REPO, runCli, RUNTIME, startCli } from "./helpers/cli.ts";
import { waitForFile } from "./helpers/wait.ts";
import { lastResult, makeTemplate, runFaulted, sessionOf, tempFiles, treeDiff, treeHash, UPGRADE } from "./helpers/crash.ts";

const test = suite("backup-taken");
const roots: string[] = [];
const tmpRoot = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "aou-taken-"));
  roots.push(d);
  return d;
};
test.after.each(() => {
  for (const d of roots.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const backupIds = (project: string) => fs.readdirSync(path.join(project, ".agent-os/.backups")).filter((n) => /^\d{4}-/.test(n)).sort();
const TAKEN = [
  "install/standards/universal/old-name.md",
  "install/standards/universal/removed.md",
  "install/standards/universal/testing/pyramid.md",
  "install/standards/universal/testing/unit.md",
  "install/usage/guide.md",
];

async function upgrade(t: ReturnType<typeof makeTemplate>) {
  const r = await runCli(UPGRADE(t.source, t.config), { cwd: t.project, timeoutMs: 120_000 });
  assert.is(r.code, 0, r.stdout + r.stderr);
  return sessionOf(t.project, lastResult(r.stdout).session_id);
}

test("the files an upgrade replaces or deletes are linked into the backup, not copied: it verifies, a rollback is exact, and undoing it is exact", async () => {
  const t = makeTemplate(tmpRoot());
  const old = treeHash(t.project, false);
  const oldBytes = fs.readFileSync(path.join(t.project, ".agent-os/standards/universal/testing/unit.md"));
  const state = await upgrade(t);
  const ev = state.phases["1"].evidence.backup;
  assert.is(ev.files_taken_by_link, TAKEN.length);
  const manifest = JSON.parse(fs.readFileSync(path.join(ev.backup_path, "MANIFEST.json"), "utf8"));
  assert.equal(manifest.taken, TAKEN);
  // The old inode lives on in the backup only (the live file was replaced by a new one).
  const kept = path.join(ev.backup_path, "install/standards/universal/testing/unit.md");
  assert.is(fs.statSync(kept).nlink, 1);
  assert.equal(fs.readFileSync(kept), oldBytes);
  assert.ok(!fs.existsSync(path.join(t.project, ".agent-os/standards/universal/removed.md")));
  const newTree = treeHash(t.project, false);

  const v = await runCli(["backups", "verify", ev.backup_id, "--config", t.config], { cwd: t.project, timeoutMs: 60_000 });
  assert.is(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, `Backup ${ev.backup_id} is intact`);

  const rb = await runCli(["rollback", "--yes", "--config", t.config, "--json"], { cwd: t.project, timeoutMs: 120_000 });
  assert.is(rb.code, 0, rb.stdout + rb.stderr);
  assert.equal(treeDiff(old, treeHash(t.project, false)), []);
  assert.equal(tempFiles(t.project), []);
  const before = backupIds(t.project).pop()!;
  assert.match(fs.readFileSync(path.join(t.project, ".agent-os/.backups", before, "LABEL"), "utf8"), "before rollback");

  const undo = await runCli(["rollback", "--to", before, "--yes", "--config", t.config], { cwd: t.project, timeoutMs: 120_000 });
  assert.is(undo.code, 0, undo.stdout + undo.stderr);
  assert.equal(treeDiff(newTree, treeHash(t.project, false)), []);
  assert.is(fs.existsSync(path.join(t.project, ".agent-os/.upgrade-lock")), false);
});

test("a file the user changes in place between the backup and its replacement is not taken: it is left alone, the backup verifies, a rollback keeps the user's bytes", async () => {
  const t = makeTemplate(tmpRoot());
  const old = treeHash(t.project, false);
  const config = path.join(t.root, "pause.config.ts");
  fs.writeFileSync(config, `import pause from ${JSON.stringify(path.join(REPO, "tests/helpers/crash-pause.ts"))};\nexport default { disable: ["validate"], plugins: [pause] };\n`);
  const paused = path.join(t.root, "paused");
  const release = path.join(t.root, "release");
  const { done } = startCli(UPGRADE(t.source, config), { cwd: t.project, env: { AOU_PAUSE_AT: "applyContent", AOU_PAUSE_FILE: paused, AOU_RELEASE_FILE: release }, timeoutMs: 120_000 });
  await waitForFile(paused, 90_000);
  // In place (same inode), as an editor that keeps hard links writes: a linked backup would change with it.
  const guide = path.join(t.project, ".agent-os/usage/guide.md");
  fs.writeFileSync(guide, "# Guide v1, edited during the upgrade\n");
  fs.writeFileSync(release, "");
  const r = await done;
  assert.is(r.code, 0, r.stdout + r.stderr);
  const res = lastResult(r.stdout);
  const state = sessionOf(t.project, res.session_id);
  assert.equal(state.phases["2"].evidence.content.changed_during_run, ["usage/guide.md"]);
  const backup = state.phases["1"].evidence.backup.backup_path;
  assert.is(fs.existsSync(path.join(backup, "install/usage/guide.md")), false, "not taken");
  const v = await runCli(["backups", "verify", state.phases["1"].evidence.backup.backup_id, "--config", t.config], { cwd: t.project, timeoutMs: 60_000 });
  assert.is(v.code, 0, v.stdout + v.stderr);
  const rb = await runCli(["rollback", "--yes", "--config", t.config], { cwd: t.project, timeoutMs: 120_000 });
  assert.is(rb.code, 0, rb.stdout + rb.stderr);
  assert.equal(treeDiff(old, treeHash(t.project, false)), ["changed .agent-os/usage/guide.md"]);
  assert.is(fs.readFileSync(guide, "utf8"), "# Guide v1, edited during the upgrade\n");
});

test("expired backups are renamed into the trash and deleted after the command; `backups prune` reports what it freed; a deletion killed midway is finished by the next command", async () => {
  const t = makeTemplate(tmpRoot());
  t.config = path.join(t.root, "keep20.json");
  fs.writeFileSync(t.config, JSON.stringify({ disable: ["validate"], keepBackups: 20 }));
  for (let i = 0; i < 3; i++) {
    await upgrade(t);
    const rb = await runCli(["rollback", "--yes", "--config", t.config], { cwd: t.project, timeoutMs: 120_000 });
    assert.is(rb.code, 0, rb.stdout + rb.stderr);
  }
  const all = backupIds(t.project);
  assert.ok(all.length >= 6, all.join(","));
  // An upgrade with keepBackups 2: its cleanup only renames; the detached deletion empties the trash.
  const keep2 = path.join(t.root, "keep2.json");
  fs.writeFileSync(keep2, JSON.stringify({ disable: ["validate"], keepBackups: 2 }));
  const r = await runCli(UPGRADE(t.source, keep2), { cwd: t.project, timeoutMs: 120_000 });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const cleanup = sessionOf(t.project, lastResult(r.stdout).session_id).phases["5"].evidence.backup;
  assert.is(cleanup.backups_pruned.length, all.length + 1 - 2);
  assert.ok(cleanup.backups_pruned_bytes > 0);
  assert.is(cleanup.trash_deleted_by, "detached process");
  assert.is(backupIds(t.project).length, 2);
  const trash = path.join(t.project, ".agent-os/.backups/.trash");
  for (let i = 0; i < 100 && fs.existsSync(trash); i++) await new Promise((res) => setTimeout(res, 100));
  assert.is(fs.existsSync(trash), false, "the detached deletion emptied and removed the trash");

  // Three more expired backups; `backups prune --keep-backups 1` killed right after its first deletion.
  // Rolled back first: an upgrade of an install already at the source's commit changes nothing ("already up to date").
  for (let i = 0; i < 2; i++) {
    const rb = await runCli(["rollback", "--yes", "--config", t.config], { cwd: t.project, timeoutMs: 120_000 });
    assert.is(rb.code, 0, rb.stdout + rb.stderr);
    await upgrade(t);
  }
  const expired = backupIds(t.project).length - 1;
  if (RUNTIME === "node") {
    const k = await runFaulted(["backups", "prune", "--keep-backups", "1", "--config", t.config], t.project, {
      AOU_FAULT_KIND: "kill",
      AOU_FAULT_WHEN: "after",
      AOU_FAULT_MATCH: "/\\.backups/\\.trash/[^/]+$",
      AOU_FAULT_AT: "1",
    });
    assert.is(k.signal, "SIGKILL", k.stdout + k.stderr);
    assert.is(backupIds(t.project).length, 1, "every expired backup was renamed before the deletion began");
    const left = fs.readdirSync(trash);
    assert.is(left.length, expired - 1, left.join(","));
    // And one of them half-deleted, as a kill inside its rm -rf leaves it.
    const half = path.join(trash, left[0]);
    fs.rmSync(path.join(half, "MANIFEST.json"));
  }
  const p = await runCli(["backups", "prune", "--keep-backups", "1", "--config", t.config, "--json"], { cwd: t.project, timeoutMs: 60_000 });
  assert.is(p.code, 0, p.stdout + p.stderr);
  assert.is(fs.existsSync(trash), false, "the next command deleted what the killed one left");
  assert.is(backupIds(t.project).length, 1);
  if (RUNTIME !== "node") {
    const out = JSON.parse(p.stdout.trim().split("\n").pop()!);
    assert.is(out.removed.length, expired);
    assert.ok(out.freed_bytes > 0);
  }
});

test("a user's symbolic link inside a content path does not block a rollback: the tree is exactly old, the link is kept in the 'before rollback' backup and comes back when that is undone", async () => {
  for (const kind of ["folder", "file"] as const) {
    const t = makeTemplate(tmpRoot());
    const old = treeHash(t.project, false);
    await upgrade(t);
    const inst = path.join(t.project, ".agent-os");
    if (kind === "folder") {
      fs.renameSync(path.join(inst, "usage"), path.join(t.project, "usage-real"));
      fs.symlinkSync("../usage-real", path.join(inst, "usage"));
    } else {
      fs.rmSync(path.join(inst, "standards/universal/testing/unit.md"));
      fs.symlinkSync("../../../../notes.txt", path.join(inst, "standards/universal/testing/unit.md"));
    }
    const withLink = treeHash(t.project, false);
    const outside = treeHash(path.join(t.project, kind === "folder" ? "usage-real" : "."), false);
    const rb = await runCli(["rollback", "--yes", "--config", t.config, "--json"], { cwd: t.project, timeoutMs: 120_000 });
    assert.is(rb.code, 0, `${kind}: ${rb.stdout}${rb.stderr}`);
    const res = lastResult(rb.stdout);
    assert.is(res.status, "rolled_back", kind);
    assert.is(sessionOf(t.project, res.session_id).status, "rolled_back", kind);
    const want = new Map(old);
    if (kind === "folder") {
      // What the user moved out of the installation is theirs: never followed, never touched.
      for (const [k, v] of withLink) if (k.startsWith("usage-real")) want.set(k, v);
      assert.equal(treeHash(path.join(t.project, "usage-real"), false), outside);
    }
    assert.equal(treeDiff(want, treeHash(t.project, false)), [], kind);
    assert.is(fs.existsSync(path.join(inst, ".upgrade-lock")), false, kind);
    assert.equal(tempFiles(t.project), [], kind);
    const before = backupIds(t.project).pop()!;
    const undo = await runCli(["rollback", "--to", before, "--yes", "--config", t.config], { cwd: t.project, timeoutMs: 120_000 });
    assert.is(undo.code, 0, `${kind}: ${undo.stdout}${undo.stderr}`);
    assert.equal(treeDiff(withLink, treeHash(t.project, false)), [], kind);
  }
});

test.run();
