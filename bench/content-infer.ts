/**
 * Benchmark: inferring the installed commit from the source's history (an installation that
 * records nothing). Two histories:
 *   real       the two releases of demo/assets (ced34ea, then 395aab3), ced34ea installed;
 *   synthetic  a generated history of 1,000 commits (edits, renames, additions, deletions;
 *              written with git fast-import), installed at commit 400 with user edits and
 *              files hand-copied from commit 700.
 * Each is timed against baselines measured in the same run: the very `git log --raw` the
 * inference reads (git's own cost, the floor), and the whole plan with the installed commit
 * recorded (VERSION.txt commit=) against the whole plan that has to infer it.
 *
 *     node --import tsx bench/content-infer.ts [--commits 1000] [--tree 300] [--runs 7]
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildPlan, type PlanRequest } from "../plugins/content/build.ts";
import { firstParentHistory } from "../plugins/content/gitobj.ts";
import { gitBlobId } from "../plugins/content/hash.ts";
import { inferBase } from "../plugins/content/infer.ts";
import { contentSettings } from "../plugins/content/options.ts";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const COMMITS = arg("commits", 1000);
const FILES = arg("tree", 300);
const RUNS = arg("runs", 7);
const ASSETS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../demo/assets");
const DIRS = ["universal/standards", "universal/workflows", "universal/usage"];

function git(cwd: string, args: string[], input?: string) {
  return execFileSync("git", ["-c", "user.name=bench", "-c", "user.email=bench@example.com", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", ...args], {
    cwd,
    input,
    encoding: "utf8",
    maxBuffer: 1 << 30,
  }).trim();
}

const targetOf = (rel: string) => rel.replace(/^universal\/standards\//, "standards/universal/").replace(/^universal\//, "");

function write(root: string, rel: string, data: string | Buffer) {
  const abs = path.join(root, rel);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, data);
}

/** Installs the mapped files of a commit's tree, as upstream's installer does (no records). */
function installCommit(source: string, commit: string, install: string) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "aou-bench-infer-archive-"));
  try {
    execFileSync("sh", ["-c", `git -C "${source}" archive ${commit} universal | tar -x -C "${tmp}"`]);
    const walk = (dir: string, rel: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const r = `${rel}/${e.name}`;
        if (e.isDirectory()) walk(path.join(dir, e.name), r);
        else if (DIRS.some((d) => r.startsWith(d + "/"))) write(install, targetOf(r), fs.readFileSync(path.join(dir, e.name)));
      }
    };
    walk(path.join(tmp, "universal"), "universal");
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  for (const d of ["standards", "workflows", "mcp_server"]) fs.mkdirSync(path.join(install, d), { recursive: true });
}

/** A deterministic body for file i at version v. */
function body(i: number, v: number): string {
  let s = `# Document ${i}\n\nRevision ${v}.\n\n`;
  for (let k = 0; k < 6 + (i % 20); k++) s += `- point ${i}.${k}: say what you mean (${(i * 31 + k) % 97})\n`;
  return s;
}

