/**
 * Benchmark: planning the content upgrade of a 10k-file installation (issue 9: < 1 s).
 * Generates a git source whose history holds an old and a new release (10% of the files
 * edited upstream, 2% added, 1% deleted), installs the old one with user edits in 1% of
 * the files, then times the planner with each base: the source's git history at
 * VERSION.txt's commit, the installed manifest as upstream-era tools leave it (hashes only),
 * and as our upgrades leave it (with the stats that spare reading unchanged files). Then
 * the whole `--dry-run` (the CLI, one process) against `git diff --stat` of the two releases,
 * and where its time goes: start-up (`--version`), the plan (its --verbose line), the rest.
 *
 * With `--baseline <folder>` (another build's checkout, e.g. `git archive main | tar -x -C
 * /tmp/base` with node_modules linked), the first upgrade of an install that records only
 * VERSION.txt is dry-run by both builds alternated in one run, with `git diff --stat` between
 * them: wall time and peak RSS (`/usr/bin/time -f %M`), medians.
 *
 *     node --import tsx bench/content-plan.ts [--files 10000] [--runs 3] [--baseline <folder>]
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildPlan } from "../plugins/content/build.ts";
import { contentSettings } from "../plugins/content/options.ts";
import { statKey } from "../plugins/content/manifest.ts";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const FILES = arg("files", 10_000);
const BASELINE = process.argv.includes("--baseline") ? path.resolve(process.argv[process.argv.indexOf("--baseline") + 1]) : null;
const RUNS = arg("runs", 3);

function git(cwd: string, ...args: string[]) {
  return execFileSync("git", ["-c", "user.name=bench", "-c", "user.email=bench@example.com", "-c", "commit.gpgsign=false", ...args], { cwd, encoding: "utf8", maxBuffer: 1 << 28 }).trim();
}

/** A deterministic body of 0.5–4 KB for file i at version v. */
function body(i: number, v: number): string {
  const n = 8 + (i * 7919) % 56;
  let s = `# Standard ${i}\n\nVersion ${v}.\n\n`;
  for (let k = 0; k < n; k++) s += `- rule ${i}.${k}: keep things simple, measure before optimising (${(i * 31 + k) % 97})\n`;
  return s;
}

const relOf = (i: number) => {
  const top = ["universal/standards", "universal/workflows", "universal/usage"][i % 10 === 0 ? 2 : i % 3 === 0 ? 1 : 0];
  return `${top}/area-${i % 40}/topic-${(i >> 3) % 25}/doc-${i}.md`;
};
const targetOf = (rel: string) => rel.replace(/^universal\/standards\//, "standards/universal/").replace(/^universal\//, "");

function write(root: string, rel: string, data: string) {
  const abs = path.join(root, rel);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, data);
}

/** The CLI of a checkout: its build when it has one, else its sources through tsx. */
const cliOf = (dir: string) => fs.existsSync(path.join(dir, "dist/app/bin.js"))
  ? [path.join(dir, "dist/app/bin.js")]
  : ["--import", path.join(ROOT, "node_modules/tsx/dist/esm/index.mjs"), path.join(dir, "app/bin.ts")];

