/**
 * Installs a release of a `dist/` source into a project as praxis-os's installer does
 * (DIST-LAYOUT.md): the ref's tree exported to a temp folder (upstream clones `--depth 1`),
 * copied into `.praxis-os/` by the layout's table, user folders created, a real venv with
 * the server's requirements (optional), and the MCP launch entries of the five agents, the
 * `.gitignore` lines and the instruction files. No version record is written.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { OUROBOROS_ARGS, parseRequirements } from "./dist-server.ts";
import { copyTree } from "./tree.ts";
import { createVenv } from "./venv.ts";
import { sharedWheelhouse } from "./wheels.ts";

/** Source folder (in the checkout) → install folder (under `.praxis-os/`), as the installer copies them. */
export const DIST_INSTALL_MAP: ReadonlyArray<readonly [string, string]> = Object.freeze([
  ["dist/universal/standards", "standards/universal"],
  ["dist/universal/workflows", "workflows"],
  ["dist/universal/usage", "usage"],
  ["dist/ouroboros", "ouroboros"],
  ["dist/scripts", "scripts"],
  ["dist/config/mcp.yaml", "config/mcp.yaml"],
] as const);

/** The user's folders the installer creates empty. */
export const DIST_USER_DIRS: readonly string[] = Object.freeze([
  "standards/development", "specs/approved", "specs/completed", "specs/review",
  "workspace/design", "workspace/analysis", "workspace/scratch",
]);

export const DIST_GITIGNORE: readonly string[] = Object.freeze([
  ".praxis-os/.cache/", ".praxis-os/venv/", ".praxis-os/workspace/", ".praxis-os/.mcp_server_state.json",
]);

export type DistAgent = "cursor" | "cline" | "claude-code" | "claude-cli" | "copilot";

/** Where each agent's launch entry lives: the file (from the project) and the keys to the servers map. */
export const DIST_AGENT_ENTRIES: Readonly<Record<DistAgent, { file: string; keys: readonly string[] }>> = Object.freeze({
  "cursor": { file: ".cursor/mcp.json", keys: ["mcpServers"] },
  "cline": { file: ".vscode/settings.json", keys: ["cline.mcpServers"] },
  "claude-code": { file: ".vscode/settings.json", keys: ["claude-code.mcpServers"] },
  "claude-cli": { file: ".mcp.json", keys: ["mcpServers"] },
  "copilot": { file: ".vscode/mcp.json", keys: ["servers"] },
});

export const DIST_AGENTS = Object.keys(DIST_AGENT_ENTRIES) as DistAgent[];

/** The instruction files the installer writes (or extends) for the assistants. */
export const DIST_INSTRUCTION_FILES: readonly string[] = Object.freeze([".cursorrules", ".clinerules", ".claude/CLAUDE.md", ".github/copilot-instructions.md"]);

const INSTRUCTIONS = "# prAxIs OS\n\nThis project uses prAxIs OS: standards, workflows and specs live in `.praxis-os/`.\n" +
  "Search them with the `pos_search_project` tool before writing code.\n";

export interface LaunchEntry {
  command: string;
  args: string[];
  env: Record<string, string>;
}

export interface InstallDistOptions {
  /** Create `.praxis-os/venv` with the server's requirements (offline, from the wheelhouse). Default true. */
  venv?: boolean;
  /** The wheel folder pip reads. Default the kit's shared wheelhouse. */
  wheelhouse?: string;
  /** The agents to write entries for. Default all five. */
  agents?: readonly DistAgent[];
  /** The entries' server key. Default the project folder's name (the newest guide's choice). */
  key?: string;
}

export interface DistInstall {
  project: string;
  /** `<project>/.praxis-os` */
  install: string;
  /** `<install>/venv/bin/python` (absolute; present only when the venv was created). */
  python: string;
  key: string;
  /** The entry every agent got. */
  launch: LaunchEntry;
  agents: DistAgent[];
}

/** The ref's tree in a temp folder (removed by the caller). */
function exportRef(source: string, ref: string): string {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "aou-dist-export-"));
  const tar = path.join(tmp, "tree.tar");
  execFileSync("git", ["-C", source, "archive", "--format=tar", "-o", tar, ref]);
  const tree = path.join(tmp, "tree");
  fs.mkdirSync(tree);
  execFileSync("tar", ["xf", tar, "-C", tree]);
  return tmp;
}