/** A history of `commits` commits over about `files` files, written with git fast-import (seconds, not minutes). */
function synthetic(source: string, commits: number, files: number): string[] {
  fs.mkdirSync(source, { recursive: true });
  git(source, ["init", "-q"]);
  const top = (i: number) => DIRS[i % 10 === 0 ? 2 : i % 3 === 0 ? 1 : 0];
  const paths = new Map<number, string>();
  const version = new Map<number, number>();
  let next = 0;
  const chunks: string[] = [];
  const data = (s: string) => `data ${Buffer.byteLength(s)}\n${s}\n`;
  const add = (ops: string[]) => {
    const i = next++;
    const p = `${top(i)}/area-${i % 12}/doc-${i}.md`;
    paths.set(i, p);
    version.set(i, 1);
    ops.push(`M 100644 inline ${p}\n${data(body(i, 1))}`);
  };
  for (let c = 0; c < commits; c++) {
    const ops: string[] = [];
    if (c === 0) {
      for (let k = 0; k < files; k++) add(ops);
      ops.push(`M 100644 inline mcp_server/__init__.py\n${data("VERSION = 1\n")}`);
    } else {
      const live = [...paths.keys()];
      for (let k = 0; k < 3; k++) {
        const i = live[(c * 7 + k * 13) % live.length];
        const v = version.get(i)! + 1;
        version.set(i, v);
        ops.push(`M 100644 inline ${paths.get(i)}\n${data(body(i, v))}`);
      }
      if (c % 10 === 0) {
        const i = live[(c * 3) % live.length];
        const to = `${top(i + 1)}/moved-${c}/doc-${i}.md`;
        ops.push(`R ${paths.get(i)} ${to}\n`);
        paths.set(i, to);
      }
      if (c % 20 === 0) add(ops);
      if (c % 25 === 0) {
        const i = live[(c * 11) % live.length];
        ops.push(`D ${paths.get(i)}\n`);
        paths.delete(i);
      }
    }
    chunks.push(`commit refs/heads/main\ncommitter bench <bench@example.com> ${1_700_000_000 + c * 60} +0000\n${data(`commit ${c}`)}${ops.join("")}\n`);
  }
  execFileSync("git", ["fast-import", "--quiet"], { cwd: source, input: chunks.join(""), maxBuffer: 1 << 30 });
  git(source, ["checkout", "-q", "-f", "main"]);
  return git(source, ["rev-list", "--reverse", "HEAD"]).split("\n");
}

/**
 * Medians of `RUNS` timings of `a` and of `b`, run alternately after one warm-up each, so
 * that the load of a shared machine weighs on both alike. In ms.
 */
async function pairedMedians(a: () => Promise<unknown> | unknown, b: () => Promise<unknown> | unknown): Promise<[number, number]> {
  await a();
  await b();
  const ta: number[] = [];
  const tb: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    for (const [fn, out] of [[a, ta], [b, tb]] as const) {
      const t = performance.now();
      await fn();
      out.push(performance.now() - t);
    }
  }
  const mid = (ms: number[]) => ms.sort((x, y) => x - y)[Math.floor(ms.length / 2)];
  return [mid(ta), mid(tb)];
}

function request(source: string, project: string): PlanRequest {
  const install = path.join(project, ".agent-os");
  return {
    sourceRoot: source,
    projectRoot: project,
    installDir: install,
    installedManifest: path.join(install, ".upgrade/installed-manifest.json"),
    versionFile: path.join(install, "VERSION.txt"),
    gitignoreFile: path.join(project, ".gitignore"),
    from: null,
    policy: "merge",
    options: contentSettings(),
  };
}

/** git blob ids of the installation's mapped files, by source path (what the planner hands the inference). */
function localOids(install: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string, rel: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(dir, e.name), `${rel}/${e.name}`);
      else out.set(`${rel}/${e.name}`, gitBlobId(fs.readFileSync(path.join(dir, e.name))));
    }
  };
  for (const [to, from] of [["standards/universal", "universal/standards"], ["workflows", "universal/workflows"], ["usage", "universal/usage"]]) {
    const dir = path.join(install, to);
    if (fs.existsSync(dir)) walk(dir, from);
  }
  return out;
}

