/**
 * A disk that fills up during phases 2–4 (issue 20 item 2): the fault injector's `diskfull`
 * mode makes every call that needs new blocks fail with ENOSPC from the chosen call on (what
 * deletions free can be used again), as a real full disk does. The rollback must need no new
 * space: it frees the space set aside before phase 2, restores by links from the backup when
 * a copy does not fit, and ends exit 7 with one line, the tree exactly old, no lock, no temp
 * file, no INTERNAL. Node only: the injector hooks node:fs through Node's --import.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { RUNTIME } from "./helpers/cli.ts";
import { lastResult, makeTemplate, runFaulted, tempFiles, treeDiff, treeHash, UPGRADE } from "./helpers/crash.ts";

const test = suite("crash-diskfull");
const roots: string[] = [];
test.after.each(() => {
  for (const d of roots.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** Calls that need new blocks (the ones a full disk refuses). */
const NEEDS_SPACE = /^(writeFileSync|appendFileSync|copyFileSync|writeSync|openSync|mkdirSync|mkdtempSync|writeFile|mkdir)$/;

/**
 * A template whose upgrade replaces a 3 MiB file (more than the 2 MiB set aside for the
 * rollback: restoring it by copy cannot fit), and the write points of phases 2–4: the calls
 * on the project that need space, from the first content write to the lock's move to phase 5.
 */
function prepare(root: string) {
  const t = makeTemplate(root);
  fs.appendFileSync(path.join(t.project, ".agent-os/standards/universal/testing/unit.md"), "x".repeat(3 * 1048576));
  const probe = path.join(root, "probe");
  fs.cpSync(t.project, probe, { recursive: true });
  return { t, probe };
}

if (RUNTIME === "node") {
  test("a full disk at every write point of phases 2–4 rolls back: exit 7, one line, tree exactly old, no lock, no temp file, no INTERNAL", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "aou-diskfull-"));
    roots.push(root);
    const { t, probe } = prepare(root);
    const trace = path.join(root, "trace");
    const clean = await runFaulted(UPGRADE(t.source, t.config), probe, { AOU_FAULT_MATCH: `^${escape(fs.realpathSync(probe))}/`, AOU_FAULT_TRACE: trace });
    assert.is(clean.code, 0, clean.stdout + clean.stderr);
    const calls = fs.readFileSync(trace, "utf8").trim().split("\n").map((l) => l.split(" "));
    const first = calls.findIndex(([, , p]) => /\/standards\/universal\/.*\.tmp$/.test(p));
    const phase5 = calls.findIndex(([, , p]) => /\/\.upgrade\/\.installed-manifest\.json\..*\.tmp$/.test(p));
    let end = phase5;
    while (end > first && !/upgrade-lock\..*\.tmp$/.test(calls[end][2])) end--; // the lock's move to phase 5
    const points = calls.slice(first, end).filter(([, name]) => NEEDS_SPACE.test(name)).map(([n]) => Number(n));
    assert.ok(first > 0 && points.length >= 10, `write points: ${points.length} (first ${first}, end ${end})`);

    let linked = 0;
    for (const k of points) {
      const dir = path.join(root, `at-${k}`);
      fs.cpSync(t.project, dir, { recursive: true });
      const before = treeHash(dir, false);
      const r = await runFaulted(UPGRADE(t.source, t.config), dir, { AOU_FAULT_KIND: "diskfull", AOU_FAULT_MATCH: `^${escape(fs.realpathSync(dir))}/`, AOU_FAULT_AT: String(k) });
      const what = `disk full from call ${k} (${calls[k - 1].slice(1).join(" ")}): ${r.stdout}${r.stderr}`;
      const res = lastResult(r.stdout);
      // The numbering of a run can differ from the traced one by a call or so: the last point
      // may land on phase 5's first record. Then phases 2–4 completed, and the failure is named.
      if (k === points[points.length - 1] && res.phases[5].status === "failed" && res.phases[4].status === "completed") {
        assert.is(r.code, 1, what);
        assert.is(res.error.code, "STATE_WRITE_FAILED", what);
        assert.match(res.error.message, /ENOSPC: no space left on device/, what);
        assert.not.match(r.stdout + r.stderr, "INTERNAL", what);
        continue;
      }
      assert.is(r.code, 7, what);
      assert.is(res.status, "rolled_back", what);
      assert.match(res.error.message, /ENOSPC: no space left on device/, what);
      assert.not.match(res.error.message, "\n", what);
      assert.equal(res.secondary_errors, [], what);
      assert.not.match(r.stdout + r.stderr, "INTERNAL", what);
      assert.equal(treeDiff(before, treeHash(dir, false)), [], what);
      assert.is(fs.existsSync(path.join(dir, ".agent-os/.upgrade-lock")), false, what);
      assert.equal(tempFiles(dir), [], what);
      assert.is(fs.existsSync(path.join(dir, ".agent-os/.cache/rollback-reserve")), false, what);
      const state = JSON.parse(fs.readFileSync(path.join(dir, ".agent-os/.cache/state", `${res.session_id}.json`), "utf8"));
      assert.is(state.status, "rolled_back", what);
      assert.is(state.rollback.status, "completed", what);
      if (state.rollback.evidence.staged_by === "link") linked++;
      fs.rmSync(dir, { recursive: true, force: true });
    }
    // Once the 3 MiB file was replaced, its restore cannot fit by copy: it was linked.
    assert.ok(linked > 0, "no rollback restored by link");
  });
}

test.run();