function copyByTable(tree: string, install: string): void {
  for (const [from, to] of DIST_INSTALL_MAP) {
    const src = path.join(tree, from);
    const dst = path.join(install, to);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    if (fs.statSync(src).isDirectory()) copyTree(src, dst);
    else fs.copyFileSync(src, dst);
  }
  for (const dir of DIST_USER_DIRS) fs.mkdirSync(path.join(install, dir), { recursive: true });
}

/** Installs `ref` of the dist source at `source` into `<project>/.praxis-os` (see the file comment). */
export async function installDist(project: string, source: string, ref: string, opts: InstallDistOptions = {}): Promise<DistInstall> {
  const install = path.join(project, ".praxis-os");
  if (fs.existsSync(install)) throw new Error(`Cannot install: ${install} already exists`);
  const tmp = exportRef(source, ref);
  try {
    copyByTable(path.join(tmp, "tree"), install);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const python = path.join(install, "venv", "bin", "python");
  if (opts.venv !== false) await installVenv(install, opts.wheelhouse ?? await sharedWheelhouse());
  const key = opts.key ?? path.basename(project);
  const launch = distLaunchEntry(project);
  const agents = [...(opts.agents ?? DIST_AGENTS)];
  for (const agent of agents) writeAgentEntry(project, agent, key, launch);
  writeGitignore(project);
  for (const file of DIST_INSTRUCTION_FILES) writeInstructions(path.join(project, file));
  return { project, install, python, key, launch, agents };
}

/** `python -m venv` + `pip install -r ouroboros/requirements.txt`, offline (through the kit's venv cache). */
async function installVenv(install: string, wheelhouse: string): Promise<void> {
  const requirements = parseRequirements(fs.readFileSync(path.join(install, "ouroboros", "requirements.txt"), "utf8"));
  await createVenv(path.join(install, "venv"), { packages: requirements, wheelhouse });
}

/** The launch entry the installer writes for a project: the venv's python, absolute paths. */
export function distLaunchEntry(project: string): LaunchEntry {
  const install = path.join(project, ".praxis-os");
  return {
    command: path.join(install, "venv", "bin", "python"),
    args: [...OUROBOROS_ARGS],
    env: { PYTHONPATH: install, PROJECT_ROOT: project },
  };
}

function readJson(file: string): Record<string, unknown> {
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
}

/** Adds (or replaces) `key` in an agent's servers map, keeping every other key of the file. */
export function writeAgentEntry(project: string, agent: DistAgent, key: string, entry: LaunchEntry): void {
  const { file, keys } = DIST_AGENT_ENTRIES[agent];
  const abs = path.join(project, file);
  const json = readJson(abs);
  let map = json;
  for (const k of keys) map = (map[k] ??= {}) as Record<string, unknown>;
  map[key] = entry;
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  fs.writeFileSync(abs, JSON.stringify(json, null, 2) + "\n");
}

/** An agent's launch entry under `key`, or undefined. */
export function readAgentEntry(project: string, agent: DistAgent, key: string): LaunchEntry | undefined {
  const { file, keys } = DIST_AGENT_ENTRIES[agent];
  let node: unknown = readJson(path.join(project, file));
  for (const k of [...keys, key]) node = (node as Record<string, unknown> | undefined)?.[k];
  return node as LaunchEntry | undefined;
}

/** Appends the missing `.gitignore` lines, keeping the file's content. */
function writeGitignore(project: string): void {
  const file = path.join(project, ".gitignore");
  const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  const have = new Set(text.split("\n").map((l) => l.trim()));
  const missing = DIST_GITIGNORE.filter((l) => !have.has(l));
  if (missing.length === 0) return;
  const sep = text === "" || text.endsWith("\n") ? "" : "\n";
  fs.writeFileSync(file, `${text}${sep}${text ? "\n" : ""}# prAxIs OS\n${missing.join("\n")}\n`);
}

/** Writes an instruction file, or appends the section to one that does not mention `.praxis-os/` yet. */
function writeInstructions(file: string): void {
  const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  if (text.includes(".praxis-os/")) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text ? `${text}${text.endsWith("\n") ? "" : "\n"}\n${INSTRUCTIONS}` : INSTRUCTIONS);
}

/** Replaces `<install>/ouroboros` exactly with `ref`'s `dist/ouroboros` (an upgrade's server swap, by hand). */
export function replaceOuroboros(install: string, source: string, ref: string): void {
  const tmp = exportRef(source, ref);
  try {
    fs.rmSync(path.join(install, "ouroboros"), { recursive: true, force: true });
    copyTree(path.join(tmp, "tree", "dist", "ouroboros"), path.join(install, "ouroboros"));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
