/**
 * Issue 19 (1, 2, 4): a source by URL and ref, fetched into a cache outside the project;
 * `check`'s exit codes; a second run that changes no byte. Real CLI processes on the runtime
 * under test, a real bare upstream reached by its `file://` URL, a project that is a git
 * repository with the first release committed.
 */
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { resultOf, runCli, startCli } from "./helpers/cli.ts";
import { git, removeTemps } from "./helpers/content-project.ts";
import { type Fleet, makeFleet, QUICK, trackedBytes } from "./helpers/fleet-project.ts";
import { entryOf, fetchSource, withCacheLock } from "../plugins/source/remote.ts";

const test = suite("fleet-source");

const cli = (f: Fleet, args: string[]) => runCli(args, { cwd: f.project, env: f.env, timeoutMs: 120_000 });

/** The cache entry of the fleet's upstream: its bare mirror and work trees, and nothing left over. */
function assertCacheClean(f: Fleet): void {
  const entry = entryOf(f.url, f.cache);
  const names = fs.readdirSync(entry).sort();
  assert.ok(names.includes("mirror.git"));
  assert.equal(names.filter((n) => n !== "mirror.git" && n !== "trees"), [], "no lock, no temp mirror left");
  assert.is(git(path.join(entry, "mirror.git"), "rev-parse", "--is-bare-repository"), "true");
}

/** The project's status in git's words: what the run changed, and nothing else. */
const porcelain = (f: Fleet) => git(f.project, "status", "--porcelain", "--untracked-files=all").split("\n").filter(Boolean).map((l) => l.replace(/^\s*\S+\s+/, ""));

test("--source file://…/upstream.git --ref <sha>: upgrades from the cache, records source, ref and commit; the project gets only the upgrade", async () => {
  const f = makeFleet();
  const r = await cli(f, ["--source", f.url, "--ref", f.commits[1], ...QUICK]);
  assert.is(r.code, 0, r.stderr);
  // Everything that changed is the installation and .gitignore: no checkout, no cache, no git data in the project.
  const changed = porcelain(f);
  assert.ok(changed.length > 10);
  assert.equal(changed.filter((p) => !p.startsWith(".agent-os/") && p !== ".gitignore"), []);
  assert.equal(fs.readdirSync(f.project).sort(), [".agent-os", ".git", ".gitignore"]);
  const version = fs.readFileSync(path.join(f.install, "VERSION.txt"), "utf8");
  assert.match(version, new RegExp(`^commit=${f.commits[1]}$`, "m"));
  assert.match(version, new RegExp(`^source=${f.url.replace(/[.]/g, "\\.")}$`, "m"));
  assert.match(version, new RegExp(`^ref=${f.commits[1]}$`, "m"));
  assert.match(version, /^layout=agent-os-enhanced$/m);
  const keys = version.trim().split("\n").map((l) => l.split("=")[0]);
  assert.equal(keys, ["version", "commit", "updated", "source", "ref", "layout"], "existing keys keep their place; new ones in the documented order");
  assertCacheClean(f);
  assert.ok(fs.existsSync(path.join(entryOf(f.url, f.cache), "trees", f.commits[1], "universal")));
});

test("a second run with the same source changes no byte and says already up to date (exit 0)", async () => {
  const f = makeFleet();
  assert.is((await cli(f, ["--source", f.url, "--ref", f.commits[1], ...QUICK])).code, 0);
  git(f.project, "add", "-A");
  git(f.project, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "upgrade");
  const tracked = trackedBytes(f.project);
  const whole = snapshotTree(f.project, { mtime: true });
  const r = await cli(f, ["--source", f.url, "--ref", f.commits[1], ...QUICK]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout.trim().split("\n")[0], `Already up to date: the installation is at 1.3.0 from ${f.url} (${f.commits[1]}); nothing was changed`);
  assert.equal(trackedBytes(f.project), tracked);
  assert.equal(diffTrees(whole, snapshotTree(f.project, { mtime: true })), [], "not even ignored files or times");
  assert.equal(porcelain(f), []);
  // --json says so as a result line.
  const j = resultOf(await cli(f, ["--json", "--source", f.url, "--ref", f.commits[1], ...QUICK]));
  assert.is(j.status, "completed");
  assert.is(j.up_to_date, true);
  assert.is(j.exit_code, 0);
  assert.is(j.session_id, null);
});

