/**
 * The backup holds what the upgrade changes, nothing else: the scope plugins declare on the
 * backup's scope channel, the server folder taken by the swap's rename (not copied), and
 * rollbacks across several upgrades undone newest first. Retention over many runs.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import fs from "node:fs";
import path from "node:path";
import { definePlugin, type Plugin } from "../core/plugin.ts";
import { readManifest } from "../plugins/backup/manifest.ts";
import { listBackups } from "../plugins/backup/retention.ts";
import { backupPlugin } from "../plugins/backup.ts";
import { backupScope } from "../plugins/backup/scope.ts";
import { makeProject, ownRecords, type Project } from "./helpers/backup-project.ts";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { EMPTY_VALIDATION_EVIDENCE, PHASE0_EVIDENCE, rollbackWith, SWAPPED_SERVER_EVIDENCE, upgradeWith } from "./helpers/backup-upgrade.ts";

type Fail = null | 2 | "swap";

const edited = (p: Project) => {
  const dir = path.join(p.layout.installDir, "standards/universal/ai-safety");
  return path.join(dir, fs.readdirSync(dir).sort()[0]);
};

/** Upgrade number `n`: one file edited, one added, the log appended, mcp_server swapped; each declared as its scope. */
function narrowUpgrade(n: number, fail: Fail): Plugin {
  return definePlugin({
    name: "narrow-upgrade",
    apply(hooks) {
      hooks.start.tap((ctx) => {
        const I = (r: string) => path.join(ctx.layout.installDir, r);
        backupScope(ctx).add("narrow-upgrade", (c) => ({
          paths: [edited({ root: c.layout.projectRoot, layout: c.layout }), I(`standards/universal/new-${n}/added.md`), c.layout.updateLog],
          moveAside: [I("mcp_server")],
        }));
      });
      hooks.preflight.tap((_c, _f, ev) => void Object.assign(ev, PHASE0_EVIDENCE));
      hooks.applyContent.tap((_plan, ctx, ev) => {
        fs.appendFileSync(edited({ root: ctx.layout.projectRoot, layout: ctx.layout }), `edit ${n}\n`);
        fs.mkdirSync(path.join(ctx.layout.installDir, `standards/universal/new-${n}`));
        fs.writeFileSync(path.join(ctx.layout.installDir, `standards/universal/new-${n}/added.md`), `# ${n}\n`);
        if (fail === 2) throw new Error("content exploded halfway");
        Object.assign(ev, { plan_counts: { new: 1, updated: 1, unchanged: 0, kept_local: 0, conflicts: 0, deleted: 0, errors: 0 }, files_written: 2, written_hashes_verified: true, needs_attention: [] });
      });
      hooks.upgradeServer.tap((ctx, ev) => {
        const live = path.join(ctx.layout.installDir, "mcp_server");
        const staged = `${live}.staged-${n}`;
        fs.mkdirSync(staged);
        fs.writeFileSync(path.join(staged, "__init__.py"), `__version__ = '${n}'\n`);
        const old = backupScope(ctx).asideFor(live);
        if (!old) throw new Error("the backup did not take mcp_server");
        fs.renameSync(live, old);
        if (fail === "swap") throw new Error("killed between the two renames of the swap");
        fs.renameSync(staged, live);
        fs.appendFileSync(ctx.layout.updateLog, `upgrade ${n}\n`);
        Object.assign(ev, SWAPPED_SERVER_EVIDENCE);
      });
      // As the server plugin does: its own staged copy goes; the backup puts the old folder back.
      hooks.rollback.tap((ctx) => fs.rmSync(path.join(ctx.layout.installDir, `mcp_server.staged-${n}`), { recursive: true, force: true }));
      hooks.validate.tap((_c, _f, ev) => void Object.assign(ev, EMPTY_VALIDATION_EVIDENCE));
      hooks.cleanup.tap((_c, _o, ev) => void (ev.report_path = "/dev/null"));
    },
  });
}

