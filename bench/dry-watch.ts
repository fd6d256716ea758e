/**
 * Benchmark: the dry run's proof (core/dry-watch.ts), one stat walk of the install. Two
 * 10k-file installs: `gen-install.ts`'s (most files in the venv, walked 3 levels deep) and
 * one whose 10k files are all content (every one walked). Each walk is alternated with its
 * baseline, `find <install> -printf '%s %T@'` (the same lstat walk in C, one process);
 * medians, and the ratio. A dry run walks twice (before and after).
 *
 *     node --import tsx bench/dry-watch.ts [--files 10000] [--runs 7]
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { snapshotInstall } from "../core/dry-watch.ts";
import { layoutOf } from "../core/layout.ts";
import { generateInstall } from "./gen-install.ts";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const FILES = arg("files", 10_000);
const RUNS = arg("runs", 7);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function contentInstall(project: string, files: number): void {
  for (let i = 0; i < files; i++) {
    const dir = path.join(project, ".agent-os", "standards", `area-${i % 50}`, `topic-${i % 7}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `doc-${i}.md`), `# doc ${i}\n`);
  }
}

function measure(label: string, project: string): void {
  const layout = layoutOf(project, path.join(project, ".agent-os"));
  const ours: number[] = [];
  const find: number[] = [];
  let entries = 0;
  for (let r = 0; r < RUNS; r++) {
    let t0 = performance.now();
    entries = snapshotInstall(layout).size;
    ours.push(performance.now() - t0);
    t0 = performance.now();
    spawnSync("find", [layout.installDir, "-printf", "%s %T@\\n"], { stdio: ["ignore", "ignore", "inherit"] });
    find.push(performance.now() - t0);
  }
  const [o, f] = [median(ours), median(find)];
  console.log(`${label}: ${entries} entries walked; the walk ${o.toFixed(1)} ms, find ${f.toFixed(1)} ms (x${(o / f).toFixed(2)}); medians of ${RUNS}`);
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), "aou-bench-watch-"));
try {
  const gen = path.join(root, "gen");
  const made = generateInstall(gen, { files: FILES, bytes: FILES * 1000 });
  measure(`gen-install (${made.files} files, venv included)`, gen);
  const content = path.join(root, "content");
  contentInstall(content, FILES);
  measure(`content only (${FILES} files)`, content);
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
