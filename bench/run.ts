/**
 * `npm run bench`: every benchmark in this folder, in turn, at its default size. Each prints
 * its own figures and ratios against a baseline measured in the same run. `users.ts` is the
 * bench of what users run (the built CLI, default flags; bench/README.md lists its rows);
 * `content-plan.ts` and `content-infer.ts` take the planner apart.
 *
 *     npm run bench                          # everything (the 100k rows with AOU_BENCH_100K=1)
 *     AOU_BENCH_ONLY=prune npm run bench     # one row (or several, comma-separated) of users.ts alone
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
// Every row times the package as users run it: build it from these sources first.
const build = spawnSync("npm", ["run", "build"], { cwd: path.dirname(here), stdio: ["ignore", "ignore", "inherit"] });
if (build.status !== 0) process.exit(1);
const files = process.env.AOU_BENCH_ONLY ? ["users.ts"] : ["users.ts", "content-plan.ts", "content-infer.ts"];
let failed = 0;
for (const file of files) {
  console.log(`\n== bench/${file} ==`);
  const r = spawnSync(process.execPath, [...process.execArgv, path.join(here, file), ...process.argv.slice(2)], { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
