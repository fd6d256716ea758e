/**
 * A project with praxis-os's `dist/` layout installed from fixture release 1, beside a source
 * checkout at release 2 (demo/kit/dist-*.ts) — the shape of issue 22's "must show":
 *
 *   <root>/source/{dist/…, scripts, installation, pyproject.toml}   tags v1, v2; HEAD = v2
 *   <root>/<name>/.praxis-os/{standards/universal, workflows, usage, ouroboros (1), scripts,
 *                             config/mcp.yaml, user folders, venv}
 *   <root>/<name>/{.cursor/mcp.json, .vscode/settings.json (+ editor.tabSize), .vscode/mcp.json,
 *                  .mcp.json, .gitignore, instruction files}
 *
 * By default the user has edited two standards (one release 2 edits, one it moves) and
 * added a code partition to `config/mcp.yaml`; each merges cleanly with release 2. It is an
 * `McpProject`, so `writeRealConfig`, `realUpgrade` and friends (realinst.ts) take it as is.
 */
import fs from "node:fs";
import path from "node:path";
import { type DistAgent, type DistInstall, installDist } from "../../demo/kit/dist-install.ts";
import { type DistSource, editStandardAsUser, makeDistSource, USER_STANDARD_EDITS } from "../../demo/kit/dist-source.ts";
import { editMcpYamlAsUser } from "../../demo/kit/dist-texts.ts";
import { sharedWheelhouse } from "../../demo/kit/wheels.ts";
import type { McpProject } from "./mcp-project.ts";
import { tmpDir } from "./temp.ts";

export interface DistProjectOptions {
  /** Create the venv with release 1's requirements. Default true. */
  venv?: boolean;
  /** Apply the user's edits (USER_STANDARD_EDITS, the mcp.yaml partition). Default true. */
  userEdits?: boolean;
  /** Agents to write launch entries for. Default all five. */
  agents?: DistAgent[];
  /** The project folder's name, also the entries' key. Default "webapp". */
  name?: string;
}

export interface DistProject extends McpProject {
  dist: DistSource;
  installed: DistInstall;
}

/** The user's edits on an installed release 1 (see the file comment). */
export function applyUserEdits(install: string): void {
  for (const rel of Object.keys(USER_STANDARD_EDITS)) {
    const file = path.join(install, "standards", "universal", rel);
    fs.writeFileSync(file, editStandardAsUser(rel, fs.readFileSync(file, "utf8")));
  }
  const config = path.join(install, "config", "mcp.yaml");
  fs.writeFileSync(config, editMcpYamlAsUser(fs.readFileSync(config, "utf8")));
}

/** Builds the source, installs release 1 into the project and applies the user's edits. */
export async function createDistProject(options: DistProjectOptions = {}): Promise<DistProject> {
  const root = tmpDir("distproj");
  const project = path.join(root, options.name ?? "webapp");
  const dist = makeDistSource(path.join(root, "source"));
  fs.mkdirSync(path.join(project, ".vscode"), { recursive: true });
  fs.writeFileSync(path.join(project, ".vscode", "settings.json"), JSON.stringify({ "editor.tabSize": 2 }, null, 2) + "\n");
  const wheelhouse = await sharedWheelhouse();
  const installed = await installDist(project, dist.dir, "v1", { venv: options.venv !== false, wheelhouse, agents: options.agents });
  if (options.userEdits !== false) applyUserEdits(installed.install);
  return {
    root,
    project,
    install: installed.install,
    venv: { dir: path.join(installed.install, "venv"), python: installed.python },
    mcpJson: path.join(project, ".cursor", "mcp.json"),
    source: dist.dir,
    sourceCommit: dist.commits.v2,
    wheelhouse,
    launch: installed.launch,
    cleanup: () => fs.rmSync(root, { recursive: true, force: true }),
    dist,
    installed,
  };
}
