/**
 * Issue 20 item 6, the last case: a signal in phase 4 after the real MCP check passed rolls
 * back (exit 7, the tree exactly old, no lock), as the README says for phases 2–4. A real
 * upgrade with a real venv and MCP server; a test plugin (helpers/after-check-pause.ts) holds
 * phase 4 once the validate plugin's MCP check passed and its report exists.
 */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { REPO, resultOf, startCli } from "./helpers/cli.ts";
import { createUpgradeProject } from "./helpers/mcp-upgrade-project.ts";
import { waitForFile } from "./helpers/wait.ts";

const test = suite("reliability-signal");

const skip = (rel: string) => /^\.agent-os\/(\.backups|\.cache|\.upgrade-lock)(\/|$)|(^|\/)__pycache__(\/|$)/.test(rel);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  test(`${signal} in phase 4 after the MCP check passed: rolled back, exit 7, the tree exactly old, no lock`, async () => {
    const p = await createUpgradeProject();
    try {
      const config = path.join(p.project, "upgrade.config.ts");
      fs.writeFileSync(config, fs.readFileSync(config, "utf8")
        .replace("export default {", `import pause from ${JSON.stringify(path.join(REPO, "tests/helpers/after-check-pause.ts"))};\nexport default {`)
        .replace("plugins: [", "plugins: [\n    pause,"));
      const before = snapshotTree(p.project, { skip });
      const paused = path.join(p.root, "paused");
      const release = path.join(p.root, "release");
      const { child, done } = startCli(["--source", p.source, "--on-conflict", "merge", "--json"], {
        cwd: p.project,
        env: { AOU_PAUSE_FILE: paused, AOU_RELEASE_FILE: release },
        timeoutMs: 240_000,
      });
      await waitForFile(paused, 200_000);
      const reports = fs.readdirSync(path.join(p.install, ".cache")).filter((n) => n.startsWith("upgrade-validation-"));
      assert.is(reports.length, 1, "the MCP check ran before the hold");
      const report = JSON.parse(fs.readFileSync(path.join(p.install, ".cache", reports[0]), "utf8"));
      assert.equal(report.problems, [], "and passed");
      process.kill(child.pid!, signal);
      await new Promise((r) => setTimeout(r, 300));
      fs.writeFileSync(release, "");
      const r = await done;
      assert.is(r.code, 7, r.stdout + r.stderr);
      const res = resultOf(r);
      assert.is(res.status, "rolled_back");
      assert.is(res.error.message, `Cannot continue: interrupted by ${signal}`);
      assert.equal(diffTrees(before, snapshotTree(p.project, { skip })), [], "the tree is exactly the old one");
      assert.not.ok(fs.existsSync(path.join(p.install, ".upgrade-lock")), "no lock");
    } finally {
      p.cleanup();
    }
  });
}

test.run();
