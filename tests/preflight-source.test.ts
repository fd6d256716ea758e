/**
 * What pre-flight asks of the source and the trees, and how often: git once per run (the
 * plan reads the same answer), and names and permissions checked on what the run touches.
 */
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { resultOf, runCli, RUNTIME } from "./helpers/cli.ts";
import { git, makeProject, makeSource, tmpDir } from "./helpers/project.ts";
import { parseStatusV2, readSourceGit } from "../plugins/source/git.ts";

const test = suite("preflight-source");

function setup() {
  const root = tmpDir("pf-source");
  const src = makeSource(path.join(root, "src"));
  const proj = makeProject(path.join(root, "proj"));
  return { root, src, proj };
}

/** The git commands a run executed, from GIT_TRACE's file (`built-in: git <args>` lines). */
function gitCommands(traceFile: string): string[] {
  return fs.readFileSync(traceFile, "utf8").split("\n").map((l) => /trace: built-in: (git .*)$/.exec(l)?.[1]).filter((c): c is string => !!c);
}

test("one git status answers commit, branch, changes, renames and untracked files (names with spaces intact)", async () => {
  const { src } = setup();
  fs.appendFileSync(path.join(src.dir, "universal/standards/testing/unit.md"), "edited\n");
  git(src.dir, "mv", "scripts/install.sh", "scripts/setup.sh");
  fs.writeFileSync(path.join(src.dir, "universal/my notes.md"), "scratch\n");
  const facts = await readSourceGit(src.dir);
  assert.equal(facts, {
    isGit: true,
    commit: src.commit,
    branch: "main",
    tag: null,
    changed: ["scripts/install.sh -> scripts/setup.sh", "universal/standards/testing/unit.md"],
    untracked: ["universal/my notes.md"],
    statusError: null,
  });
  git(src.dir, "tag", "v1.2.0");
  git(src.dir, "checkout", "-q", "--detach");
  const tagged = await readSourceGit(src.dir);
  assert.is(tagged.tag, "v1.2.0");
  assert.is(tagged.branch, null);
  fs.rmSync(path.join(src.dir, ".git"), { recursive: true });
  assert.equal(await readSourceGit(src.dir), { isGit: false, commit: null, branch: null, tag: null, changed: [], untracked: [], statusError: null });
  // Before the first commit: a work tree, no commit.
  assert.equal(parseStatusV2("# branch.oid (initial)\0# branch.head main\0? a.md\0"), { commit: null, branch: "main", changed: [], untracked: ["a.md"] });
});

test("a dry run asks git about the source once: one status, one describe, no rev-parse of its own", async () => {
  const s = setup();
  const trace = path.join(s.root, "git-trace.txt");
  const r = await runCli(["--source", s.src.dir, "--dry-run", "--no-validate", "--skip-deps", "--on-conflict", "keep", "--json"], { cwd: s.proj.dir, env: { GIT_TRACE: trace } });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const res = resultOf(r);
  assert.equal(res.plan.entries.map((e: { target: string; action: string }) => `${e.action} ${e.target}`), [
    "conflict standards/universal/testing/unit.md",
    "conflict workflows/spec_execution_v1/metadata.json",
  ]);
  assert.is(res.plan.source.commit, s.src.commit);
  const cmds = gitCommands(trace);
  assert.equal(cmds.filter((c) => / status /.test(c)), ["git status --porcelain=v2 --branch -z --untracked-files=all -- ."]);
  assert.equal(cmds.filter((c) => c.startsWith("git describe")), ["git describe --tags --exact-match HEAD"]);
  assert.equal(cmds.filter((c) => c.startsWith("git rev-parse --is-inside-work-tree") || c === "git rev-parse --verify --quiet HEAD"), []);
});

test("names that cannot be installed: the installation's are named by their bytes; a file the upgrade never touches is no concern", async () => {
  const s = setup();
  const testing = path.join(s.proj.install, "standards/universal/testing");
  // Made by the shell: Deno's fs turns a Buffer path into text, so it cannot create such a name.
  const latin1 = (dir: string, name: string) => execFileSync("sh", ["-c", `printf 'x\\n' > "$(printf '${name}')"`], { cwd: dir });
  latin1(testing, "caf\\351.md");
  // Excluded from every copy (a __pycache__ folder), and in the user's own standards: never read, never written.
  fs.mkdirSync(path.join(testing, "__pycache__"));
  latin1(path.join(testing, "__pycache__"), "b\\351.pyc");
  latin1(path.join(s.proj.install, "standards/development"), "d\\351.md");
  // A U+FFFD that is really in the name is valid UTF-8: installed as it is.
  fs.writeFileSync(path.join(s.src.dir, "universal/standards/testing/\uFFFD.md"), "replacement character\n");
  git(s.src.dir, "add", "-A");
  git(s.src.dir, "commit", "-qm", "a name with U+FFFD");
  const r = await runCli(["--source", s.src.dir, "--dry-run", "--no-validate", "--skip-deps", "--on-conflict", "keep", "--json"], { cwd: s.proj.dir });
  assert.is(r.code, 4, r.stdout + r.stderr);
  const errors = resultOf(r).findings.filter((f: { level: string }) => f.level === "error");
  assert.equal(errors.map((f: { code: string }) => f.code).sort(), ["UNSAFE_FILE_NAME", "UNSAFE_PATH"]);
  const named = errors.find((f: { code: string }) => f.code === "UNSAFE_FILE_NAME");
  // Deno's fs gives names as text (the byte already replaced by U+FFFD): that is all it can name.
  const shown = RUNTIME === "deno" ? "caf\uFFFD.md" : "caf\\xe9.md";
  assert.is(named.message, `Cannot install "${testing}/${shown}": the file name is not valid UTF-8 or holds a backslash, so it cannot be installed as it is`);
  const unsafe = errors.find((f: { code: string }) => f.code === "UNSAFE_PATH");
  assert.is(unsafe.message, "Cannot install standards/universal/testing/caf\uFFFD.md: the name of standards/universal/testing/caf\uFFFD.md in the installation holds a backslash or bytes that are not UTF-8");
  const entries = resultOf(r).plan.entries.map((e: { target: string; action: string }) => `${e.action} ${e.target}`);
  assert.equal(entries, ["error standards/universal/testing/caf\uFFFD.md", "conflict standards/universal/testing/unit.md", "new standards/universal/testing/\uFFFD.md", "conflict workflows/spec_execution_v1/metadata.json"]);
});

test.run();
