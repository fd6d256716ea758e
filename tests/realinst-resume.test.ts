// `resume` takes the run flags `upgrade` takes (--skip-deps, --no-restart, --no-validate), and
// the ones given override what the interrupted session saved; the others keep the saved values.
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { REPO, runCli, startCli } from "./helpers/cli.ts";
import { makeProject, makeSource } from "./helpers/project.ts";
import { tmpDir } from "./helpers/temp.ts";
import { waitForFile } from "./helpers/wait.ts";

function writeConfig(projectDir: string, optionsFile: string) {
  fs.writeFileSync(path.join(projectDir, "upgrade.config.ts"), `import { builtinPlugins } from ${JSON.stringify(path.join(REPO, "plugins/mod.ts"))};
import { fakePhases } from ${JSON.stringify(path.join(REPO, "tests/helpers/fake-phases.ts"))};
import { DEPS_RUN_OPTIONS } from ${JSON.stringify(path.join(REPO, "plugins/deps/run-options.ts"))};
import { SERVER_RUN_OPTIONS } from ${JSON.stringify(path.join(REPO, "plugins/server/run-options.ts"))};
import { VALIDATE_RUN_OPTIONS } from ${JSON.stringify(path.join(REPO, "plugins/validate/run-options.ts"))};
import fs from "node:fs";
// The plugins that own these options are disabled (they would swap and probe a real server):
// the recorder declares the same options, so the flags reach a plugin of this run.
export default {
  disable: builtinPlugins().map((p) => p.name).filter((n) => n !== "preflight" && n !== "report"),
  plugins: [
    fakePhases(),
    { name: "options-recorder", options: { ...DEPS_RUN_OPTIONS, ...SERVER_RUN_OPTIONS, ...VALIDATE_RUN_OPTIONS }, apply(h) { h.validate.tap((ctx) => { fs.writeFileSync(${JSON.stringify(optionsFile)}, JSON.stringify(ctx.options)); }); } },
  ],
};
`);
}

test("resume --skip-deps --no-validate overrides the session's flags; --no-restart left out keeps the saved one", async () => {
  const root = tmpDir("aou-realinst-resume-");
  try {
    const src = makeSource(path.join(root, "src"));
    const proj = makeProject(path.join(root, "proj"));
    const recorded = path.join(root, "options.json");
    writeConfig(proj.dir, recorded);
    const pause = path.join(root, "paused");
    const { child, done } = startCli(["--source", src.dir, "--no-restart"], {
      cwd: proj.dir,
      env: { AOU_PAUSE_AT: "applyContent", AOU_PAUSE_FILE: pause, AOU_RELEASE_FILE: path.join(root, "never") },
      timeoutMs: 120_000,
    });
    await waitForFile(pause, 120_000);
    child.kill("SIGKILL");
    await done;
    const resumed = await runCli(["resume", "--skip-deps", "--no-validate", "--json"], { cwd: proj.dir, timeoutMs: 120_000 });
    assert.is(resumed.code, 0, resumed.stdout + resumed.stderr);
    const o = JSON.parse(fs.readFileSync(recorded, "utf8"));
    assert.equal([o.plugin.skipDeps, o.plugin.noValidate, o.plugin.restart], [true, true, false]);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test.run();
