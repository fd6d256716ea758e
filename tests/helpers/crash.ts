/**
 * The crash sweep's parts: a real installation (old release) and a source checkout whose
 * history holds the old and the new release (a rename, a deletion, an addition, a user
 * edit), the CLI run with the fault-injection preload (tests/fault/preload.ts), and the
 * classification of a recovered tree as exactly old, exactly new, or mixed.
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { REPO } from "./cli.ts";
import { installUniversal, makeSourceRepo, type Tree } from "./content-project.ts";

const OLD_TREE: Tree = {
  "standards/testing/unit.md": "# Unit tests\n\nOne behaviour per test.\n",
  "standards/testing/pyramid.md": "# Pyramid\n\nMany unit tests.\n",
  "standards/ai-safety/git.md": "# Git safety\n\nNever force-push.\n",
  "standards/old-name.md": "# Renamed upstream\n",
  "standards/removed.md": "# Deleted upstream\n",
  "workflows/spec_v1/metadata.json": "{ \"name\": \"spec_v1\", \"phases\": 2 }\n",
  "workflows/spec_v1/phases/0/phase.md": "# Phase 0\n",
  "usage/guide.md": "# Guide v1\n",
};
const NEW_TREE: Tree = {
  ...Object.fromEntries(Object.entries(OLD_TREE).filter(([k]) => k !== "standards/old-name.md" && k !== "standards/removed.md")),
  "standards/testing/unit.md": "# Unit tests\n\nOne behaviour per test. Name it after the behaviour.\n",
  "standards/testing/pyramid.md": "# Pyramid\n\nMany unit tests, few end-to-end tests.\n",
  "standards/new-name.md": "# Renamed upstream\n",
  "standards/added.md": "# Added upstream\n",
  "workflows/spec_v1/phases/1/phase.md": "# Phase 1\n",
  "usage/guide.md": "# Guide v2\n",
};

/** User-owned files: they must be byte-identical after every recovery. */
export const USER_FILES: Record<string, string> = {
  ".agent-os/specs/2026-01-01-login/spec.md": "# Login spec\n",
  ".agent-os/standards/development/ours.md": "# Our conventions\n",
  "notes.txt": "not ours\n",
};

export interface Template {
  root: string;
  source: string;
  project: string;
  config: string;
}

/** A migration's project files: Cursor's entry, upstream's `.gitignore` lines, an instruction file naming the folder. */
export const MIGRATE_FILES: Record<string, string> = {
  ".cursor/mcp.json": JSON.stringify({ mcpServers: { "agent-os-rag": { command: "${workspaceFolder}/.agent-os/venv/bin/python", args: ["-m", "mcp_server"], env: { PYTHONPATH: "${workspaceFolder}/.agent-os" } } } }, null, 2) + "\n",
  ".gitignore": "node_modules/\n.agent-os/.cache/\n.agent-os/venv/\ndist/\n",
  ".cursorrules": "Read .agent-os/standards/universal/ first; search with aos_search_standards.\n",
};

/**
 * `migrate`: the source's new release is praxis-os's (its README names `.praxis-os/`), the
 * project has the files a migration changes. `dist`: then one more commit rewrites the
 * source as the `dist/` layout (`universal/` moved to `dist/universal/`, `ouroboros/` for
 * `mcp_server/`, a config template), as upstream's rewrite did.
 */
export function makeTemplate(root: string, opts: { migrate?: boolean; dist?: boolean } = {}): Template {
  const source = path.join(root, "source");
  const readme: Tree = opts.migrate ? { "README.md": "# praxis-os\n\nInstall into .praxis-os/ of your project.\n" } : {};
  const commits = makeSourceRepo(source, [{ universal: OLD_TREE }, { universal: NEW_TREE, extra: { "mcp_server/server.py": "print('v2')\n", ...readme } }]);
  if (opts.dist) rewriteAsDist(source);
  const project = path.join(root, "template");
  const install = installUniversal(project, OLD_TREE, { commit: commits[0] });
  fs.appendFileSync(path.join(install, "standards/universal/testing/pyramid.md"), "\nOur note.\n");
  for (const [rel, data] of Object.entries(USER_FILES)) {
    fs.mkdirSync(path.dirname(path.join(project, rel)), { recursive: true });
    fs.writeFileSync(path.join(project, rel), data);
  }
  fs.writeFileSync(path.join(project, ".gitignore"), "node_modules/\n");
  for (const [rel, data] of Object.entries(opts.migrate ? MIGRATE_FILES : {})) {
    fs.mkdirSync(path.dirname(path.join(project, rel)), { recursive: true });
    fs.writeFileSync(path.join(project, rel), data);
  }
  // No venv and no IDE in this sweep: validation by a live server is covered elsewhere.
  const config = path.join(root, "crash.config.json");
  fs.writeFileSync(config, JSON.stringify({ disable: ["validate"] }));
  return { root, source, project, config };
}

