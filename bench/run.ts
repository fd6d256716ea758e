/**
 * `npm run bench`: every benchmark in this folder, in turn, at its default size. Each prints
 * its own figures and ratios against a baseline measured in the same run; see the file
 * comments of `scoped.ts` (issue 9's table), `backup.ts`, `content-plan.ts` and `content-infer.ts` for larger sizes.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
// The startup and real-CLI rows time the package as users run it: build it from these sources first.
const build = spawnSync("npm", ["run", "build"], { cwd: path.dirname(here), stdio: ["ignore", "ignore", "inherit"] });
if (build.status !== 0) process.exit(1);
let failed = 0;
for (const file of ["scoped.ts", "content-plan.ts", "content-infer.ts", "backup.ts"]) {
  console.log(`\n== bench/${file} ==`);
  const r = spawnSync(process.execPath, [...process.execArgv, path.join(here, file), ...process.argv.slice(2)], { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
