/** Each pre-flight refusal: its own code and message, the exit code, and a project left byte-identical. */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { resultOf, runCli } from "./helpers/cli.ts";
import { writeFakeConfig } from "./helpers/config-files.ts";
import { git, makeProject, makeSource, tmpDir } from "./helpers/project.ts";
import { snapshotTree } from "../demo/kit/tree.ts";

const test = suite("preflight");

function setup() {
  const root = tmpDir();
  const src = makeSource(path.join(root, "src"));
  const proj = makeProject(path.join(root, "proj"));
  writeFakeConfig(proj.dir);
  return { root, src, proj };
}

interface Case {
  name: string;
  arrange: (s: ReturnType<typeof setup>) => string[] | void;
  exit: number;
  code: string;
  message: string;
  /** The exact fix, when the case checks it. */
  fix?: string;
}

const cases: Case[] = [
  { name: "missing source", arrange: (s) => ["--source", path.join(s.root, "nope")], exit: 4, code: "SOURCE_MISSING", message: "does not exist" },
  { name: "no source given", arrange: () => [], exit: 4, code: "SOURCE_MISSING", message: "No source checkout was given" },
  {
    name: "not a git tree",
    arrange: (s) => {
      fs.rmSync(path.join(s.src.dir, ".git"), { recursive: true });
    },
    exit: 4,
    code: "SOURCE_NOT_GIT",
    message: "is not a git work tree",
  },
  {
    name: "dirty tree",
    arrange: (s) => {
      fs.appendFileSync(path.join(s.src.dir, "universal/standards/testing/unit.md"), "local edit\n");
    },
    exit: 4,
    code: "SOURCE_DIRTY",
    message: "has 1 uncommitted change (universal/standards/testing/unit.md)",
  },
  {
    name: "an edit git status does not show (assume-unchanged)",
    arrange: (s) => {
      git(s.src.dir, "update-index", "--assume-unchanged", "universal/standards/testing/unit.md");
      fs.appendFileSync(path.join(s.src.dir, "universal/standards/testing/unit.md"), "local edit\n");
    },
    exit: 4,
    code: "SOURCE_DIRTY",
    message: "has 1 change git does not show, in a file marked assume-unchanged (universal/standards/testing/unit.md)",
    fix: "Let git see it (git update-index --no-assume-unchanged -- universal/standards/testing/unit.md), then commit or stash it",
  },
  {
    name: "edits git status does not show (skip-worktree, and a deleted assume-unchanged file)",
    arrange: (s) => {
      git(s.src.dir, "update-index", "--skip-worktree", "mcp_server/__main__.py");
      fs.writeFileSync(path.join(s.src.dir, "mcp_server/__main__.py"), "print('patched')\n");
      git(s.src.dir, "update-index", "--assume-unchanged", "scripts/install.sh");
      fs.rmSync(path.join(s.src.dir, "scripts/install.sh"));
    },
    exit: 4,
    code: "SOURCE_DIRTY",
    message: "has 2 changes git does not show, in files marked assume-unchanged or skip-worktree (mcp_server/__main__.py, scripts/install.sh)",
    fix: "Let git see them (git update-index --no-assume-unchanged --no-skip-worktree -- mcp_server/__main__.py scripts/install.sh), then commit or stash them",
  },
  {
    name: "not an Agent OS source",
    arrange: (s) => {
      git(s.src.dir, "rm", "-rq", "mcp_server");
      git(s.src.dir, "commit", "-qm", "drop server");
    },
    exit: 4,
    code: "SOURCE_LAYOUT",
    message: "has neither universal/ and mcp_server/",
  },
  { name: "missing target", arrange: (s) => ["--source", s.src.dir, "--target", path.join(s.root, "elsewhere")], exit: 4, code: "TARGET_MISSING", message: "No Agent OS installation at" },
  {
    name: "incomplete target",
    arrange: (s) => {
      // workflows/ may be missing (the first upstream installs never copied it); the server package may not.
      fs.rmSync(path.join(s.proj.install, "mcp_server"), { recursive: true });
    },
    exit: 4,
    code: "TARGET_STRUCTURE",
    message: "has no mcp_server/",
  },
  {
    name: "symlinked install",
    arrange: (s) => {
      fs.rmSync(path.join(s.proj.install, "standards/universal"), { recursive: true });
      fs.symlinkSync(path.join(s.src.dir, "universal/standards"), path.join(s.proj.install, "standards/universal"));
    },
    exit: 4,
    code: "SYMLINKED_INSTALL",
    message: "The installation is linked, not copied",
  },
  {
    name: "foreign lock",
    arrange: (s) => {
      fs.writeFileSync(path.join(s.proj.install, ".upgrade-lock"), "someone else's\n");
    },
    exit: 5,
    code: "LOCK_HELD",
    message: "A foreign lock is present",
  },
  {
    name: "not enough disk",
    arrange: (s) => {
      writeFakeConfig(s.proj.dir, "");
      const f = path.join(s.proj.dir, "upgrade.config.ts");
      fs.writeFileSync(f, fs.readFileSync(f, "utf8")
        .replace("plugins: [fakePhases()]", "plugins: [fakePhases(), preflightPlugin({ diskFactor: 1e12 })]")
        .replace("import { builtinPlugins }", "import { builtinPlugins, preflightPlugin }"));
    },
    exit: 4,
    code: "DISK_SPACE",
    message: "Not enough free disk space",
  },
];

