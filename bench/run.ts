/**
 * `npm run bench`: every benchmark in this folder, in turn, at its default size. Each prints
 * its own figures and ratios against a baseline measured in the same run; see the file
 * comments of `scoped.ts` (issue 9's table), `backup.ts`, `content-plan.ts` and `content-infer.ts` for larger sizes.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
let failed = 0;
for (const file of ["scoped.ts", "content-plan.ts", "content-infer.ts", "backup.ts"]) {
  console.log(`\n== bench/${file} ==`);
  const r = spawnSync(process.execPath, [...process.execArgv, path.join(here, file), ...process.argv.slice(2)], { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
