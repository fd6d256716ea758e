/**
 * Every layout upstream ships, as data (issue 22). A layout says where a source keeps what
 * an installation holds, which folder it installs into, who owns each path and how an
 * upgrade changes it, which server package it runs and with which required arguments, where
 * each agent keeps its MCP launch entry, which `.gitignore` lines it needs and how its tools
 * are named. Every plugin derives its paths from the layout of the run (`layouts/detect.ts`);
 * a new upstream layout is a new declaration here, not new code paths.
 */
import type { OwnedPath } from "./ownership.ts";

export type LayoutId = "agent-os-enhanced" | "praxis-os-2025-10" | "praxis-os-dist";

/** One agent's MCP launch entries: a JSON file of the project and the object in it that holds them. */
export interface LaunchLocation {
  agent: string;
  /** Relative to the project root. */
  file: string;
  /** Keys from the file's top level to the object of server entries, e.g. `["mcpServers"]`. */
  at: readonly string[];
}

export interface ServerDecl {
  /** The server folder, relative to the installation (and the Python package it holds). */
  folder: string;
  /** The module `python -m` runs. */
  module: string;
  /** Relative to the installation. */
  requirements: string;
  /** Arguments without which the server refuses to start (the newest server requires `--transport`). */
  requiredArgs: readonly string[];
  /**
   * Tools every server of the layout registers: what validation expects after a migration
   * to it that rewrote the server (the old server's tools then name nothing the new one has).
   * Empty: the old server's tools are expected, renamed by the tool prefix.
   */
  tools: readonly string[];
}

export interface LayoutDecl {
  id: LayoutId;
  /** How a person names it. */
  title: string;
  /** The installation folder in the project. */
  installDir: ".agent-os" | ".praxis-os";
  /** Later layouts of the same lineage have a higher generation: a move to one is a migration. */
  generation: number;
  /** Source folders every checkout of this layout has (the detection's first test). */
  sourceMarkers: readonly string[];
  /** Install paths a complete installation has (checked in pre-flight). */
  installMarkers: readonly string[];
  /** The ownership table of this layout (SPEC §2), install-relative. */
  paths: readonly OwnedPath[];
  server: ServerDecl;
  /** Where each agent keeps its launch entries (MCP), project-relative. */
  launch: readonly LaunchLocation[];
  /** `.gitignore` lines upstream's installer writes for it. */
  gitignore: readonly string[];
  /** Prefix of the server's own tools (`aos_search_standards` → `pos_search_standards`). */
  toolPrefix: "aos_" | "pos_";
  /** Tools of earlier layouts this one's server names otherwise (after the prefix), for `autoApprove` lists a migration moves. */
  toolRenames: Readonly<Record<string, string>>;
  /** Layouts `migrate` moves an installation from into this one (the same content paths, the folder renamed). */
  migratesFrom: readonly LayoutId[];
}

const USER_FOLDERS: readonly OwnedPath[] = [
  { install: "standards/development", owner: "user", mode: "never" },
  { install: "specs", owner: "user", mode: "never" },
  { install: "workspace", owner: "user", mode: "never" },
];

/** The one place both October layouts kept their launch entry; the November guide added four agents. */
const CURSOR_ONLY: readonly LaunchLocation[] = [{ agent: "Cursor", file: ".cursor/mcp.json", at: ["mcpServers"] }];

const FIVE_AGENTS: readonly LaunchLocation[] = [
  ...CURSOR_ONLY,
  { agent: "Cline", file: ".vscode/settings.json", at: ["cline.mcpServers"] },
  { agent: "Claude Code (VS Code)", file: ".vscode/settings.json", at: ["claude-code.mcpServers"] },
  { agent: "Claude Code CLI", file: ".mcp.json", at: ["mcpServers"] },
  { agent: "Copilot", file: ".vscode/mcp.json", at: ["servers"] },
];

/** `universal/` + `mcp_server/`: agent-os-enhanced, and praxis-os until its `dist/` rewrite. */
function classicPaths(): OwnedPath[] {
  return [
    { install: "standards/universal", source: "universal/standards", owner: "system", mode: "three-way" },
    { install: "workflows", source: "universal/workflows", owner: "system", mode: "three-way" },
    { install: "usage", source: "universal/usage", owner: "shared", mode: "three-way" },
    { install: "mcp_server", source: "mcp_server", owner: "system", mode: "replace" },
    { install: "scripts", source: "scripts", owner: "system", mode: "replace" },
    { install: "venv", owner: "system", mode: "deps" },
    ...USER_FOLDERS,
    { install: "config.json", owner: "user", mode: "never" },
  ];
}