for (const c of cases) {
  test(`refuses: ${c.name} — ${c.code}, exit ${c.exit}, nothing changed`, async () => {
    const s = setup();
    const args = c.arrange(s) ?? ["--source", s.src.dir];
    const before = snapshotTree(s.root, { mtime: true });
    const r = await runCli([...args, "--json"], { cwd: s.proj.dir });
    assert.is(r.code, c.exit, r.stdout + r.stderr);
    const res = resultOf(r);
    const errors = res.findings.filter((f: { level: string }) => f.level === "error");
    assert.equal(errors.map((f: { code: string }) => f.code), [c.code]);
    assert.match(errors[0].message, c.message);
    assert.ok(errors[0].fix && errors[0].fix.length > 10, "a fix is given");
    if (c.fix) assert.is(errors[0].fix, c.fix);
    assert.equal(snapshotTree(s.root, { mtime: true }), before);
    // Human output: the same message, its fix, no stack trace.
    const h = await runCli(args, { cwd: s.proj.dir });
    assert.is(h.code, c.exit);
    assert.match(h.stdout, c.message);
    assert.match(h.stdout, "fix: ");
    assert.not.match(h.stdout + h.stderr, "    at ");
  });
}

test("files marked assume-unchanged or skip-worktree pass when unedited, and so does a skip-worktree file a sparse checkout left out", async () => {
  const s = setup();
  try {
    fs.writeFileSync(path.join(s.src.dir, "NOTES.md"), "not installed\n");
    git(s.src.dir, "add", "NOTES.md");
    git(s.src.dir, "commit", "-qm", "notes");
    git(s.src.dir, "update-index", "--assume-unchanged", "universal/standards/testing/unit.md");
    git(s.src.dir, "update-index", "--skip-worktree", "mcp_server/__main__.py", "NOTES.md");
    fs.rmSync(path.join(s.src.dir, "NOTES.md"));
    const r = await runCli(["--source", s.src.dir, "--dry-run", "--json"], { cwd: s.proj.dir });
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.equal(resultOf(r).findings.filter((f: { level: string }) => f.level === "error"), []);
  } finally {
    fs.rmSync(s.root, { recursive: true, force: true });
  }
});

test("all failed checks are reported together", async () => {
  const s = setup();
  fs.appendFileSync(path.join(s.src.dir, "universal/standards/testing/unit.md"), "x\n");
  fs.rmSync(path.join(s.proj.install, "mcp_server"), { recursive: true });
  const r = await runCli(["--source", s.src.dir, "--json"], { cwd: s.proj.dir });
  assert.is(r.code, 4);
  const codes = resultOf(r).findings.filter((f: { level: string }) => f.level === "error").map((f: { code: string }) => f.code).sort();
  assert.equal(codes, ["SOURCE_DIRTY", "TARGET_STRUCTURE"]);
});

test("untracked files in the source are a warning by default, not a refusal", async () => {
  const s = setup();
  fs.writeFileSync(path.join(s.src.dir, "universal/notes.txt"), "scratch\n");
  const r = await runCli(["--source", s.src.dir, "--json"], { cwd: s.proj.dir });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const w = resultOf(r).findings.find((f: { code: string }) => f.code === "SOURCE_UNTRACKED");
  assert.is(w.level, "warning");
});

test.run();
