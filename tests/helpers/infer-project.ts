/**
 * Fixtures for base inference: the real releases from `demo/assets/` (through demo/kit), and installations as upstream's own installer leaves them — the mapped
 * files and nothing else: no VERSION.txt, no installed manifest.
 */
import fs from "node:fs";
import path from "node:path";
import { releaseUniversal } from "../../demo/kit/assets.ts";
import { contentPlugin } from "../../plugins/content.ts";
import type { ContentEntry, ContentPlanX } from "../../plugins/content/plan.ts";
import { installUniversal, makeCtx, runTaps, type TapRun, type Tree } from "./content-project.ts";
import type { CtxOptions } from "./content-project.ts";

/** The `universal/` folder of a real upstream release (demo/assets, the one copy), extracted once per process. */
export const assetRelease = releaseUniversal;

/** An installation with no record of what was installed, as upstream's installer makes it. */
export function installWithoutRecords(project: string, universal: string | Tree): string {
  const install = installUniversal(project, universal);
  for (const record of ["VERSION.txt", ".upgrade/installed-manifest.json"]) {
    if (fs.existsSync(path.join(install, record))) throw new Error(`installUniversal wrote ${record}`);
  }
  return install;
}

/** Plans (dry run, taps only) and returns the plan with the run. */
export async function planOf(project: string, o: CtxOptions): Promise<{ run: TapRun; plan: ContentPlanX; byTarget: Record<string, ContentEntry> }> {
  const run = await runTaps([contentPlugin()], makeCtx(project, { dryRun: true, ...o }).ctx, "plan");
  const plan = run.plan as ContentPlanX;
  if (!plan) throw new Error(`no plan: ${JSON.stringify(run.findings.errors)}`);
  return { run, plan, byTarget: Object.fromEntries((plan.entries as ContentEntry[]).map((e) => [e.target, e])) };
}

/** The source folder's files without its history: what a download (not a clone) of it gives. */
export function withoutHistory(source: string, dest: string): string {
  fs.cpSync(source, dest, { recursive: true, filter: (p) => path.basename(p) !== ".git" });
  return dest;
}
