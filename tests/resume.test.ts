/** A process killed between phases: status says so, a new upgrade is refused, `resume` completes the rest. */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { StateStore } from "../core/state.ts";
import { resultOf, runCli, startCli } from "./helpers/cli.ts";
import { writeFakeConfig } from "./helpers/config-files.ts";
import { makeProject, makeSource, tmpDir } from "./helpers/project.ts";
import { waitForPid } from "./helpers/wait.ts";

const test = suite("resume");

test("killed with SIGKILL after phase 2: resume re-takes the lock and runs phases 3–5 only", async () => {
  const root = tmpDir();
  const src = makeSource(path.join(root, "src"));
  const proj = makeProject(path.join(root, "proj"));
  writeFakeConfig(proj.dir);
  const pause = path.join(root, "paused");
  const record = path.join(root, "record");
  const { child, done } = startCli(["--source", src.dir], {
    cwd: proj.dir,
    env: { AOU_PAUSE_AT: "upgradeServer", AOU_PAUSE_FILE: pause, AOU_RELEASE_FILE: path.join(root, "never"), AOU_RECORD: record },
  });
  const pid = await waitForPid(pause);
  child.kill("SIGKILL");
  await done;

  const store = new StateStore(path.join(proj.install, ".cache/state"));
  const [entry] = store.list();
  const id = entry.state!.session_id;
  assert.is(entry.state!.status, "in_progress");
  assert.equal(entry.state!.completed_phases, [0, 1, 2]);
  assert.is(entry.state!.current_phase, 3);

  const resumed = await runCli(["resume", "--json"], { cwd: proj.dir, env: { AOU_RECORD: record } });
  assert.is(resumed.code, 0, resumed.stdout + resumed.stderr);
  const res = resultOf(resumed);
  assert.is(res.status, "completed");
  assert.is(res.session_id, id);
  assert.match(resumed.stdout, `Took over the stale lock of session ${id} (pid ${pid} is no longer running)`);
  const calls = fs.readFileSync(record, "utf8").trim().split("\n").map((l) => l.split(" ")[0]);
  // First run: the plan, backup, applyContent, upgradeServer (killed there). Resume: phase 3
  // again, then 4; phase 2 is done, so no plan is built again.
  assert.equal(calls, ["planContent", "backup", "applyContent", "upgradeServer", "upgradeServer", "validate"]);
  const final = store.load(id);
  assert.is(final.status, "completed");
  assert.equal(final.completed_phases, [0, 1, 2, 3, 4, 5]);
  assert.is(final.phases["3"].attempts, 2);
  assert.is(fs.existsSync(path.join(proj.install, ".upgrade-lock")), false);

  const nothing = await runCli(["resume"], { cwd: proj.dir });
  assert.is(nothing.code, 9);
  assert.match(nothing.stderr, "Cannot resume: no unfinished session");
});

test("resume refuses while the session's owner is still alive", async () => {
  const root = tmpDir();
  const src = makeSource(path.join(root, "src"));
  const proj = makeProject(path.join(root, "proj"));
  writeFakeConfig(proj.dir);
  const pause = path.join(root, "paused");
  const release = path.join(root, "release");
  const run = startCli(["--source", src.dir], { cwd: proj.dir, env: { AOU_PAUSE_AT: "validate", AOU_PAUSE_FILE: pause, AOU_RELEASE_FILE: release } });
  const pid = await waitForPid(pause);
  const r = await runCli(["resume"], { cwd: proj.dir });
  assert.is(r.code, 5);
  assert.match(r.stderr, `pid ${pid}`);
  fs.writeFileSync(release, "");
  const end = await run.done;
  assert.is(end.code, 0, end.stderr);
});

test.run();
