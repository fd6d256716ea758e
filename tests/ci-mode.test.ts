/**
 * Issue 19 (3): `upgrade --ci` as a bot runs it — a fresh clone of a project repository whose
 * install has no venv, stdin closed (the CLI runner gives /dev/null), a `file://` upstream:
 * exit 0, a conflict left as markers and listed, VERSION.txt `runtime=pending`, the pull
 * request's description written, and no Python started (a fake `python3`/`python`/`pip` first
 * on PATH leaves a marker file when run). A second run: already up to date, no byte changed.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { resultOf, runCli } from "./helpers/cli.ts";
import { git, removeTemps } from "./helpers/content-project.ts";
import { type Fleet, makeFleet, QUICK } from "./helpers/fleet-project.ts";

const test = suite("ci-mode");

interface Bot {
  f: Fleet;
  clone: string;
  /** A file a run of python or pip would write. */
  marker: string;
  env: Record<string, string>;
  /** The installed file edited here and upstream (relative to the project root). */
  conflicted: string;
  body: string;
}

/** Executables that record being run: nothing in a CI run may start Python or pip. */
function fakePython(dir: string, marker: string): string {
  const bin = path.join(dir, "fake-bin");
  fs.mkdirSync(bin);
  for (const name of ["python3", "python", "pip", "pip3"]) {
    fs.writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >> "${marker}"\nexit 1\n`, { mode: 0o755 });
  }
  return bin;
}

/** A project repository whose committed install has a file edited here that upstream changed too; a bot's fresh clone of it. */
function botClone(): Bot {
  // Release 2 changes the server's requirements: a normal run would install them into the venv.
  // Its entry point reads --transport: the committed launch entry is migrated.
  const main = "import argparse\nparser = argparse.ArgumentParser()\nparser.add_argument(\"--transport\")\n";
  const f = makeFleet("ci", { release2Extra: { "mcp_server/requirements.txt": "mcp==1.0.0\n", "mcp_server/__main__.py": main } });
  const ws = "${workspaceFolder}";
  const entry = { command: `${ws}/.agent-os/venv/bin/python`, args: ["-m", "mcp_server"], env: { PYTHONPATH: `${ws}/.agent-os` } };
  fs.mkdirSync(path.join(f.project, ".cursor"));
  fs.writeFileSync(path.join(f.project, ".cursor", "mcp.json"), JSON.stringify({ mcpServers: { "agent-os-rag": entry } }, null, 2) + "\n");
  git(f.project, "add", ".cursor");
  const changed = git(f.bare, "diff", "--name-status", f.commits[0], f.commits[1], "--", "universal/workflows").split("\n").find((l) => l.startsWith("M\t"))!;
  const conflicted = `.agent-os/${changed.slice(2).replace(/^universal\//, "")}`;
  fs.writeFileSync(path.join(f.project, conflicted), "Our team's own version of this workflow.\n");
  git(f.project, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "our edit");
  const clone = path.join(f.root, "clone");
  git(f.root, "clone", "-q", f.project, clone);
  const marker = path.join(f.root, "python-ran");
  const env = { ...f.env, PATH: `${fakePython(f.root, marker)}${path.delimiter}${process.env.PATH}` };
  return { f, clone, marker, env, conflicted, body: path.join(f.root, "pr-body.md") };
}

const ciRun = (b: Bot, extra: string[] = []) =>
  runCli(["--ci", "--json", "--source", b.f.url, "--ref", b.f.commits[1], "--pr-body", b.body, ...extra], { cwd: b.clone, env: b.env, timeoutMs: 120_000 });

/** The lines of one `## ` section of the body, without its heading and blank edges. */
function section(body: string, title: string): string[] {
  const lines = body.split("\n");
  const start = lines.indexOf(`## ${title}`);
  assert.ok(start >= 0, `section ${title}`);
  const end = lines.findIndex((l, i) => i > start && l.startsWith("## "));
  return lines.slice(start + 1, end < 0 ? undefined : end).join("\n").trim().split("\n");
}

test("--ci in a fresh clone without a venv, stdin closed: exit 0, the conflict as markers and listed, runtime=pending, the PR body; no Python run", async () => {
  const b = botClone();
  assert.not.ok(fs.existsSync(path.join(b.clone, ".agent-os", "venv")), "the clone has no venv");
  // The trap works: a python3 looked up on this PATH is the fake one.
  spawnSync("python3", ["-V"], { env: { ...process.env, ...b.env } });
  assert.is(fs.readFileSync(b.marker, "utf8"), "python3 -V\n");
  fs.rmSync(b.marker);
  const r = await ciRun(b);
  assert.is(r.code, 0, r.stderr + r.stdout);
  assert.not.ok(fs.existsSync(b.marker), `python or pip ran: ${fs.existsSync(b.marker) ? fs.readFileSync(b.marker, "utf8") : ""}`);
  const j = resultOf(r);
  assert.is(j.status, "completed");
  assert.is(j.validation, "skipped");
  assert.equal(j.summary.needs_attention.map((a: { path: string }) => a.path), [b.conflicted]);
  const text = fs.readFileSync(path.join(b.clone, b.conflicted), "utf8");
  assert.match(text, /^<<<<<<< /m);
  assert.match(text, /^>>>>>>> /m);
  assert.ok(text.includes("Our team's own version of this workflow."));
  const version = fs.readFileSync(path.join(b.clone, ".agent-os", "VERSION.txt"), "utf8");
  assert.equal(version.trim().split("\n").slice(-2), ["layout=agent-os-enhanced", "runtime=pending"]);
  assert.match(version, new RegExp(`^commit=${b.f.commits[1]}$`, "m"));
  assert.not.ok(fs.existsSync(path.join(b.clone, ".agent-os", "venv")), "no venv made");
  assert.is(fs.readFileSync(path.join(b.clone, ".agent-os", "mcp_server", "requirements.txt"), "utf8"), "mcp==1.0.0\n", "the new requirements are committed for the teammates");

  const body = fs.readFileSync(b.body, "utf8");
  const head = body.split("\n");
  assert.is(head[0], "# Upgrade Agent OS to 1.3.0");
  assert.ok(head.includes(`- From: \`${b.f.commits[0]}\``), body);
  assert.ok(head.includes(`- To: \`${b.f.commits[1]}\` (1.3.0)`), body);
  assert.ok(head.includes(`- Source: ${b.f.url} at \`${b.f.commits[1]}\``), body);
  const a = j.summary.needs_attention[0];
  assert.equal(section(body, "Files to finish by hand"), [`- [ ] \`${b.conflicted}\`: ${a.why}; ${a.how}`]);
  const changed = section(body, "What changed");
  assert.match(changed[0], /^\d+ files: \d+ added, \d+ updated, 1 with conflicts, 1 deleted\.$/);
  assert.ok(changed.includes(`- \`${b.conflicted}\``));
  assert.ok(changed.includes("- `.gitignore`"), "the .gitignore lines are listed");
  assert.ok(changed.includes("- `.agent-os/mcp_server/requirements.txt`"), "the server's files are listed");
  assert.equal(section(body, "Launch entries migrated"), ["- `.cursor/mcp.json`: Cursor entry `agent-os-rag` now runs with `-m mcp_server --transport dual`"]);
  assert.equal(JSON.parse(fs.readFileSync(path.join(b.clone, ".cursor", "mcp.json"), "utf8")).mcpServers["agent-os-rag"].args, ["-m", "mcp_server", "--transport", "dual"]);
  const after = section(body, "After merging, each teammate runs");
  assert.ok(after.includes("agent-os-upgrade sync"), after.join("\n"));
  assert.ok(after.includes("python3 -m venv .agent-os/venv"));
  assert.ok(after.includes(".agent-os/venv/bin/python -m pip install -r .agent-os/mcp_server/requirements.txt"));
  // The project got the upgrade and nothing else: the body is outside it, no cache in it.
  const porcelain = git(b.clone, "status", "--porcelain", "--untracked-files=all").split("\n").filter(Boolean).map((l) => l.replace(/^\s*\S+\s+/, ""));
  assert.equal(porcelain.filter((p) => !p.startsWith(".agent-os/")), [".cursor/mcp.json", ".gitignore"]);

  // The bot commits; the next scheduled run has nothing to do.
  git(b.clone, "add", "-A");
  git(b.clone, "-c", "user.name=bot", "-c", "user.email=bot@bot", "commit", "-qm", "Upgrade Agent OS");
  const before = snapshotTree(b.clone, { mtime: true });
  const bodyStat = fs.statSync(b.body);
  const again = await ciRun(b);
  assert.is(again.code, 0, again.stderr);
  const j2 = resultOf(again);
  assert.is(j2.up_to_date, true);
  assert.match(j2.message, /^Already up to date: /);
  assert.equal(diffTrees(before, snapshotTree(b.clone, { mtime: true })), [], "no byte changed, not even a time (the source cache, outside, is fetched)");
  assert.is(fs.statSync(b.body).mtimeMs, bodyStat.mtimeMs, "no pull request: the body is not rewritten");
  assert.not.ok(fs.existsSync(b.marker));
  removeTemps();
});

test("--pr-body inside the installation: a usage error before anything is written", async () => {
  const b = botClone();
  const before = snapshotTree(b.clone, { mtime: true });
  const r = await runCli(["--ci", "--source", b.f.url, "--pr-body", ".agent-os/pr.md"], { cwd: b.clone, env: b.env });
  assert.is(r.code, 2);
  assert.equal(r.stderr.trim().split("\n"), [
    `Error [USAGE]: --pr-body cannot be inside the installation: ${path.join(b.clone, ".agent-os", "pr.md")}`,
    "  hint: Write it outside the installation, e.g. --pr-body \"$RUNNER_TEMP/agent-os-pr.md\"",
  ]);
  assert.equal(diffTrees(before, snapshotTree(b.clone, { mtime: true })), []);
  assert.not.ok(fs.existsSync(b.f.cache), "the source was not even fetched");
  removeTemps();
});

test("--ci --dry-run --pr-body: the description of what the run would do, nothing else written", async () => {
  const b = botClone();
  const before = snapshotTree(b.clone, { mtime: true });
  const r = await ciRun(b, ["--dry-run"]);
  assert.is(r.code, 0, r.stderr);
  assert.equal(diffTrees(before, snapshotTree(b.clone, { mtime: true })), []);
  const body = fs.readFileSync(b.body, "utf8");
  assert.ok(body.split("\n").includes("_A dry run: nothing was written yet._"));
  assert.equal(section(body, "Files to finish by hand"), [`- [ ] \`${b.conflicted}\`: a conflict is expected; finish it by hand`]);
  assert.not.ok(fs.existsSync(b.marker));
  removeTemps();
});

test("a run without --ci (or --runtime-pending) removes a runtime=pending line; other lines keep their place", async () => {
  const f = makeFleet("ci-clear");
  const file = path.join(f.install, "VERSION.txt");
  fs.writeFileSync(file, `${fs.readFileSync(file, "utf8")}runtime=pending\nchannel=stable\n`);
  const r = await runCli(["--source", f.url, "--ref", f.commits[1], ...QUICK], { cwd: f.project, env: f.env, timeoutMs: 120_000 });
  assert.is(r.code, 0, r.stderr);
  const keys = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => l.split("=")[0]);
  assert.equal(keys, ["version", "commit", "channel", "updated", "source", "ref", "layout"]);
  removeTemps();
});

test.run();