test("check: 2 when behind (JSON lists the files), 0 after the upgrade, then 0 with the recorded source and no flags", async () => {
  const f = makeFleet();
  const before = snapshotTree(f.project, { mtime: true });
  const r = await cli(f, ["check", "--json", "--source", f.url]);
  assert.is(r.code, 2, r.stderr);
  const j = resultOf(r);
  assert.is(j.command, "check");
  assert.is(j.status, "update_available");
  assert.equal(j.installed, { commit: f.commits[0], via: "VERSION.txt" });
  assert.equal(j.available.commit, f.commits[1]);
  assert.is(j.source.url, f.url);
  assert.is(j.source.ref, "main", "no --ref: the upstream's default branch");
  const paths = (j.changes as Array<{ path: string; action: string }>).map((c) => c.path);
  assert.ok(paths.includes(".agent-os/mcp_server/__init__.py"), "the server swap is listed");
  assert.ok(paths.includes(".agent-os/workflows/spec_execution_v1/phases/dynamic/task-template.md"));
  assert.ok(paths.every((p) => p.startsWith(".agent-os/") || p === ".gitignore"));
  assert.equal(j.conflicts, []);
  assert.equal(j.migration, { needed: false, reason: "the source has the install's layout (agent-os-enhanced)" });
  assert.equal(j.drift, []);
  assert.equal(diffTrees(before, snapshotTree(f.project, { mtime: true })), [], "check writes nothing");

  assert.is((await cli(f, ["--source", f.url, ...QUICK])).code, 0);
  const after = await cli(f, ["check", "--source", f.url]);
  assert.is(after.code, 0, after.stderr);
  assert.is(after.stdout.split("\n")[0], `Up to date at ${f.commits[1].slice(0, 12)}`);
  const recorded = await cli(f, ["check", "--json"]);
  assert.is(recorded.code, 0, recorded.stderr);
  assert.is(resultOf(recorded).source.ref, "main");
});

test("check: drift (a file edited since install) is reported; an edit alone is no update (exit 0)", async () => {
  const f = makeFleet();
  assert.is((await cli(f, ["--source", f.url, ...QUICK])).code, 0);
  const edited = path.join(f.install, "workflows/spec_execution_v1/phases/dynamic/task-template.md");
  fs.appendFileSync(edited, "\nOur team's note.\n");
  const r = await cli(f, ["check", "--json"]);
  assert.is(r.code, 0, r.stderr);
  assert.equal(resultOf(r).drift, [".agent-os/workflows/spec_execution_v1/phases/dynamic/task-template.md"]);
  // The upgrade agrees (from the source the record names: no --source): nothing to write, the edit kept.
  const u = await cli(f, [...QUICK]);
  assert.is(u.code, 0, u.stderr);
  assert.is(u.stdout, `Already up to date: the installation is at 1.3.0 from ${f.url} (main); nothing was changed\n1 file edited since install (kept): .agent-os/workflows/spec_execution_v1/phases/dynamic/task-template.md\n`);
  assert.match(fs.readFileSync(edited, "utf8"), "Our team's note.");
});

test("check: 1 when it cannot tell: an unreachable URL, no source at all, a source that cannot show the base", async () => {
  const f = makeFleet();
  const gone = pathToFileURL(path.join(f.root, "nowhere.git")).href;
  const r = await cli(f, ["check", "--source", gone]);
  assert.is(r.code, 1);
  assert.is(r.stderr.split("\n")[0].startsWith(`Cannot tell: Cannot fetch the source ${gone}: `), true, r.stderr);
  const none = await cli(f, ["check"]);
  assert.is(none.code, 1);
  assert.match(none.stderr, "Cannot tell: no source given and none recorded");
  // A copied folder (not a git clone) and no record: nothing can show what is installed.
  fs.rmSync(path.join(f.install, "VERSION.txt"));
  const copy = path.join(f.root, "copy");
  git(f.root, "clone", "-q", f.bare, copy);
  fs.rmSync(path.join(copy, ".git"), { recursive: true });
  const j = resultOf(await cli(f, ["check", "--json", "--source", copy]));
  assert.is(j.exit_code, 1);
  assert.is(j.status, "unknown");
  assert.match(j.reason, /^Cannot tell: /);
  // A usage error is "cannot tell" too, never "update available".
  assert.is((await cli(f, ["check", "--bogus"])).code, 1);
});

