/**
 * Issue 19 (6): the recipes in docs/recipes, run as their engines run them, offline, with the
 * real CLI (a shim named `agent-os-upgrade` on PATH) on the runtime under test.
 * - Renovate: the recipe's regex manager reads the VERSION.txt our CLI wrote; its
 *   postUpgradeTasks, filled in as Renovate fills them, pass the recipe's allow-list and run
 *   in a fresh clone with Renovate's small environment and no stdin, after Renovate's own
 *   edit of the digest. (Renovate itself: tests/recipes-engines.test.ts, `npm run test:recipes`.)
 * - multi-gitter / turbolift: run.sh on a fleet (behind, up to date, no install, refused),
 *   started as multi-gitter starts it (exec, cwd = the clone, REPOSITORY, DRY_RUN).
 * - GitHub Actions: the workflow's steps executed in order with GitHub's shell, outputs and
 *   `if:` conditions, in three states (behind, up to date, cannot tell).
 */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { runCli } from "./helpers/cli.ts";
import { git, removeTemps } from "./helpers/content-project.ts";
import { makeFleet } from "./helpers/fleet-project.ts";
import {
  adoptedProject, botClone, changes, cliShim, extractCombination, fillTemplate, managerReads, parsedCall, pythonTrap, readRecipe, recipe, recordSource,
  renovateManager, runProgram,
} from "./helpers/recipes-kit.ts";
import { runWorkflow, workflowCliLines } from "./helpers/recipes-workflow.ts";

const test = suite("recipes");

// ---- Renovate ----

test("renovate: the regex manager reads source, ref and commit from the VERSION.txt our CLI wrote, and only from install records", async () => {
  const f = makeFleet("rn-read");
  const r = await runCli(["--ci", "--source", f.url, "--ref", "main"], { cwd: f.project, env: f.env, timeoutMs: 120_000 });
  assert.is(r.code, 0, r.stderr);
  const m = renovateManager();
  assert.is(m.customType, "regex");
  assert.is(m.matchStringsStrategy, "combination");
  assert.is(m.datasourceTemplate, "git-refs");
  const text = fs.readFileSync(path.join(f.install, "VERSION.txt"), "utf8");
  assert.equal(extractCombination(m, text), { depName: "agent-os", packageName: f.url, currentValue: "main", currentDigest: f.commits[1] });
  // The lines may come in any order (existing ones keep their place): the same dependency.
  const shuffled = text.trim().split("\n").reverse().join("\n") + "\n";
  assert.equal(extractCombination(m, shuffled), { depName: "agent-os", packageName: f.url, currentValue: "main", currentDigest: f.commits[1] });
  // An install upstream's installer made (commit= only) is no dependency: nothing says where from.
  assert.is(extractCombination(m, `version=1.0\ncommit=${f.commits[0]}\n`), null);
  // A line that only ends in a key is not that key.
  assert.is(extractCombination(m, `version=1.0\nxsource=${f.url}\ncommit=${f.commits[0]}\n`), null);
  // Renovate puts these values into a shell command: a value with a shell character is no dependency at all.
  assert.is(extractCombination(m, `commit=${f.commits[0]}\nsource=${f.url};touch pwned\nref=main\n`), null);
  assert.equal(extractCombination(m, `commit=${f.commits[0]}\nsource=${f.url}\nref=main$(touch pwned)\n`)?.currentValue, undefined);
  for (const p of [".agent-os/VERSION.txt", ".praxis-os/VERSION.txt", "apps/web/.agent-os/VERSION.txt"]) assert.ok(managerReads(m, p), p);
  for (const p of ["VERSION.txt", "docs/VERSION.txt", ".agent-os/VERSION.txt.bak", "x.agent-os/VERSION.txt"]) assert.not.ok(managerReads(m, p), p);
  removeTemps();
});

interface RenovateCase {
  clone: string;
  fields: Record<string, string>;
  env: Record<string, string>;
  marker: string;
  from: string;
  to: string;
  url: string;
  bare: string;
}

/**
 * A fresh clone, after Renovate's own edit (commit= old → new digest), of a project that
 * adopted the tool (`adopted`: the CLI wrote the record and the manifest; upstream then moved
 * on) or whose record was written by hand (no manifest).
 */
