/**
 * A/B of a first upgrade (issue 24 item 1): this build's CLI against another build's, on
 * projects made by bench/kit.ts exactly as users.ts's `real` row makes them (the two real
 * releases plus `--bulk` bulk content files, a real venv, VERSION.txt only or no record),
 * alternated in one loop (the order swaps every round), medians of wall time and the peak
 * RSS of each (GNU time's %M). Every round upgrades a fresh pair of identical projects, or,
 * with `--dry-run`, dry-runs the same project with each build. Both builds must be built
 * (`npm run build`); the project's `upgrade.config.mjs` is pointed at the build that runs.
 *
 *     node --import tsx bench/content-first.ts --baseline <checkout with dist/> [--bulk 16000] [--rounds 5] [--dry-run] [--record none]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { BIN, fmt, makeProject, makeSource, median, mib, NEW_RELEASE, OLD_RELEASE, ROOT, settle, timed, type Timed } from "./kit.ts";

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const BASELINE = arg("baseline", "");
const BULK = Number(arg("bulk", "16000"));
const ROUNDS = Number(arg("rounds", "5"));
const DRY = process.argv.includes("--dry-run");
const RECORD = arg("record", "version") === "none" ? "none" : "version";
if (!BASELINE || !fs.existsSync(path.join(BASELINE, "dist/app/bin.js"))) {
  console.error("Usage: content-first.ts --baseline <a checkout with dist/ built> [--bulk N] [--rounds N] [--dry-run] [--record none]");
  process.exit(2);
}

const builds = { ours: ROOT, base: path.resolve(BASELINE) };
type Build = keyof typeof builds;

/** The project's config names the deps plugin of the build that runs (a module of the other build would be a stranger). */
function pointConfigAt(project: string, build: Build): void {
  const file = path.join(project, "upgrade.config.mjs");
  const text = fs.readFileSync(file, "utf8").replace(/from "[^"]*dist\/plugins\/mod\.js"/, `from ${JSON.stringify(path.join(builds[build], "dist/plugins/mod.js"))}`);
  fs.writeFileSync(file, text);
}

function run(build: Build, project: string, source: string): Timed {
  pointConfigAt(project, build);
  const bin = build === "ours" ? BIN : path.join(builds.base, "dist/app/bin.js");
  return timed(process.execPath, [bin, "--source", source, "--yes", ...(DRY ? ["--dry-run"] : [])], project);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "aou-bench-first-"));
try {
  const src = path.join(work, "src");
  const [c1] = makeSource(src, [{ release: OLD_RELEASE, server: "v1", bulk: BULK }, { release: NEW_RELEASE, server: "v2", bulk: BULK }]);
  const samples: Record<Build, Timed[]> = { ours: [], base: [] };
  const dryProject = DRY ? await makeProject(path.join(work, "p-dry"), src, c1, RECORD) : null;
  let files = dryProject?.contentFiles ?? 0;
  for (let r = 0; r < ROUNDS; r++) {
    const order: Build[] = r % 2 ? ["base", "ours"] : ["ours", "base"];
    const projects: Record<Build, string> = { ours: dryProject?.dir ?? "", base: dryProject?.dir ?? "" };
    if (!DRY) {
      for (const b of order) {
        const p = await makeProject(path.join(work, `p-${r}-${b}`), src, c1, RECORD);
        projects[b] = p.dir;
        files = p.contentFiles;
      }
    }
    for (const b of order) {
      settle();
      samples[b].push(run(b, projects[b], src));
    }
    if (!DRY) for (const b of order) fs.rmSync(projects[b], { recursive: true, force: true });
  }
  const load = fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const o = median(samples.ours.map((t) => t.ms));
  const b = median(samples.base.map((t) => t.ms));
  const peak = (xs: Timed[]) => mib(median(xs.map((t) => t.peakKib)));
  console.log(`${DRY ? "--dry-run " : ""}first upgrade, ${files} content files (${RECORD === "version" ? "VERSION.txt" : "no record"}), ${ROUNDS} rounds alternated, load ${load}`);
  console.log(`  ours ${fmt(o)} (peak ${peak(samples.ours)}: ${samples.ours.map((t) => fmt(t.ms)).join(", ")})`);
  console.log(`  base ${fmt(b)} (peak ${peak(samples.base)}: ${samples.base.map((t) => fmt(t.ms)).join(", ")})`);
  console.log(`  ratio ours/base ${(o / b).toFixed(2)}x`);
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
