/**
 * Real installs for the realinst tests: a fixture MCP project (real venv, real source repo)
 * plus an `upgrade.config.ts` that runs the built-in plugins as a user would, with pip kept
 * offline (the wheelhouse) unless a test names another index.
 */
import fs from "node:fs";
import path from "node:path";
import { resolveConfig, type ResolvedConfig } from "../../core/config.ts";
import type { RunOptions, UpgradeResult } from "../../core/types.ts";
import { runLifecycle } from "../../core/upgrader.ts";
import { builtinPlugins, depsPlugin, serverPlugin, validatePlugin } from "../../plugins/mod.ts";
import { pipInstall } from "../../plugins/server/pip.ts";
import { REPO } from "./cli.ts";
import { createMcpProject, type McpProject, type McpProjectOptions } from "./mcp-project.ts";
import { snapshotTree } from "../../demo/kit/tree.ts";
import { git } from "./project.ts";
import { offlinePipArgs } from "../../demo/kit/wheels.ts";
import * as assert from "uvu/assert";
import { EXIT } from "../../core/errors.ts";
import { resultOf, runCli } from "./cli.ts";
import { toRunOptions, type FlatRunOptions } from "./run-options.ts";

export interface RealConfig {
  disable?: string[];
  /** pip arguments of the deps plugin; default offline from the wheelhouse. */
  pipArgs?: string[];
  /** Extra top-level config lines, e.g. `noValidate: true,`. */
  extra?: string;
}

/** Writes the project's upgrade.config.ts. */
export function writeRealConfig(p: McpProject, c: RealConfig = {}): string {
  const file = path.join(p.project, "upgrade.config.ts");
  const pipArgs = c.pipArgs ?? offlinePipArgs(p.wheelhouse);
  fs.writeFileSync(file, `import { depsPlugin, serverPlugin, validatePlugin } from ${JSON.stringify(path.join(REPO, "plugins/mod.ts"))};
export default {
  onConflict: "theirs",
  disable: ${JSON.stringify(c.disable ?? [])},
  ${c.extra ?? ""}
  plugins: [
    depsPlugin({ extraArgs: ${JSON.stringify(pipArgs)}, retries: 0 }),
    serverPlugin({ startTimeoutMs: 10_000 }),
    validatePlugin({ timeoutMs: 10_000, probeBeforeTimeoutMs: 10_000 }),
  ],
};
`);
  return file;
}

/** Installs packages into the project's venv from the wheelhouse (e.g. what the new server needs, ahead of time). */
export async function preinstall(p: McpProject, packages: string[]): Promise<void> {
  const req = path.join(p.root, "pre-requirements.txt");
  fs.writeFileSync(req, packages.join("\n") + "\n");
  const r = await pipInstall({ python: p.venv.python, requirements: req, extraArgs: offlinePipArgs(p.wheelhouse), retries: 0 });
  fs.rmSync(req);
  if (!r.ok) throw new Error(`preinstall failed: ${r.error}`);
}

/** The standard a later release of the source adds: installed only when the content phase runs. */
export const ADDED_LATER = "testing/added-later.md";

/** A fixture project whose source has a second release adding a standard (so the inferred base is the first). */
export async function realProject(o: McpProjectOptions = {}): Promise<McpProject> {
  const p = await createMcpProject(o);
  addLaterRelease(p.source);
  return p;
}

export function addLaterRelease(source: string): void {
  fs.mkdirSync(path.join(source, "universal", "standards", "testing"), { recursive: true });
  fs.writeFileSync(path.join(source, "universal", "standards", ADDED_LATER), "# Added in a later release\n");
  git(source, "add", "-A");
  git(source, "commit", "-qm", "Later release: a new standard");
}

/** The project tree with mtimes, minus byte-code a server probe may leave (never: probes run with PYTHONDONTWRITEBYTECODE). */
export const treeOf = (p: McpProject) => snapshotTree(p.project, { mtime: true });

/** The run options of a CLI `upgrade --source <p.source> --json`, for in-process runs. */
export function realOptions(p: McpProject, o: FlatRunOptions = {}): RunOptions {
  return toRunOptions({
    source: p.source, target: p.project, dryRun: false, diff: false, onConflict: "theirs", yes: false, json: true,
    restart: true, skipDeps: false, keepBackups: 3, from: null, interactive: false, noValidate: false, ...o,
  });
}

/** The config `writeRealConfig` writes, resolved in-process (the same composition the CLI does). */
export function realConfig(p: McpProject, c: RealConfig = {}): ResolvedConfig {
  const raw = {
    onConflict: "theirs",
    disable: c.disable ?? [],
    plugins: [
      depsPlugin({ extraArgs: c.pipArgs ?? offlinePipArgs(p.wheelhouse), retries: 0 }),
      serverPlugin({ startTimeoutMs: 10_000 }),
      validatePlugin({ timeoutMs: 10_000, probeBeforeTimeoutMs: 10_000 }),
    ],
  };
  return resolveConfig(raw, path.join(p.project, "upgrade.config.ts"), builtinPlugins());
}

/** One upgrade in-process with the real built-ins (quicker than a CLI child: no TypeScript loader start-up). */
export function realUpgrade(p: McpProject, c: RealConfig = {}, o: FlatRunOptions = {}): Promise<UpgradeResult> {
  return runLifecycle({ resolved: realConfig(p, c), options: realOptions(p, o) });
}

/** A real project with the user's config, remembered for `cleanupProjects`. */
export async function trackedProject(projects: McpProject[], o: Parameters<typeof realProject>[0]): Promise<McpProject> {
  const p = await realProject(o);
  projects.push(p);
  writeRealConfig(p);
  return p;
}

/** Project and source, with mtimes: "nothing written" means this is identical afterwards. */
const bothTrees = (p: McpProject) => ({ project: snapshotTree(p.project, { mtime: true }), source: snapshotTree(p.source, { mtime: true }) });

/** The upgrade is refused in pre-flight because the installed server cannot start: exit 4, both ways out named, nothing written. */
export async function assertServerRefused(p: McpProject, reason: RegExp): Promise<Array<{ code: string; message: string; fix: string }>> {
  const before = bothTrees(p);
  const r = await runCli(["--source", p.source, "--json"], { cwd: p.project, timeoutMs: 120_000 });
  assert.is(r.code, EXIT.preflight, r.stdout + r.stderr);
  const res = resultOf(r);
  const errors = res.findings.filter((f: { level: string }) => f.level === "error");
  const f = errors.find((e: { code: string }) => e.code === "SERVER_CANNOT_START");
  assert.ok(f, `a SERVER_CANNOT_START finding in ${JSON.stringify(errors)}`);
  assert.match(f.message, reason);
  // Both ways out, with this project's exact paths.
  assert.match(f.fix, `"${p.install}/venv/bin/python" -m pip install -r "${p.install}/mcp_server/requirements.txt"`);
  assert.match(f.fix, "--no-validate");
  assert.is(res.session_id, null);
  assert.equal(bothTrees(p), before, "byte- and mtime-identical project and source");
  return errors;
}