async function measure(label: string, source: string, project: string, installed: string) {
  const req = request(source, project);
  const local = localOids(req.installDir);
  let found = "";
  const [logMs, inferMs] = await pairedMedians(
    () => spawnSync("git", ["-C", source, "log", "--first-parent", "--diff-merges=first-parent", "--reverse", "--raw", "-z", "--no-abbrev", "-M", "--format=%x01%H", "HEAD", "--", ...DIRS], { maxBuffer: 1 << 30 }),
    async () => {
      const inf = inferBase(await firstParentHistory(source, DIRS), local);
      found = `${inf.commit?.slice(0, 7)}: ${inf.matched} of ${inf.total} files match (${inf.unedited} unedited)`;
    },
  );
  let inferredPlan = "";
  let recordedPlan = "";
  const [planRecordedMs, planInferredMs] = await pairedMedians(
    async () => {
      fs.writeFileSync(req.versionFile, `commit=${installed}\n`);
      const { plan } = await buildPlan(req);
      recordedPlan = `${plan.counts.conflicts} conflicts`;
    },
    async () => {
      fs.rmSync(req.versionFile, { force: true });
      const { plan } = await buildPlan(req);
      inferredPlan = `${plan.base.via} ${plan.base.ref?.slice(0, 7)}, ${plan.counts.conflicts} conflicts`;
    },
  );
  const commits = git(source, ["rev-list", "--count", "HEAD"]);
  console.log(`${label}: ${commits} commits, installed ${installed.slice(0, 7)}; inferred ${found}`);
  console.log(`  git log --raw (baseline)      ${logMs.toFixed(1)} ms`);
  console.log(`  inference (log pass + replay) ${inferMs.toFixed(1)} ms   ratio ${(inferMs / logMs).toFixed(2)}× the git log`);
  console.log(`  plan, recorded commit         ${planRecordedMs.toFixed(1)} ms   (${recordedPlan})`);
  console.log(`  plan, inferred commit         ${planInferredMs.toFixed(1)} ms   ratio ${(planInferredMs / planRecordedMs).toFixed(2)}× the recorded one (${inferredPlan})`);
  if (!found.startsWith(installed.slice(0, 7))) {
    console.log(`  WRONG: inferred ${found}, installed ${installed.slice(0, 7)}`);
    process.exitCode = 1;
  }
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), "aou-bench-infer-"));
try {
  console.log(`inferring the installed commit, median of ${RUNS} runs:`);
  // The real releases.
  const real = path.join(root, "real");
  fs.mkdirSync(real);
  git(real, ["init", "-q"]);
  const releases: string[] = [];
  for (const name of ["ced34ea", "395aab3"]) {
    fs.rmSync(path.join(real, "universal"), { recursive: true, force: true });
    execFileSync("tar", ["xzf", path.join(ASSETS, `universal-${name}.tar.gz`), "-C", real]);
    write(real, "mcp_server/__init__.py", `RELEASE = "${name}"\n`);
    git(real, ["add", "-A"]);
    git(real, ["commit", "-q", "-m", name]);
    releases.push(git(real, ["rev-parse", "HEAD"]));
  }
  const realProject = path.join(root, "real-proj");
  installCommit(real, releases[0], path.join(realProject, ".agent-os"));
  await measure("real (demo/assets)", real, realProject, releases[0]);

  // The synthetic history.
  const t0 = performance.now();
  const syn = path.join(root, "synthetic");
  const ids = synthetic(syn, COMMITS, FILES);
  const at = ids[Math.floor(COMMITS * 0.4)];
  const synProject = path.join(root, "syn-proj");
  const install = path.join(synProject, ".agent-os");
  installCommit(syn, at, install);
  // User edits in 2% of the files, and three files hand-copied from a later commit.
  const files = [...localOids(install).keys()];
  files.forEach((f, k) => {
    if (k % 50 === 0) fs.appendFileSync(path.join(install, targetOf(f)), "\nOur note.\n");
  });
  const later = ids[Math.floor(COMMITS * 0.7)];
  const atLater = new Set(git(syn, ["ls-tree", "-r", "--name-only", later, "--", ...DIRS]).split("\n"));
  for (const f of files.filter((f) => atLater.has(f)).slice(1, 4)) write(install, targetOf(f), execFileSync("git", ["-C", syn, "show", `${later}:${f}`]));
  console.log(`(synthetic history generated in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  await measure(`synthetic`, syn, synProject, at);
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