const classicServer: ServerDecl = { folder: "mcp_server", module: "mcp_server", requirements: "mcp_server/requirements.txt", requiredArgs: [], tools: [] };

const gitignoreOf = (dir: string): string[] => [`${dir}/.cache/`, `${dir}/venv/`, `${dir}/.mcp_server_state.json`];

export const LAYOUTS: readonly LayoutDecl[] = Object.freeze([
  {
    id: "agent-os-enhanced",
    title: "agent-os-enhanced (universal/ + mcp_server/ → .agent-os/)",
    installDir: ".agent-os",
    generation: 1,
    sourceMarkers: ["universal", "mcp_server"],
    installMarkers: ["standards", "mcp_server"],
    paths: classicPaths(),
    server: classicServer,
    launch: CURSOR_ONLY,
    gitignore: gitignoreOf(".agent-os"),
    toolPrefix: "aos_",
    toolRenames: {},
    migratesFrom: [],
  },
  {
    id: "praxis-os-2025-10",
    title: "praxis-os of October 2025 (universal/ + mcp_server/ → .praxis-os/)",
    installDir: ".praxis-os",
    generation: 2,
    sourceMarkers: ["universal", "mcp_server"],
    installMarkers: ["standards", "mcp_server"],
    paths: classicPaths(),
    server: classicServer,
    launch: CURSOR_ONLY,
    gitignore: gitignoreOf(".praxis-os"),
    toolPrefix: "pos_",
    toolRenames: {},
    migratesFrom: ["agent-os-enhanced"],
  },
  {
    id: "praxis-os-dist",
    title: "praxis-os with dist/ and ouroboros (dist/universal/ + dist/ouroboros/ → .praxis-os/)",
    installDir: ".praxis-os",
    generation: 3,
    sourceMarkers: ["dist/universal", "dist/ouroboros"],
    installMarkers: ["standards", "ouroboros"],
    paths: [
      { install: "standards/universal", source: "dist/universal/standards", owner: "system", mode: "three-way" },
      { install: "workflows", source: "dist/universal/workflows", owner: "system", mode: "three-way" },
      { install: "usage", source: "dist/universal/usage", owner: "shared", mode: "three-way" },
      // The config template the user edits (indexes, partitions): merged like shared content.
      { install: "config", source: "dist/config", owner: "shared", mode: "three-way" },
      { install: "ouroboros", source: "dist/ouroboros", owner: "system", mode: "replace" },
      { install: "scripts", source: "dist/scripts", owner: "system", mode: "replace" },
      { install: "venv", owner: "system", mode: "deps" },
      ...USER_FOLDERS,
    ],
    server: {
      folder: "ouroboros",
      module: "ouroboros",
      requirements: "ouroboros/requirements.txt",
      requiredArgs: ["--transport"],
      // DIST-LAYOUT.md: the `pos_` tools plus get_server_info and current_date.
      tools: ["current_date", "get_server_info", "pos_browser", "pos_filesystem", "pos_search_project", "pos_workflow"],
    },
    launch: FIVE_AGENTS,
    gitignore: [...gitignoreOf(".praxis-os"), ".praxis-os/workspace/"],
    toolPrefix: "pos_",
    // Upstream's own port of its standards rewrote every `search_standards` call as `pos_search_project`.
    toolRenames: { search_standards: "pos_search_project", pos_search_standards: "pos_search_project" },
    // The content's source paths differ from the installed commit's (universal/ → dist/universal/): the base is read through the old layout's paths.
    migratesFrom: ["agent-os-enhanced"],
  },
] as const satisfies readonly LayoutDecl[]);

export function layoutById(id: string): LayoutDecl | undefined {
  return LAYOUTS.find((l) => l.id === id);
}

/** The layout's paths with a given upgrade mode. */
export const layoutPathsWith = (l: LayoutDecl, mode: OwnedPath["mode"]): string[] => l.paths.filter((p) => p.mode === mode).map((p) => p.install);

/** The layout's user-owned paths: never written, checked unchanged after the upgrade. */
export const layoutUserPaths = (l: LayoutDecl): string[] => l.paths.filter((p) => p.owner === "user").map((p) => p.install);

/** One line per layout, for `--help` and the README. */
export function describeLayouts(): string {
  return LAYOUTS.map((l) => `${l.id}: ${l.title}`).join("\n");
}

/**
 * `text` with every path segment named `from` (an installation folder's name, `.agent-os`)
 * named `to`: a migration's launch entries, `.gitignore` lines and instruction files.
 */
export function renameFolderIn(text: string, from: string, to: string): string {
  const esc = from.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return text.replace(new RegExp(`(^|[/\\\\\\s:;=\`'"(])${esc}(?=$|[/\\\\:;\`'")\\s])`, "gm"), `$1${to}`);
}