const plugins = (n: number, fail: Fail) => [narrowUpgrade(n, fail), backupPlugin({ batchSize: 16, sync: false })];

function upgrade(p: Project, n: number, fail: Fail = null, keepBackups = 3) {
  return upgradeWith(plugins(n, fail), p, { options: { keepBackups } });
}

function rollbackTo(p: Project, id: string) {
  return rollbackWith(plugins(0, null), p, id);
}

const backupIdOf = (r: { session_id: string | null }, p: Project) => listBackups(p.layout).find((b) => b.session_id === r.session_id)!.id;

test("the backup holds exactly the declared scope; mcp_server is taken by the swap's rename, not copied", async () => {
  const p = makeProject();
  const liveIno = fs.statSync(path.join(p.layout.installDir, "mcp_server/__init__.py")).ino;
  const r = await upgrade(p, 1);
  assert.is(r.status, "completed", JSON.stringify(r.error));
  const id = backupIdOf(r, p);
  const dir = path.join(p.layout.backupsDir, id);
  const m = readManifest(dir);
  const rel = path.relative(p.layout.installDir, edited(p));
  assert.equal(Object.keys(m.roots).sort(), [`install/${rel}`, "install/UPDATE_LOG.txt", "install/standards/universal/new-1/added.md"].sort());
  assert.equal(m.missing, ["install/standards/universal/new-1/added.md"]);
  assert.equal(m.file_count, 2);
  assert.equal(Object.keys(m.moved), ["install/mcp_server"]);
  // The old server folder is in the backup by rename: the same inode as the live file had.
  assert.is(fs.statSync(path.join(dir, "install/mcp_server/__init__.py")).ino, liveIno);
  assert.not.ok(fs.existsSync(path.join(dir, "install/venv")), "the venv is not in scope");
  assert.not.ok(fs.existsSync(path.join(dir, "install/workflows")), "untouched content is not in scope");
  fs.rmSync(p.root, { recursive: true, force: true });
});

test("rollback --to the oldest of three upgrades undoes them newest first, exactly", async () => {
  const p = makeProject();
  const before = snapshotTree(p.root, { skip: ownRecords });
  const ids: string[] = [];
  for (const n of [1, 2, 3]) {
    const r = await upgrade(p, n);
    assert.is(r.status, "completed", JSON.stringify(r.error));
    ids.push(backupIdOf(r, p));
  }
  assert.match(fs.readFileSync(p.layout.updateLog, "utf8"), /upgrade 3\n$/);
  const rb = await rollbackTo(p, ids[0]);
  assert.is(rb.exitCode, 0, JSON.stringify(rb.outcome.rollbackError));
  assert.equal(diffTrees(before, snapshotTree(p.root, { skip: ownRecords })), []);
  assert.equal(rb.outcome.status, "rolled_back");
  fs.rmSync(p.root, { recursive: true, force: true });
});

test("stopped between the two renames of the server swap: the rollback puts the old folder back exactly", async () => {
  const p = makeProject();
  const before = snapshotTree(p.root, { skip: ownRecords });
  const r = await upgrade(p, 1, "swap");
  assert.is(r.status, "rolled_back", JSON.stringify(r.error));
  assert.equal(diffTrees(before, snapshotTree(p.root, { skip: ownRecords })), []);
  fs.rmSync(p.root, { recursive: true, force: true });
});

test("five upgrades and two failed ones with keep 3 leave exactly the newest 3 backups", async () => {
  const p = makeProject({ venv: false });
  const made: string[] = [];
  for (const [n, fail] of [[1, null], [2, 2], [3, null], [4, null], [5, "swap"], [6, null], [7, null]] as Array<[number, Fail]>) {
    const r = await upgrade(p, n, fail);
    assert.is(r.status, fail ? "rolled_back" : "completed", JSON.stringify(r.error));
    made.push(backupIdOf(r, p));
  }
  assert.equal(listBackups(p.layout).map((b) => b.id), made.slice(-3).reverse());
  fs.rmSync(p.root, { recursive: true, force: true });
});

test.run();
