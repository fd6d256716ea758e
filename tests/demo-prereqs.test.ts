// The demo's prerequisites: with python3 off PATH the demo names it (and what it is for) and
// stops before creating anything, instead of an INTERNAL error halfway.
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { EXIT } from "../core/errors.ts";
import { checkPrerequisites } from "../demo/run.ts";
import { runCli } from "./helpers/cli.ts";
import { removeTemps, tmpDir } from "./helpers/temp.ts";

const which = (name: string) => execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();

test("demo with python3 off PATH: exit 4, one line naming python3 and why, no sandbox created", async () => {
  const root = tmpDir("demo-prereqs");
  const bin = path.join(root, "bin");
  fs.mkdirSync(bin);
  for (const tool of ["git", "tar"]) fs.symlinkSync(which(tool), path.join(bin, tool));
  const tmp = path.join(root, "tmp");
  fs.mkdirSync(tmp);
  const env: Record<string, string> = { PATH: bin, TMPDIR: tmp };
  const r = await runCli(["demo"], { cwd: root, env: { ...env, AOU_TEST_PYTHON: "python3" }, timeoutMs: 120_000 });
  assert.is(r.code, EXIT.preflight, r.stdout + r.stderr);
  const out = r.stdout + r.stderr;
  assert.match(out, /Cannot run the demo: missing python3 \(the Agent OS MCP server runs in a Python venv\)/);
  assert.match(out, /python3-venv/);
  assert.not.match(out, /INTERNAL|This is a bug/);
  assert.equal(fs.readdirSync(tmp).filter((n) => n.startsWith("agent-os-upgrade-demo-")), [], "no sandbox");
});

test("each missing prerequisite is named with what it is for; python3's modules only when python3 runs", () => {
  const missing = (absent: string[]) => {
    try {
      checkPrerequisites((argv) => !absent.some((a) => argv.join(" ").includes(a)));
      return "";
    } catch (err) {
      return (err as Error).message;
    }
  };
  assert.is(missing([]), "");
  assert.is(missing(["tar"]), "Cannot run the demo: missing tar (the Agent OS releases ship as .tar.gz)");
  assert.is(missing(["ensurepip"]), "Cannot run the demo: missing python3's venv and pip (ensurepip) (the demo builds that venv and installs the server's packages)");
  assert.is(missing(["git", "python3"]), "Cannot run the demo: missing git (the demo's source checkout is a git repository); python3 (the Agent OS MCP server runs in a Python venv)");
});

test.after(removeTemps);
test.run();
