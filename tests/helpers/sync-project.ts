/**
 * Teammates' trees for `sync` (issue 19): a project repository with release 1 of the fixture
 * install committed (createUpgradeProject's: server v1, a venv from local wheels, a config
 * pointing pip at them), upgraded to release 2 by a bot with the real CLI (`--ci`: content,
 * launch entries and `.gitignore` only; the server's new requirement aou-fixture-b is not
 * installed anywhere) and committed; then a teammate's second clone of it, whose venv was
 * made for the old requirements.
 */
import fs from "node:fs";
import path from "node:path";
import { fixtureRequirements } from "../../demo/kit/fixture-server.ts";
import { createVenv } from "../../demo/kit/venv.ts";
import { sharedWheelhouse } from "../../demo/kit/wheels.ts";
import { resultOf, runCli } from "./cli.ts";
import { git } from "./content-project.ts";
import { createUpgradeProject, type UpgradeProject } from "./mcp-upgrade-project.ts";

export interface Teammate {
  up: UpgradeProject;
  /** The second clone (a teammate's machine). */
  clone: string;
  install: string;
  venv: string;
  /** The commit before the bot's upgrade, and the upgrade's. */
  commits: { installed: string; upgraded: string };
}

/** Rewrites `pyvenv.cfg`'s `command` line as `python -m venv` run in `venvDir` writes it (a copied venv names the folder it was made in). */
export function madeHere(venvDir: string): void {
  const cfg = path.join(venvDir, "pyvenv.cfg");
  fs.writeFileSync(cfg, fs.readFileSync(cfg, "utf8").replace(/^(command\s*=.*-m venv\s+(?:--?\S+\s+)*)\S+$/m, `$1${venvDir}`));
}

/** The project repository: release 1 committed, the bot's `--ci` upgrade to release 2 committed. */
async function upgradedRepository(): Promise<{ up: UpgradeProject; installed: string; upgraded: string }> {
  const up = await createUpgradeProject();
  const ws = "${workspaceFolder}";
  // As a team commits it: the launch entry names the venv relative to the workspace, not one machine's path.
  const entry = { command: `${ws}/.agent-os/venv/bin/python`, args: ["-m", "mcp_server"], env: { PYTHONPATH: `${ws}/.agent-os`, PYTHONUNBUFFERED: "1" } };
  fs.writeFileSync(path.join(up.project, ".cursor", "mcp.json"), JSON.stringify({ mcpServers: { "agent-os-rag": entry } }, null, 2) + "\n");
  // What upstream's installer git-ignores, and byte-code (the server writes it whenever it runs, as any Python project's
  // .gitignore knows); the upgrade adds its own lines (backups, lock).
  fs.writeFileSync(path.join(up.project, ".gitignore"), "node_modules/\n__pycache__/\n.agent-os/.cache/\n.agent-os/venv/\n.agent-os/.mcp_server_state.json\n");
  git(up.project, "init", "-q");
  git(up.project, "add", "-A");
  git(up.project, "commit", "-qm", "Agent OS installed");
  const installed = git(up.project, "rev-parse", "HEAD");
  const r = await runCli(["--ci", "--json", "--source", up.source], { cwd: up.project, timeoutMs: 180_000 });
  const j = resultOf(r);
  if (r.code !== 0 || j.status !== "completed") throw new Error(`the bot's upgrade failed: ${r.stderr}${r.stdout}`);
  git(up.project, "add", "-A");
  git(up.project, "commit", "-qm", "Upgrade Agent OS (bot)");
  return { up, installed, upgraded: git(up.project, "rev-parse", "HEAD") };
}

let repo: ReturnType<typeof upgradedRepository> | undefined;

export interface CloneOptions {
  /** The venv's packages; default release 1's requirements. */
  packages?: string[];
  /** false: leave the copied venv's pyvenv.cfg naming the folder it was made in (a moved venv). */
  madeHere?: boolean;
}

/** A teammate's fresh clone of the upgraded repository with a venv made for release 1's requirements (or `packages`). */
export async function teammateClone(name: string, opts: CloneOptions = {}): Promise<Teammate> {
  repo ??= upgradedRepository();
  const { up, installed, upgraded } = await repo;
  const clone = path.join(up.root, name);
  git(up.root, "clone", "-q", up.project, clone);
  const install = path.join(clone, ".agent-os");
  const venv = path.join(install, "venv");
  await createVenv(venv, { packages: opts.packages ?? fixtureRequirements("v1"), wheelhouse: await sharedWheelhouse() });
  if (opts.madeHere !== false) madeHere(venv);
  return { up, clone, install, venv, commits: { installed, upgraded } };
}