async function renovateClone(label: string, adopted: boolean): Promise<RenovateCase> {
  const f = makeFleet(label);
  let from = f.commits[0];
  if (adopted) from = (await adoptedProject(f, (args, cwd) => runCli(args, { cwd, env: f.env, timeoutMs: 120_000 }))).installed;
  else recordSource(f.project, f.url, "main");
  const clone = botClone(f, "renovate-repo");
  const file = path.join(clone, ".agent-os", "VERSION.txt");
  const dep = extractCombination(renovateManager(), fs.readFileSync(file, "utf8"))!;
  assert.equal(dep, { depName: "agent-os", packageName: f.url, currentValue: "main", currentDigest: from });
  // What the git-refs datasource reports for the branch: the upstream's commit.
  const newDigest = git(f.root, "ls-remote", f.url, "refs/heads/main").split("\t")[0];
  assert.is.not(newDigest, from);
  fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(`commit=${dep.currentDigest}`, `commit=${newDigest}`));
  const home = path.join(f.root, "home");
  fs.mkdirSync(home);
  const marker = path.join(f.root, "python-ran");
  const shim = cliShim(f.root);
  // Renovate's child processes get a small environment (HOME, PATH, LANG, proxies), not the bot's.
  const env = { HOME: home, PATH: [pythonTrap(f.root, marker), shim.bin, process.env.PATH].join(path.delimiter), LANG: "C.UTF-8" };
  const fields = { packageFile: ".agent-os/VERSION.txt", packageFileDir: ".agent-os", ...dep, newDigest };
  return { clone, fields, env, marker, from, to: newDigest, url: f.url, bare: f.bare };
}

const postUpgrade = () => (JSON.parse(readRecipe("renovate/renovate.json")).packageRules[0].postUpgradeTasks as { commands: string[]; fileFilters: string[] });
const allowList = () => (JSON.parse(readRecipe("renovate/config.json")).allowedCommands as string[]).map((s) => new RegExp(s));
/**
 * Renovate's check (execute-post-upgrade-commands.ts): some allowedCommands regex matches the
 * command — as written, before its templates are filled, up to Renovate 39 at least; filled
 * in, in Renovate 44. The recipe's list has an entry for each form.
 */
const allowed = (cmd: string) => allowList().some((r) => r.test(cmd));

test("renovate: postUpgradeTasks as Renovate runs them (fresh clone, no stdin, its small env, after its digest edit): the CI mode, the PR notes; no Python", async () => {
  const c = await renovateClone("rn-post", true);
  const tasks = postUpgrade();
  const commands = tasks.commands.map((cmd) => fillTemplate(cmd, c.fields));
  for (const cmd of [...tasks.commands, ...commands]) assert.ok(allowed(cmd), `allowed by config.json: ${cmd}`);
  // A repository cannot append to an allowed command: each entry is anchored at both ends.
  for (const cmd of [...tasks.commands, ...commands]) assert.not.ok(allowed(`${cmd}; touch pwned`), cmd);
  assert.not.ok(allowed(tasks.commands[1].replace("--ci", "--ci --on-conflict theirs")));
  assert.not.ok(allowed(commands[1].replace(c.url, `${c.url};touch`)));
  for (const cmd of commands) {
    const r = await runProgram("sh", ["-c", cmd], { cwd: c.clone, env: c.env });
    assert.is(r.code, 0, `${cmd}\n${r.stderr}${r.stdout}`);
  }
  assert.not.ok(fs.existsSync(c.marker), "no python, no pip");
  const version = fs.readFileSync(path.join(c.clone, ".agent-os", "VERSION.txt"), "utf8");
  assert.equal(extractCombination(renovateManager(), version), { depName: "agent-os", packageName: c.url, currentValue: "main", currentDigest: c.to }, "the next lookup finds it up to date");
  assert.match(version, /^runtime=pending$/m);
  const notes = fs.readFileSync(path.join(c.clone, "AGENT_OS_UPGRADE.md"), "utf8").split("\n");
  assert.is(notes[0], "# Upgrade Agent OS to 1.3.0");
  assert.ok(notes.includes(`- From: \`${c.from}\``), notes.join("\n"));
  assert.ok(notes.includes(`- To: \`${c.to}\` (1.3.0)`), notes.join("\n"));
  // Everything the commit would hold is the upgrade and its notes, under the fileFilters.
  const paths = changes(c.clone);
  assert.equal(paths.filter((p) => !p.startsWith(".agent-os/") && p !== ".gitignore" && p !== "AGENT_OS_UPGRADE.md"), []);
  assert.ok(paths.includes("AGENT_OS_UPGRADE.md"));
  assert.ok(fs.existsSync(path.join(c.env.HOME, ".cache", "agent-os-upgrade", "sources")), "the source cache is under Renovate's HOME, not in the repository");
  removeTemps();
});

