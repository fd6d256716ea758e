// Runs the uvu suites on Deno and/or Node and prints the closing line CI reads.
// uvu's own summary is not a line CI understands and it exits 0 when nothing ran, so this
// wrapper parses its totals, prints `N passed, N failed, N skipped` last, and fails on
// zero tests or on any failure (including a suite that crashed while loading).
// Each runtime gets a fresh private TMPDIR: whatever `aou-*` folder is left in it when the
// run ends is a temp folder a test (or the tool) made and did not remove, and fails the run.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const which = args[0] && !args[0].startsWith("-") && ["node", "deno", "both"].includes(args[0]) ? args.shift()! : "both";
const pattern = args[0] ?? "\\.test\\.ts$";
const runtimes = which === "both" ? ["deno", "node"] : [which];
// uvu has no per-test timeout: a hung test would hang CI. Past this, the run is killed and failed.
// Side by side, each runtime's wall time is the whole run's: CI's own limit is 90 min for install and both.
const LIMIT_MS = Number(process.env.AOU_TEST_LIMIT_MS ?? 55 * 60_000);

type Tally = { passed: number; failed: number; skipped: number };

/** Our temp-folder prefixes: tests and helpers use `aou-`, the demo its sandbox name. */
const OURS = /^(aou-|agent-os-upgrade-demo-)/;

const ours = (dir: string): string[] => fs.readdirSync(dir).filter((n) => OURS.test(n)).sort();

/** Runs one runtime's suites in a private TMPDIR; a temp folder left behind counts as a failure. */
async function runInPrivateTmp(runtime: string): Promise<Tally> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `aou-test-run-${runtime}-`));
  try {
    const before = ours(tmp);
    const tally = await runOne(runtime, tmp);
    const leaked = ours(tmp).filter((n) => !before.includes(n));
    console.log(`${runtime}: ${leaked.length} temp folder(s) left behind in ${tmp}`);
    if (leaked.length === 0) return tally;
    for (const n of leaked.slice(0, 30)) console.log(`  leaked: ${n}`);
    return { ...tally, failed: tally.failed + 1 };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Both runtimes run side by side: most of a test's time is one child process at a time (git,
 * a venv, pip, a server), so one runtime's suite leaves the second core mostly idle. Each
 * runtime's output is held and printed whole when it ends (its lines would interleave); the
 * TMPDIRs are private and servers take port 0, so the two runs share nothing.
 */
const SIDE_BY_SIDE = runtimes.length > 1 && process.env.AOU_TEST_SERIAL !== "1";

function runOne(runtime: string, tmp: string): Promise<Tally> {
  const uvu = path.join(root, "node_modules/uvu/bin.js");
  const cmd = runtime === "node" ? process.execPath : path.join(root, "node_modules/.bin/deno");
  const argv = runtime === "node"
    ? ["--import", "tsx", uvu, "tests", pattern, "--no-color"]
    : ["run", "-A", uvu, "tests", pattern, "--no-color"];
  // Deno would otherwise try to reach a registry; node_modules is already installed.
  const env = { ...process.env, TMPDIR: tmp, AOU_TEST_RUNTIME: runtime, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" };
  return new Promise((resolve) => {
    const child = spawn(runtime === "node" ? process.execPath : cmd, argv, { cwd: root, env, stdio: ["ignore", "pipe", "inherit"], detached: true });
    let out = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, "SIGKILL"); // the whole group: test servers and child CLIs too
      } catch { /* already gone */ }
    }, LIMIT_MS);
    // The child leads its own group (so the timeout can kill everything it started); pass on a Ctrl-C.
    const onInt = () => {
      try {
        process.kill(-child.pid!, "SIGINT");
      } catch { /* gone */ }
    };
    process.once("SIGINT", onInt);
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      if (!SIDE_BY_SIDE) process.stdout.write(b);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      process.off("SIGINT", onInt);
      if (SIDE_BY_SIDE) process.stdout.write(`\n== ${runtime} ==\n${out}`);
      if (timedOut) {
        // What ran still counts: the suites uvu finished and the marks of the one it was in.
        const ran = tallySoFar(out);
        console.log(`\n${runtime}: the test run passed its limit of ${LIMIT_MS / 60_000} min and was killed (counted as one more failure)`);
        console.log(`${runtime}: ${ran.passed} passed, ${ran.failed + 1} failed, ${ran.skipped} skipped`);
        resolve({ ...ran, failed: ran.failed + 1 });
        return;
      }
      const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? NaN);
      const passed = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? NaN);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
      if (!Number.isFinite(total) || !Number.isFinite(passed)) {
        const ran = tallySoFar(out);
        console.log(`\n${runtime}: the test run ended (exit ${code}) without a summary (counted as one more failure)`);
        console.log(`${runtime}: ${ran.passed} passed, ${ran.failed + 1} failed, ${ran.skipped} skipped`);
        resolve({ ...ran, failed: ran.failed + 1 });
        return;
      }
      let failed = total - passed;
      if (code !== 0 && failed === 0) failed = 1; // a crash after the summary still fails the run
      console.log(`${runtime}: ${passed} passed, ${failed} failed, ${skipped} skipped`);
      resolve({ passed, failed, skipped });
    });
  });
}

/**
 * The tests that ran, from uvu's per-suite lines: ` name  • ✘ •   (2 / 3)` (or without the
 * name, for uvu's default suite) once a suite ends, and the marks so far (• passed, ✘ failed)
 * on the line of the one cut off.
 */
function tallySoFar(out: string): Tally {
  const t: Tally = { passed: 0, failed: 0, skipped: 0 };
  for (const line of out.split("\n")) {
    // A named suite's line starts with its name; uvu's default suite has none.
    const done = /^(?: \S+ {2})?[•✘][•✘ ]*\((\d+) \/ (\d+)\)\s*$/.exec(line);
    const cut = done ? null : /^(?: \S+ {2})?([•✘][•✘ ]*)/.exec(line);
    if (done) {
      t.passed += Number(done[1]);
      t.failed += Number(done[2]) - Number(done[1]);
    } else if (cut) {
      t.passed += (cut[1].match(/•/g) ?? []).length;
      t.failed += (cut[1].match(/✘/g) ?? []).length;
    }
  }
  return t;
}

const sum: Tally = { passed: 0, failed: 0, skipped: 0 };
const started = Date.now();
if (SIDE_BY_SIDE) console.log(`running ${runtimes.join(" and ")} side by side; each one's output follows when it ends (AOU_TEST_SERIAL=1: one after the other)`);
const tallies: Tally[] = [];
if (SIDE_BY_SIDE) tallies.push(...(await Promise.all(runtimes.map((rt) => runInPrivateTmp(rt)))));
else for (const rt of runtimes) tallies.push(await runInPrivateTmp(rt));
for (const t of tallies) {
  sum.passed += t.passed; sum.failed += t.failed; sum.skipped += t.skipped;
}
console.log(`${runtimes.join(" + ")}: ${Math.round((Date.now() - started) / 1000)} s`);
if (sum.passed + sum.failed === 0) sum.failed = 1; // zero tests is a failure, not a pass
console.log(`${sum.passed} passed, ${sum.failed} failed, ${sum.skipped} skipped`);
process.exit(sum.failed === 0 ? 0 : 1);