test("upgrade from an unreachable URL or a missing ref: exit 4 before writing, naming the URL and the fix", async () => {
  const f = makeFleet();
  const before = snapshotTree(f.project, { mtime: true });
  const gone = pathToFileURL(path.join(f.root, "nowhere.git")).href;
  const r = await cli(f, ["--source", gone, ...QUICK]);
  assert.is(r.code, 4);
  const lines = r.stderr.trim().split("\n");
  assert.ok(lines[0].startsWith(`Error [PREFLIGHT_FAILED]: Cannot fetch the source ${gone}: `), lines[0]);
  assert.is(lines[1], `  hint: Check the URL, the network and your git credentials (\`git ls-remote ${gone}\` must work), or pass a local clone with --source <dir>; nothing was written`);
  const missing = await cli(f, ["--source", f.url, "--ref", "no-such-branch", ...QUICK]);
  assert.is(missing.code, 4);
  assert.is(missing.stderr.split("\n")[0], `Error [PREFLIGHT_FAILED]: Cannot find "no-such-branch" in the source ${f.url}: no branch, tag or commit has that name`);
  assert.equal(diffTrees(before, snapshotTree(f.project, { mtime: true })), []);
  assert.equal(fs.readdirSync(path.join(f.cache, "sources")).length, 2, "one entry per URL");
  assert.equal(fs.readdirSync(entryOf(gone, f.cache)), [], "the failed clone left nothing");
  assertCacheClean(f);
});

test("a local clone with --ref is fetched like a file:// URL: the clone is never touched", async () => {
  const f = makeFleet();
  const clone = path.join(f.root, "clone");
  git(f.root, "clone", "-q", f.bare, clone);
  const before = snapshotTree(clone, { mtime: true });
  const r = await cli(f, ["--source", clone, "--ref", f.commits[1], ...QUICK]);
  assert.is(r.code, 0, r.stderr);
  assert.equal(diffTrees(before, snapshotTree(clone, { mtime: true })), []);
  assert.match(fs.readFileSync(path.join(f.install, "VERSION.txt"), "utf8"), `source=${pathToFileURL(clone).href}\n`);
});

test("two runs at once on a fresh cache take turns on its lock: both answer, the mirror is sound, no lock left", async () => {
  const f = makeFleet();
  const runs = [0, 1].map(() => startCli(["check", "--json", "--source", f.url], { cwd: f.project, env: f.env, timeoutMs: 120_000 }));
  const [a, b] = await Promise.all(runs.map((x) => x.done));
  assert.is(a.code, 2, a.stderr);
  assert.is(b.code, 2, b.stderr);
  assert.equal(resultOf(a).changes, resultOf(b).changes);
  git(path.join(entryOf(f.url, f.cache), "mirror.git"), "fsck", "--no-progress");
  assertCacheClean(f);
  // In one process too: the second waits for the first, then reuses its mirror and work tree.
  const [x, y] = await Promise.all([fetchSource(f.url, "main", { root: f.cache }), fetchSource(f.url, f.commits[0], { root: f.cache })]);
  assert.is(x.commit, f.commits[1]);
  assert.is(y.commit, f.commits[0]);
  assertCacheClean(f);
});

test("a lock left by a dead process is taken over; a live one is waited for", async () => {
  const f = makeFleet();
  const entry = entryOf(f.url, f.cache);
  fs.mkdirSync(entry, { recursive: true });
  // pid 2^22+1 is above Linux's pid_max: never a running process.
  fs.writeFileSync(path.join(entry, "lock"), JSON.stringify({ pid: 4194305, start: null, host: (await import("node:os")).hostname(), token: "x" }));
  const r = await fetchSource(f.url, null, { root: f.cache });
  assert.is(r.commit, f.commits[1]);
  assert.is(r.ref, "main");
  assertCacheClean(f);
  const order: string[] = [];
  let release!: () => void;
  const held = withCacheLock(entry, () => new Promise<void>((res) => {
    order.push("first");
    release = res;
  }));
  const waiter = withCacheLock(entry, async () => {
    order.push("second");
  });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(order, ["first"], "the second waits while the first holds the lock");
  release();
  await Promise.all([held, waiter]);
  assert.equal(order, ["first", "second"]);
  assert.is(fs.existsSync(path.join(entry, "lock")), false);
});

test.after(removeTemps);
test.run();