test("renovate: why `git checkout` comes first — after Renovate's digest edit alone, a record without a manifest makes upstream's changes look like the team's own", async () => {
  const c = await renovateClone("rn-why", false);
  const changed = git(c.bare, "diff", "--name-status", c.from, c.to, "--", "universal/workflows").split("\n").find((l) => l.startsWith("M\t"))!.slice(2);
  const rel = `.agent-os/${changed.replace(/^universal\//, "")}`;
  const before = fs.readFileSync(path.join(c.clone, rel), "utf8");
  assert.is.not(before.trim(), git(c.bare, "show", `${c.to}:${changed}`), "upstream changed this file");
  const upgrade = fillTemplate(postUpgrade().commands[1], c.fields);
  const r = await runProgram("sh", ["-c", upgrade], { cwd: c.clone, env: c.env });
  assert.is(r.code, 0, r.stderr);
  assert.is(fs.readFileSync(path.join(c.clone, rel), "utf8"), before, "upstream's change was left out: the edited record made the old file look like a local edit");
  removeTemps();
});

// ---- multi-gitter / turbolift ----

interface Repo {
  name: string;
  origin: string;
}

/** Four repositories behind one upstream: behind, up to date, without an install, and one whose record upstream's history does not hold. */
async function fleetOfRepos() {
  const f = makeFleet("mg");
  const mk = (name: string): Repo => {
    const origin = path.join(f.root, "origins", name);
    fs.mkdirSync(path.dirname(origin), { recursive: true });
    git(f.root, "clone", "-q", f.project, origin);
    return { name, origin };
  };
  const behind = mk("behind");
  const upToDate = mk("up-to-date");
  const r = await runCli(["--ci", "--source", f.url], { cwd: upToDate.origin, env: f.env, timeoutMs: 120_000 });
  assert.is(r.code, 0, r.stderr);
  git(upToDate.origin, "add", "-A");
  git(upToDate.origin, "commit", "-qm", "Upgrade Agent OS");
  const none: Repo = { name: "no-install", origin: path.join(f.root, "origins", "no-install") };
  fs.mkdirSync(none.origin);
  fs.writeFileSync(path.join(none.origin, "README.md"), "A service without Agent OS.\n");
  git(none.origin, "init", "-q");
  git(none.origin, "add", "-A");
  git(none.origin, "commit", "-qm", "init");
  const foreign = mk("foreign");
  const vfile = path.join(foreign.origin, ".agent-os", "VERSION.txt");
  fs.writeFileSync(vfile, fs.readFileSync(vfile, "utf8").replace(/^commit=.*$/m, `commit=${"e".repeat(40)}`));
  git(foreign.origin, "commit", "-qam", "installed from a fork");
  const shim = cliShim(f.root);
  const marker = path.join(f.root, "python-ran");
  const env = { ...process.env, ...f.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", AGENT_OS_SOURCE: f.url, PATH: [pythonTrap(f.root, marker), shim.bin, process.env.PATH].join(path.delimiter) };
  return { f, repos: { behind, upToDate, none, foreign }, shim, env, marker };
}

/** multi-gitter's clone (depth 1, on its feature branch) and its start of the script: exec, cwd = the clone, REPOSITORY (and DRY_RUN). */
async function multiGitter(root: string, repo: Repo, env: Record<string, string | undefined>, extra: Record<string, string> = {}) {
  const clone = path.join(root, "mg-work", `${repo.name}-${Object.keys(extra).join("-") || "run"}`);
  fs.mkdirSync(path.dirname(clone), { recursive: true });
  git(root, "clone", "-q", "--depth", "1", `file://${repo.origin}`, clone);
  git(clone, "checkout", "-q", "-b", "multi-gitter-branch");
  const head = git(clone, "rev-parse", "HEAD");
  const before = snapshotTree(clone, { mtime: true });
  const r = await runProgram(recipe("multi-gitter/run.sh"), [], { cwd: clone, env: { ...env, REPOSITORY: `acme/${repo.name}`, ...extra } });
  return { clone, r, head, before };
}

test("multi-gitter: run.sh on a fleet — behind: exit 0 with changes (a PR); up to date and no install: exit 0, no change; refused: non-zero, no change", async () => {
  const { f, repos, env, marker, shim } = await fleetOfRepos();

  const behind = await multiGitter(f.root, repos.behind, env);
  assert.is(behind.r.code, 0, behind.r.stderr + behind.r.stdout);
  const paths = changes(behind.clone);
  assert.ok(paths.length > 10, "a pull request's worth of changes");
  assert.equal(paths.filter((p) => !p.startsWith(".agent-os/") && p !== ".gitignore"), [], "the upgrade and nothing else (no PR body, no cache)");
  assert.match(fs.readFileSync(path.join(behind.clone, ".agent-os", "VERSION.txt"), "utf8"), new RegExp(`^commit=${f.commits[1]}$`, "m"));
  assert.ok(behind.r.stdout.includes("# Upgrade Agent OS to 1.3.0\n"), "the PR description is in the log");

  const upToDate = await multiGitter(f.root, repos.upToDate, env);
  assert.is(upToDate.r.code, 0, upToDate.r.stderr);
  assert.match(upToDate.r.stdout, /^Already up to date: /m);
  assert.equal(diffTrees(upToDate.before, snapshotTree(upToDate.clone, { mtime: true })), [], "not a byte, not a time");
  assert.equal(changes(upToDate.clone), []);

  const none = await multiGitter(f.root, repos.none, env);
  assert.is(none.r.code, 0, none.r.stderr);
  assert.is(none.r.stdout, "No Agent OS installation (.agent-os/ or .praxis-os/) in acme/no-install: nothing to do\n");
  assert.equal(diffTrees(none.before, snapshotTree(none.clone, { mtime: true })), []);

  const foreign = await multiGitter(f.root, repos.foreign, env);
  assert.is(foreign.r.code, 4, foreign.r.stderr + foreign.r.stdout);
  assert.match(foreign.r.stderr, /^Error \[PREFLIGHT_FAILED\]: Pre-flight refused the upgrade: The installed commit e{40} is not in the history of source /m);
  assert.equal(diffTrees(foreign.before, snapshotTree(foreign.clone, { mtime: true })), [], "skipped: nothing left changed");

  assert.not.ok(fs.existsSync(marker), "no python, no pip");
  // Three repositories reached the CLI, each as `upgrade --ci --source <url> --pr-body <file>`.
  const calls = shim.calls().map(parsedCall);
  assert.is(calls.length, 3);
  for (const c of calls) {
    assert.is(c.command, "upgrade");
    assert.is(c.opts.ci, true);
    assert.is(c.opts.source, f.url);
    assert.type(c.opts.prBody, "string");
  }
  assert.equal(fs.readdirSync(path.join(f.root, "mg-work")).length, 4);
  removeTemps();
});

test("multi-gitter: DRY_RUN=true → --dry-run (nothing written, the description logged); AGENT_OS_COMMIT=true commits with the description (--manual-commit)", async () => {
  const { f, repos, env, shim } = await fleetOfRepos();
  const dry = await multiGitter(f.root, repos.behind, env, { DRY_RUN: "true" });
  assert.is(dry.r.code, 0, dry.r.stderr);
  assert.equal(diffTrees(dry.before, snapshotTree(dry.clone, { mtime: true })), []);
  assert.ok(dry.r.stdout.includes("_A dry run: nothing was written yet._"), dry.r.stdout);
  assert.is(shim.calls()[0].includes("--dry-run"), true);

  const own = await multiGitter(f.root, repos.behind, { ...env, GIT_AUTHOR_NAME: "bot", GIT_AUTHOR_EMAIL: "bot@example.com", GIT_COMMITTER_NAME: "bot", GIT_COMMITTER_EMAIL: "bot@example.com" }, { AGENT_OS_COMMIT: "true" });
  assert.is(own.r.code, 0, own.r.stderr);
  assert.equal(changes(own.clone), [], "everything committed");
  assert.is(git(own.clone, "rev-list", "--count", `${own.head}..HEAD`), "1");
  const message = git(own.clone, "log", "-1", "--format=%B");
  assert.is(message.split("\n")[0], "Upgrade Agent OS to 1.3.0");
  assert.ok(message.includes(`- To: \`${f.commits[1]}\` (1.3.0)`), message);
  removeTemps();
});

// ---- GitHub Actions ----

const WORKFLOW = "github-actions/agent-os-upgrade.yml";

test("github actions: behind → check says 2, the CI mode runs, the PR step gets the description and a title; then up to date → no PR, no change", async () => {
  const f = makeFleet("gha");
  const ws = botClone(f, "workspace");
  const shim = cliShim(f.root);
  const run = await runWorkflow(readRecipe(WORKFLOW), { workspace: ws, root: f.root, shimBin: shim.bin, env: f.env, vars: { AGENT_OS_SOURCE: f.url } });
  assert.is(run.failedStep, null, run.log);
  assert.equal(run.ran, ["Check for an update", "Upgrade (CI mode)", "Open or update the pull request"]);
  const pr = run.actions["Open or update the pull request"];
  assert.is(pr.uses, "peter-evans/create-pull-request@v7");
  assert.is(pr.with.title, "Upgrade Agent OS to 1.3.0");
  assert.is(pr.with["commit-message"], "Upgrade Agent OS to 1.3.0");
  assert.is(fs.readFileSync(pr.with["body-path"], "utf8").split("\n")[0], "# Upgrade Agent OS to 1.3.0");
  assert.ok(pr.with["body-path"].startsWith(run.runnerTemp), "the description is written outside the workspace");
  const paths = changes(ws);
  assert.equal(paths.filter((p) => !p.startsWith(".agent-os/") && p !== ".gitignore"), []);
  assert.equal(shim.calls().map((c) => parsedCall(c).command), ["check", "upgrade"]);

  // The pull request is merged; next week's run has nothing to do and says nothing.
  git(ws, "add", "-A");
  git(ws, "commit", "-qm", "Upgrade Agent OS");
  const before = snapshotTree(ws, { mtime: true });
  const again = await runWorkflow(readRecipe(WORKFLOW), { workspace: ws, root: f.root, shimBin: shim.bin, env: f.env, vars: { AGENT_OS_SOURCE: f.url } });
  assert.is(again.failedStep, null, again.log);
  assert.equal(again.ran, ["Check for an update"]);
  assert.equal(diffTrees(before, snapshotTree(ws, { mtime: true })), []);
  removeTemps();
});

test("github actions: an unreachable source → the check step fails the run (exit 1, the tool's message); nothing else runs, nothing changes", async () => {
  const f = makeFleet("gha-fail");
  const ws = botClone(f, "workspace");
  const shim = cliShim(f.root);
  const before = snapshotTree(ws, { mtime: true });
  const missing = `file://${path.join(f.root, "gone.git")}`;
  const run = await runWorkflow(readRecipe(WORKFLOW), { workspace: ws, root: f.root, shimBin: shim.bin, env: f.env, vars: { AGENT_OS_SOURCE: missing } });
  assert.is(run.failedStep, "Check for an update");
  assert.is(run.failedCode, 1);
  assert.ok(run.log.includes("::error::agent-os-upgrade check cannot tell whether Agent OS is up to date (exit 1)"), run.log);
  assert.ok(run.log.includes(missing), "the tool names the URL");
  assert.equal(run.ran, ["Check for an update"]);
  assert.equal(diffTrees(before, snapshotTree(ws, { mtime: true })), []);
  removeTemps();
});

test("every recipe's agent-os-upgrade command line parses with the CLI's own flags (no unknown flag, no missing value)", () => {
  const lines = [...workflowCliLines(readRecipe(WORKFLOW)), ...postUpgrade().commands.filter((c) => c.startsWith("agent-os-upgrade "))];
  // Shell words: a quoted variable or a template stands for one value; "${args[@]}" for --source and --ref.
  const words = (line: string) => line.replace(/"\$\{args\[@\]\}"/g, "--source URL --ref REF").match(/"[^"]*"|\S+/g)!.slice(1).map((w) => w.replace(/^"|"$/g, ""));
  const parsed = lines.map((l) => parsedCall(words(l)));
  assert.equal(parsed.map((p) => p.command), ["check", "upgrade", "upgrade"], lines.join("\n"));
  assert.equal(parsed.map((p) => [p.opts.source, p.opts.ref]), [["URL", "REF"], ["URL", "REF"], ["{{{packageName}}}", "{{{currentValue}}}"]]);
  assert.equal(parsed.slice(1).map((p) => [p.opts.ci, typeof p.opts.prBody]), [[true, "string"], [true, "string"]]);
  // A flag the CLI does not have is refused by the same parser (this check can fail).
  assert.throws(() => parsedCall(["upgrade", "--ci", "--pr-bdy", "x"]));
});

test.run();