/** Wall time and peak RSS (KiB) of one process. */
function measured(cmd: string, args: string[], cwd: string): { ms: number; kib: number; stdout: string } {
  const t = performance.now();
  const r = spawnSync("/usr/bin/time", ["-f", "%M", cmd, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", maxBuffer: 1 << 28 });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: exit ${r.status}: ${r.stderr}`);
  return { ms, kib: Number(r.stderr.trim().split("\n").at(-1)), stdout: r.stdout };
}

/** `--dry-run` of a first upgrade (VERSION.txt only), this build against `baseline`'s, alternated with `git diff --stat`. */
function firstUpgradeAB(source: string, project: string, oldCommit: string, baseline: string) {
  const args = ["--source", source, "--dry-run", "--no-validate", "--on-conflict", "keep", "--verbose"];
  const builds = { this: cliOf(ROOT), baseline: cliOf(baseline) };
  const rows: Record<string, { ms: number[]; kib: number[]; plan: number[] }> = { git: { ms: [], kib: [], plan: [] }, this: { ms: [], kib: [], plan: [] }, baseline: { ms: [], kib: [], plan: [] } };
  for (let r = 0; r < RUNS; r++) {
    const g = measured("git", ["diff", "--stat", oldCommit, "HEAD"], source);
    rows.git.ms.push(g.ms);
    rows.git.kib.push(g.kib);
    // Alternated, the order flipped every round: neither build always runs on a warmer cache.
    for (const name of r % 2 ? ["baseline", "this"] as const : ["this", "baseline"] as const) {
      const d = measured(process.execPath, [...builds[name], ...args], project);
      rows[name].ms.push(d.ms);
      rows[name].kib.push(d.kib);
      rows[name].plan.push(Number(/(?:content: plan built|content planned) \(ms=(\d+)/.exec(d.stdout)?.[1] ?? NaN));
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const gitMs = med(rows.git.ms);
  console.log(`  first upgrade (VERSION.txt only) --dry-run, alternated, medians of ${RUNS}: git diff --stat ${(gitMs / 1000).toFixed(2)} s`);
  for (const name of ["this", "baseline"] as const) {
    const x = rows[name];
    console.log(`    ${name.padEnd(8)} ${(med(x.ms) / 1000).toFixed(2)} s = ${(med(x.ms) / gitMs).toFixed(1)}x git diff --stat; plan ${(med(x.plan) / 1000).toFixed(2)} s; peak RSS ${(med(x.kib) / 1024).toFixed(0)} MiB  (walls: ${x.ms.map((m) => (m / 1000).toFixed(2)).join(", ")})`);
  }
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), "aou-bench-content-"));
try {
  const t0 = performance.now();
  const source = path.join(root, "source");
  fs.mkdirSync(source);
  git(source, "init", "-q");
  for (let i = 0; i < FILES; i++) write(source, relOf(i), body(i, 1));
  write(source, "mcp_server/__init__.py", "VERSION = 1\n");
  git(source, "add", "-A");
  git(source, "commit", "-q", "-m", "old");
  const oldCommit = git(source, "rev-parse", "HEAD");

  const project = path.join(root, "proj");
  const install = path.join(project, ".agent-os");
  const manifest: Record<string, string> = {};
  const sourceOf: Record<string, string> = {};
  for (let i = 0; i < FILES; i++) {
    const data = body(i, 1);
    write(install, targetOf(relOf(i)), data);
    manifest[targetOf(relOf(i))] = createHash("sha256").update(data).digest("hex");
    sourceOf[targetOf(relOf(i))] = relOf(i);
  }
  fs.writeFileSync(path.join(install, "VERSION.txt"), `commit=${oldCommit}\n`);
  write(install, "mcp_server/__init__.py", "VERSION = 1\n");
  for (let i = 0; i < FILES; i += 100) fs.appendFileSync(path.join(install, targetOf(relOf(i))), "\nLocal note.\n");

  for (let i = 0; i < FILES; i += 10) write(source, relOf(i + 5), body(i + 5, 2));
  for (let i = 0; i < FILES / 50; i++) write(source, relOf(FILES + i), body(FILES + i, 2));
  for (let i = 7; i < FILES; i += 100) fs.rmSync(path.join(source, relOf(i)));
  git(source, "add", "-A");
  git(source, "commit", "-q", "-m", "new");
  const genMs = performance.now() - t0;

  const options = contentSettings();
  const request = {
    sourceRoot: source,
    projectRoot: project,
    installDir: install,
    installedManifest: path.join(install, ".upgrade/installed-manifest.json"),
    versionFile: path.join(install, "VERSION.txt"),
    gitignoreFile: path.join(project, ".gitignore"),
    from: null,
    policy: "merge" as const,
    options,
  };

  const time = async (label: string) => {
    const ms: number[] = [];
    let counts = {};
    for (let r = 0; r < RUNS; r++) {
      const t = performance.now();
      const { plan } = await buildPlan(request);
      ms.push(performance.now() - t);
      counts = plan.counts;
    }
    ms.sort((a, b) => a - b);
    const median = ms[Math.floor(ms.length / 2)];
    console.log(`  ${label.padEnd(22)} median ${(median / 1000).toFixed(2)} s  (runs: ${ms.map((m) => (m / 1000).toFixed(2)).join(", ")})  ${JSON.stringify(counts)}`);
    return median;
  };

  console.log(`content plan of a ${FILES}-file installation (generated in ${(genMs / 1000).toFixed(1)} s), ${RUNS} runs each:`);
  if (BASELINE) firstUpgradeAB(source, project, oldCommit, BASELINE);
  const gitMs = await time("base: git history");
  fs.mkdirSync(path.dirname(request.installedManifest), { recursive: true });
  const manifestOf = (stats?: Record<string, string>) => JSON.stringify({ schema_version: 1, source_commit: oldCommit, version: null, installed_at: new Date().toISOString(), files: manifest, ...(stats ? { stats } : {}) });
  fs.writeFileSync(request.installedManifest, manifestOf());
  const manifestMs = await time("base: installed manifest");
  // As an upgrade of ours records them: the stat of every file whose bytes hash to its entry.
  const stats: Record<string, string> = {};
  for (const [target, hash] of Object.entries(manifest)) {
    const abs = path.join(install, target);
    // Unedited, so upstream's file at the installed commit: the source path goes with it.
    if (createHash("sha256").update(fs.readFileSync(abs)).digest("hex") === hash) stats[target] = `${statKey(fs.lstatSync(abs))}:0:${sourceOf[target]}`;
  }
  fs.writeFileSync(request.installedManifest, manifestOf(stats));
  const statsMs = await time("base: manifest + stats");
  const worst = Math.max(gitMs, manifestMs, statsMs);
  console.log(`planning ${FILES} files: ${(statsMs / 1000).toFixed(2)} s after an upgrade of ours (target < 1 s): ${statsMs < 1000 ? "ok" : "OVER"}; worst base ${(worst / 1000).toFixed(2)} s`);

  // The whole dry run, as a user runs it, against git's own diff of the two releases.
  const cli = fs.existsSync(path.join(ROOT, "dist/app/bin.js"))
    ? [path.join(ROOT, "dist/app/bin.js")]
    : ["--import", path.join(ROOT, "node_modules/tsx/dist/esm/index.mjs"), path.join(ROOT, "app/bin.ts")];
  const wall = (cmd: string, args: string[], cwd: string) => {
    const t = performance.now();
    const r = spawnSync(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", maxBuffer: 1 << 28 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: exit ${r.status}: ${r.stderr}`);
    return { ms: performance.now() - t, stdout: r.stdout };
  };
  const dry: number[] = [];
  const diff: number[] = [];
  const planned: number[] = [];
  const lines: number[] = [];
  const empty: number[] = [];
  const dryArgs = ["--source", source, "--dry-run", "--no-validate", "--on-conflict", "keep"];
  for (let r = 0; r < RUNS; r++) {
    diff.push(wall("git", ["diff", "--stat", oldCommit, "HEAD"], source).ms);
    // --verbose adds the plan's own time (one debug line each), not a measurable cost.
    const d = wall(process.execPath, [...cli, ...dryArgs, "--verbose"], project);
    dry.push(d.ms);
    // The plan's own time; a build from before the plan started in pre-flight only logs the engine's "content planned".
    planned.push(Number(/(?:content: plan built|content planned) \(ms=(\d+)/.exec(d.stdout)?.[1] ?? NaN));
    lines.push(d.stdout.split("\n").length);
    // The same process doing nothing: start-up, config and exit, the floor of any command.
    empty.push(wall(process.execPath, [...cli, "--version"], project).ms);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const s2 = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`  --dry-run (CLI, ${cli.length === 1 ? "built" : "tsx"}) median ${s2(med(dry))} vs git diff --stat ${s2(med(diff))}: ${(med(dry) / med(diff)).toFixed(1)}x`);
  // Where a dry run's time goes: start-up (--version), the plan (as the run timed it), and the rest (pre-flight's git and checks, printing ~lines).
  const rest = med(dry) - med(planned) - med(empty);
  console.log(`  --dry-run breakdown: start-up ${s2(med(empty))}, plan ${s2(med(planned))} (${(med(planned) / med(dry) * 100).toFixed(0)}% of the run), the rest ${s2(rest)} (${med(lines)} lines printed); dry run / its plan ${(med(dry) / med(planned)).toFixed(2)}x`);
  process.exitCode = 0;
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
