import { test } from "uvu";
import * as assert from "uvu/assert";
import fs from "node:fs";
import path from "node:path";
import { StateStore } from "../core/state.ts";
import { claimBackupDir, compareIdsDesc, isBackupId, stampOf } from "../plugins/backup/names.ts";
import { createSnapshot } from "../plugins/backup/snapshot.ts";
import { resolveRoots } from "../plugins/backup/roots.ts";
import { listBackups, pruneBackups, verifyBackup } from "../plugins/backup/retention.ts";
import { harness, makeProject, tmpDir, WIDE } from "./helpers/backup-project.ts";

const noRoots = { ...WIDE, exclude: [] };

test("names: UTC stamp, -N within one second, ordered newest first with -10 after -9", () => {
  const d = tmpDir();
  const at = new Date(Date.UTC(2025, 9, 11, 14, 30, 22));
  assert.is(stampOf(at), "2025-10-11-143022");
  const ids = Array.from({ length: 12 }, () => claimBackupDir(d, at));
  assert.equal(ids.slice(0, 3), ["2025-10-11-143022", "2025-10-11-143022-1", "2025-10-11-143022-2"]);
  assert.is(new Set(ids).size, 12);
  const later = claimBackupDir(d, new Date(at.getTime() + 1000));
  const sorted = [...ids, later].sort(compareIdsDesc);
  assert.equal(sorted.slice(0, 4), ["2025-10-11-143023", "2025-10-11-143022-11", "2025-10-11-143022-10", "2025-10-11-143022-9"]);
  assert.is(sorted.at(-1), "2025-10-11-143022");
  assert.ok(ids.every(isBackupId));
  assert.not.ok(isBackupId(".trash-2025-10-11-143022"));
});

test("two backups started in the same second, at once, get distinct names and both verify", async () => {
  const p = makeProject({ venv: false });
  const roots = resolveRoots(p.layout, [], noRoots);
  const now = new Date();
  const [a, b] = await Promise.all([
    createSnapshot(p.layout, roots, { sessionId: null, now, sync: false }),
    createSnapshot(p.layout, roots, { sessionId: null, now, sync: false }),
  ]);
  assert.is.not(a.id, b.id);
  assert.equal([a.id, b.id].sort(), [stampOf(now), `${stampOf(now)}-1`]);
  assert.ok((await verifyBackup(p.layout, a.id)).ok);
  assert.ok((await verifyBackup(p.layout, b.id)).ok);
});

/** A backup of a session with the given status, made at a given second. */
async function backupOf(layout: ReturnType<typeof makeProject>["layout"], status: "completed" | "rolled_back" | "in_progress" | null, at: Date) {
  const store = new StateStore(layout.stateDir);
  let sessionId: string | null = null;
  if (status) {
    const s = store.create({ options: {}, source: { path: null, commit: null }, target: { project: layout.projectRoot, install: layout.installDir } });
    s.status = status;
    store.save(s);
    sessionId = s.session_id;
  }
  const roots = resolveRoots(layout, [], { ...WIDE, exclude: ["venv", "standards/universal", "workflows", "usage", "mcp_server"] });
  return (await createSnapshot(layout, roots, { sessionId, now: at, sync: false })).id;
}

test("prune counts every backup whatever its session status; keeps the newest, the protected one and an unfinished session's, each with its reason", async () => {
  const p = makeProject({ venv: false });
  const t = Date.UTC(2025, 0, 1, 0, 0, 0);
  const ids = [
    await backupOf(p.layout, "completed", new Date(t + 1000)), // 0 oldest
    await backupOf(p.layout, "rolled_back", new Date(t + 2000)), // 1 rolled back: counted like any other
    await backupOf(p.layout, "completed", new Date(t + 3000)), // 2 protected (current)
    await backupOf(p.layout, null, new Date(t + 4000)), // 3 no session
    await backupOf(p.layout, "completed", new Date(t + 5000)), // 4
    await backupOf(p.layout, "in_progress", new Date(t + 6000)), // 5 newest, and unfinished
  ];
  // An abandoned half-made backup (its writer died) and a folder that is not ours.
  const dead = claimBackupDir(p.layout.backupsDir, new Date(t + 7000));
  fs.writeFileSync(path.join(p.layout.backupsDir, dead, ".in-progress.json"), JSON.stringify({ pid: 2 ** 22 + 7, pid_start: null, hostname: (await import("node:os")).hostname(), session_id: null, started_at: "x" }));
  const foreign = claimBackupDir(p.layout.backupsDir, new Date(t + 8000));

  const listed = listBackups(p.layout);
  assert.equal(listed.map((b) => b.id), [foreign, dead, ...[...ids].reverse()]);
  assert.equal(listed.map((b) => b.state), ["incomplete", "abandoned", "complete", "complete", "complete", "complete", "complete", "complete"]);
  assert.equal(listed.slice(2).map((b) => b.session_status), ["in_progress", "completed", null, "completed", "rolled_back", "completed"]);
  assert.ok(listed[2].files! > 0 && listed[2].bytes! > 0);

  // keep 3: the newest and the protected one are forced, one place is left for the next newest.
  const r = pruneBackups(p.layout, 3, [ids[2]]);
  assert.equal(r.kept, [ids[5], ids[4], ids[2]]);
  assert.equal(r.removed, [ids[3], ids[1], ids[0]]);
  assert.equal(r.reasons, { [ids[5]]: "the newest backup", [ids[4]]: "one of the newest 3 (keepBackups)", [ids[2]]: "the backup of this run" });
  assert.equal(r.skipped.map((s) => s.id), [foreign]);
  const left = fs.readdirSync(p.layout.backupsDir).filter(isBackupId).sort();
  assert.equal(left, [ids[2], ids[4], ids[5], foreign].sort());
  // An unfinished session's backup survives any prune, even keep 1, even when not the newest.
  const later = await backupOf(p.layout, "completed", new Date(t + 9000));
  const r1 = pruneBackups(p.layout, 1);
  assert.equal(r1.kept, [later, ids[5]]);
  assert.match(r1.reasons[ids[5]], /unfinished \(in_progress\)/);
  assert.equal(fs.readdirSync(p.layout.backupsDir).filter((n) => n.startsWith(".") && n !== ".gitignore"), []);
});

test("cleanup prunes after any outcome (a rolled-back run too), never the current backup", async () => {
  const p = makeProject({ venv: false });
  const t = Date.UTC(2025, 0, 1, 0, 0, 0);
  const old = [await backupOf(p.layout, "completed", new Date(t)), await backupOf(p.layout, "completed", new Date(t + 1000))];
  const h = harness(p.layout, { keepBackups: 1 });
  const ev = await h.backup();
  assert.is(listBackups(p.layout).length, 3);
  const rolled = await h.cleanup({ status: "rolled_back" });
  assert.equal(rolled.backups_kept, [ev.backup_id]);
  assert.equal(rolled.backups_pruned, [old[1], old[0]]);
  assert.equal(listBackups(p.layout).map((b) => b.id), [ev.backup_id]);
  const done = await h.cleanup({ status: "completed" });
  assert.equal(done.backups_pruned, []);
});

test("prune refuses a keep count below 1", () => {
  const p = makeProject({ venv: false });
  try {
    pruneBackups(p.layout, 0);
    assert.unreachable();
  } catch (err) {
    assert.is((err as { code: string }).code, "USAGE");
    assert.ok((err as Error).message.includes("--keep-backups must be a whole number of at least 1 (got 0)"));
  }
});

test.run();
