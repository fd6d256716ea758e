/**
 * Benchmark: planning the content upgrade of a 10k-file installation (SPEC target: < 2 s).
 * Generates a git source whose history holds an old and a new release (10% of the files
 * edited upstream, 2% added, 1% deleted), installs the old one with user edits in 1% of
 * the files, then times the planner with each base: the installed manifest, and the
 * source's git history at VERSION.txt's commit (which reads every base blob).
 *
 *     node --import tsx bench/content-plan.ts [--files 10000] [--runs 3]
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildPlan } from "../plugins/content/build.ts";
import { ContentOptions } from "../plugins/content/options.ts";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const FILES = arg("files", 10_000);
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

const root = fs.mkdtempSync(path.join(os.tmpdir(), "aou-bench-content-"));
try {
  const t0 = performance.now();
  const source = path.join(root, "source");
  fs.mkdirSync(source);
  git(source, "init", "-q");
  for (let i = 0; i < FILES; i++) write(source, relOf(i), body(i, 1));
  git(source, "add", "-A");
  git(source, "commit", "-q", "-m", "old");
  const oldCommit = git(source, "rev-parse", "HEAD");

  const project = path.join(root, "proj");
  const install = path.join(project, ".agent-os");
  const manifest: Record<string, string> = {};
  for (let i = 0; i < FILES; i++) {
    const data = body(i, 1);
    write(install, targetOf(relOf(i)), data);
    manifest[targetOf(relOf(i))] = createHash("sha256").update(data).digest("hex");
  }
  fs.writeFileSync(path.join(install, "VERSION.txt"), `commit=${oldCommit}\n`);
  for (let i = 0; i < FILES; i += 100) fs.appendFileSync(path.join(install, targetOf(relOf(i))), "\nLocal note.\n");

  for (let i = 0; i < FILES; i += 10) write(source, relOf(i + 5), body(i + 5, 2));
  for (let i = 0; i < FILES / 50; i++) write(source, relOf(FILES + i), body(FILES + i, 2));
  for (let i = 7; i < FILES; i += 100) fs.rmSync(path.join(source, relOf(i)));
  git(source, "add", "-A");
  git(source, "commit", "-q", "-m", "new");
  const genMs = performance.now() - t0;

  const options = ContentOptions.parse({});
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
  const gitMs = await time("base: git history");
  fs.mkdirSync(path.dirname(request.installedManifest), { recursive: true });
  fs.writeFileSync(request.installedManifest, JSON.stringify({ schema_version: 1, source_commit: oldCommit, version: null, installed_at: new Date().toISOString(), files: manifest }));
  const manifestMs = await time("base: installed manifest");
  const worst = Math.max(gitMs, manifestMs);
  console.log(`planning ${FILES} files: ${(worst / 1000).toFixed(2)} s worst median (target < 2 s): ${worst < 2000 ? "ok" : "TOO SLOW"}`);
  process.exitCode = worst < 2000 ? 0 : 1;
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