/** The source as praxis-os's `dist/` layout, one commit on top (see makeTemplate). */
function rewriteAsDist(source: string): void {
  const git = (...args: string[]) => execFileSync("git", ["-C", source, ...args], { stdio: "pipe" });
  fs.mkdirSync(path.join(source, "dist"), { recursive: true });
  git("mv", "universal", "dist/universal");
  git("rm", "-rq", "mcp_server");
  const files: Record<string, string> = { "dist/ouroboros/__init__.py": "VERSION = 3\n", "dist/ouroboros/requirements.txt": "", "dist/config/mcp.yaml": "version: \"1.0\"\n" };
  for (const [rel, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(source, rel)), { recursive: true });
    fs.writeFileSync(path.join(source, rel), data);
  }
  git("add", "-A");
  git("commit", "-qm", "dist/ layout");
}

/** Our records: written on purpose by an upgrade or a rollback, so not part of "the tree". */
const RECORDS = /^\.(agent|praxis)-os\/(\.backups|\.cache)(\/|$)/;
/** Values that differ between two identical upgrades: times, ids, durations. */
const VOLATILE: RegExp[] = [
  /\d{4}-\d\d-\d\dT\d\d[:-]\d\d[:-]\d\d([.-]\d+)?Z/g,
  /\d{4}-\d\d-\d\d-\d{6}(-\d+)?/g,
  /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g,
];

/**
 * The installed manifest without its `stats`: a cache of inodes and times (which files it
 * covers depends on how long ago they last changed), not content. Unparsable: as it is.
 */
function withoutStats(text: string): string {
  try {
    const { stats: _cache, ...rest } = JSON.parse(text);
    return JSON.stringify(rest);
  } catch {
    return text;
  }
}

/** Every path under the project (minus our records) with its bytes' hash; `normalize` blanks volatile values. */
export function treeHash(project: string, normalize: boolean): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(project, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (RECORDS.test(r)) continue;
      const st = fs.lstatSync(path.join(project, r));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out.set(r, `dir ${mode}`);
        walk(r);
      } else if (st.isSymbolicLink()) out.set(r, `link ${fs.readlinkSync(path.join(project, r))}`);
      else {
        let data = fs.readFileSync(path.join(project, r)).toString("latin1");
        if (normalize && r.endsWith("installed-manifest.json")) data = withoutStats(data);
        if (normalize) for (const re of VOLATILE) data = data.replace(re, "#");
        out.set(r, `file ${mode} ${createHash("sha256").update(data, "latin1").digest("hex")}`);
      }
    }
  };
  walk("");
  return out;
}

export function treeDiff(want: Map<string, string>, got: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of want) if (got.get(k) !== v) out.push(got.has(k) ? `changed ${k}` : `missing ${k}`);
  for (const k of got.keys()) if (!want.has(k)) out.push(`extra ${k}`);
  return out;
}

/** Names our atomic writers and stagers use for work in progress (any of them left = not exact). */
export const TEMP_NAME = /\.tmp$|\.tmp\.|\.staged-|\.old-|\.pending\.json$|\.takeover$/;

/**
 * A backup's copies of the files it holds: faithful copies of what was there, such as the
 * pending manifest of an upgrade stopped in its cleanup that a manual rollback kept as
 * "before rollback". The backup's own files (its manifest and their temp files) are checked.
 */
const BACKUP_COPIES = /(^|\/)\.backups\/[^/]+\/(install|project)\//;

export function tempFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (TEMP_NAME.test(e.name) && !BACKUP_COPIES.test(path.relative(dir, p))) out.push(path.relative(dir, p));
      if (e.isDirectory() && !e.isSymbolicLink()) walk(p);
    }
  };
  walk(dir);
  return out;
}

export interface FaultRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  pid: number;
}

const TSX = path.join(REPO, "node_modules/tsx/dist/esm/index.mjs");
const PRELOAD = path.join(REPO, "tests/fault/preload.ts");
const BIN = path.join(REPO, "app/bin.ts");

/** Runs the CLI on Node with the fault preload; `fault` absent: count only. */
export function runFaulted(args: string[], cwd: string, env: Record<string, string>): Promise<FaultRun> {
  const child = spawn(process.execPath.includes("deno") ? "node" : process.execPath, ["--import", TSX, "--import", PRELOAD, BIN, ...args], {
    cwd,
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  return new Promise((resolve) => child.on("close", (code, signal) => {
    clearTimeout(timer);
    resolve({ code, signal, stdout, stderr, pid: child.pid! });
  }));
}

/** The k to try: an even stride over 1..n, plus every one of the first and last `edge`. */
export function crashPoints(n: number, stride: number, edge: number): number[] {
  const ks = new Set<number>();
  for (let k = 1; k <= n; k += stride) ks.add(k);
  for (let k = 1; k <= Math.min(edge, n); k++) ks.add(k);
  for (let k = Math.max(1, n - edge + 1); k <= n; k++) ks.add(k);
  ks.add(n);
  return [...ks].sort((a, b) => a - b);
}

/** The CLI arguments of a template's upgrade, as the crash and fault tests run it (no venv, no restart, JSON). */
export const UPGRADE = (source: string, config: string) => ["--source", source, "--on-conflict", "theirs", "--yes", "--no-restart", "--skip-deps", "--config", config, "--json"];
/** The last JSON line of a run's stdout: its result. */
export const lastResult = (stdout: string) => JSON.parse(stdout.trim().split("\n").filter((l) => l.startsWith("{")).pop()!);
/** A session file of the template's project. */
export const sessionOf = (project: string, id: string) => JSON.parse(fs.readFileSync(path.join(project, ".agent-os/.cache/state", `${id}.json`), "utf8"));
