/**
 * The commands that act on an installation, run in a folder that has none: one line naming
 * the folder and the fix, exit 4 (pre-flight refused), nothing written, never INTERNAL.
 */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { resultOf, runCli } from "./helpers/cli.ts";
import { tmpDir } from "./helpers/temp.ts";

const test = suite("no-install");

const COMMANDS: string[][] = [["rollback"], ["resume"], ["status"], ["backups"], ["backups", "list"], ["backups", "prune"], ["backups", "verify", "2025-01-01-000000"]];

const line = (dir: string) =>
  `Error [PREFLIGHT_FAILED]: No Agent OS installation at ${path.join(dir, ".agent-os")}: run this in the project that holds .agent-os/ (or .praxis-os/), or pass --target <project>`;

for (const args of COMMANDS) {
  test(`${args.join(" ")} in a folder without an install: one line, exit 4, nothing written`, async () => {
    const dir = fs.realpathSync(tmpDir("noinstall"));
    fs.writeFileSync(path.join(dir, "README.md"), "not an Agent OS project\n");
    const r = await runCli(args, { cwd: dir });
    assert.is(r.code, 4, r.stderr);
    assert.is(r.stdout, "");
    assert.equal(r.stderr.split("\n").filter(Boolean), [line(dir)]);
    assert.equal(fs.readdirSync(dir), ["README.md"]);
  });
}

test("--target naming a folder without an install, with --json: the same error as a JSON result", async () => {
  const dir = fs.realpathSync(tmpDir("noinstall"));
  const project = path.join(dir, "elsewhere");
  fs.mkdirSync(project);
  const r = await runCli(["rollback", "--json", "--target", project], { cwd: dir });
  assert.is(r.code, 4);
  const res = resultOf(r);
  assert.is(res.exit_code, 4);
  assert.is(res.error.code, "PREFLIGHT_FAILED");
  assert.is(res.error.message, line(project).replace("Error [PREFLIGHT_FAILED]: ", ""));
  assert.equal(fs.readdirSync(project), []);
});

test.run();
