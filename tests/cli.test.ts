/** CLI surface: usage errors are one line plus the hint, exit 2, no stack trace; --help and --version. */
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { resultOf, runCli } from "./helpers/cli.ts";
import { writeFakeConfig } from "./helpers/config-files.ts";
import { makeProject, makeSource, tmpDir } from "./helpers/project.ts";

const test = suite("cli");

const usage: Array<[string[], string]> = [
  [["--bogus"], "agent-os-upgrade: unknown option '--bogus'"],
  [["--on-conflict", "sometimes"], "agent-os-upgrade: option '--on-conflict <policy>' argument 'sometimes' is invalid. Allowed choices are ask, keep, theirs, merge, skip, abort."],
  [["--keep-backups", "zero"], "agent-os-upgrade: option '--keep-backups <n>' argument 'zero' is invalid. expected a whole number of at least 1"],
  [["frobnicate", "x"], "agent-os-upgrade: unknown command 'frobnicate'"],
];

for (const [args, line] of usage) {
  test(`usage error: ${args.join(" ")}`, async () => {
    const proj = makeProject(path.join(tmpDir(), "p"));
    const r = await runCli(args, { cwd: proj.dir });
    assert.is(r.code, 2);
    assert.equal(r.stderr.trim().split("\n"), [line, "Run `agent-os-upgrade --help` for usage"]);
    assert.is(r.stdout, "");
  });
}

test("--diff without --dry-run is a usage error", async () => {
  const proj = makeProject(path.join(tmpDir(), "p"));
  const r = await runCli(["--diff", "--source", "."], { cwd: proj.dir });
  assert.is(r.code, 2);
  assert.match(r.stderr, "Error [USAGE]: Cannot use --diff without --dry-run");
});

test("--json usage errors are a JSON result with the usage code", async () => {
  const proj = makeProject(path.join(tmpDir(), "p"));
  const r = await runCli(["--json", "--nope"], { cwd: proj.dir });
  assert.is(r.code, 2);
  const res = resultOf(r);
  assert.is(res.schema_version, 1);
  assert.is(res.error.code, "USAGE");
});

test("--help lists the commands; --version prints the version", async () => {
  const r = await runCli(["--help"], { cwd: tmpDir() });
  assert.is(r.code, 0);
  for (const c of ["upgrade", "resume", "rollback", "status", "unlock", "init"]) assert.match(r.stdout, c);
  const v = await runCli(["--version"], { cwd: tmpDir() });
  assert.is(v.code, 0);
  assert.match(v.stdout, /^\d+\.\d+\.\d+/);
});

test("\"Upgrade completed in X\" is the process's wall time: a delay before the run starts is in it", async () => {
  const root = tmpDir();
  const src = makeSource(path.join(root, "src"));
  const proj = makeProject(path.join(root, "proj"));
  // Loading the config blocks for DELAY_MS before the upgrader starts: no phase contains it.
  const DELAY_MS = 1500;
  writeFakeConfig(proj.dir, `Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${DELAY_MS});`);
  const r = await runCli(["--source", src.dir], { cwd: proj.dir });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const m = /^Upgrade completed in (\d+) ms|^Upgrade completed in ([\d.]+) s/m.exec(r.stdout);
  assert.ok(m, r.stdout);
  const shown = m![1] !== undefined ? Number(m![1]) : Number(m![2]) * 1000;
  // Only a lower bound: a busy machine makes the run longer, never shorter. ("1.5 s" is 1500 rounded down at worst.)
  assert.ok(shown >= DELAY_MS, `summary says ${shown} ms, the config alone took ${DELAY_MS} ms:\n${r.stdout}`);
});

test.run();
