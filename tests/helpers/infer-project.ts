/**
 * Fixtures for base inference: the real releases from `demo/assets/` (loaded from there, one
 * path constant), and installations as upstream's own installer leaves them — the mapped
 * files and nothing else: no VERSION.txt, no installed manifest.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { contentPlugin } from "../../plugins/content.ts";
import type { ContentEntry, ContentPlanX } from "../../plugins/content/plan.ts";
import { installUniversal, makeCtx, runTaps, type TapRun, type Tree } from "./content-project.ts";
import type { CtxOptions } from "./content-project.ts";

/** The real upstream releases (see its README). */
export const ASSETS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../demo/assets");

const extracted = new Map<string, string>();

/** The `universal/` folder of `demo/assets/universal-<name>.tar.gz`, extracted once per process. */
export function assetRelease(name: string): string {
  const known = extracted.get(name);
  if (known) return known;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `aou-infer-asset-${name}-`));
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  execFileSync("tar", ["xzf", path.join(ASSETS, `universal-${name}.tar.gz`), "-C", dir]);
  const u = path.join(dir, "universal");
  extracted.set(name, u);
  return u;
}

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
