/**
 * How this project's MCP server is launched: from the config, else from the project's
 * `.cursor/mcp.json` entry, else the SPEC default (`<install>/venv/bin/python -m mcp_server
 * --transport dual`, `PYTHONPATH=<install>`). Also the launch-argument migration: whether a
 * new server needs `--transport`, and the pure functions that rewrite mcp.json's args.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { LAYOUTS } from "../layouts.ts";

export interface LaunchSpec {
  command: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
}

export interface LaunchCommand {
  command: string;
  args: string[];
  /** Only the configured variables; see `serverEnv` for the full environment to spawn with. */
  env: Record<string, string>;
  cwd: string;
  source: "config" | "mcp.json" | "default";
  /** The mcp.json `mcpServers` key, when the command came from there. */
  serverName?: string;
}

export interface ResolveLaunchOptions {
  projectRoot: string;
  /** The installation folder (`<project>/.agent-os`). */
  installDir: string;
  /** A launch command from the config: wins over mcp.json. */
  explicit?: LaunchSpec;
  /** Default `<projectRoot>/.cursor/mcp.json`. */
  mcpJsonPath?: string;
  /** The server module of the layout, for the default line (default `mcp_server`). */
  module?: string;
}

export interface McpServerEntry {
  command: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  [key: string]: unknown;
}

export interface McpJson {
  mcpServers?: Record<string, McpServerEntry>;
  [key: string]: unknown;
}

export type McpJsonRead =
  | { status: "absent"; path: string }
  | { status: "invalid"; path: string; error: string }
  | { status: "ok"; path: string; text: string; data: McpJson };

/** Reads an mcp.json without judging it: absent, invalid (with the parse error), or parsed. */
export function readMcpJson(file: string): McpJsonRead {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { status: "absent", path: file };
    return { status: "invalid", path: file, error: (err as Error).message };
  }
  try {
    const data = JSON.parse(text) as unknown;
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      return { status: "invalid", path: file, error: "the top level is not an object" };
    }
    const servers = (data as McpJson).mcpServers;
    if (servers !== undefined && (typeof servers !== "object" || servers === null || Array.isArray(servers))) {
      return { status: "invalid", path: file, error: '"mcpServers" is not an object' };
    }
    return { status: "ok", path: file, text, data: data as McpJson };
  } catch (err) {
    return { status: "invalid", path: file, error: (err as Error).message };
  }
}

/** The server packages of every known layout: `mcp_server`, `ouroboros`. */
const SERVER_MODULES = [...new Set(LAYOUTS.map((l) => l.server.module))];
const RUNS_SERVER = new RegExp(`(^|[\\\\/.\\s])(${SERVER_MODULES.join("|")})(\\.py)?$|^(${SERVER_MODULES.join("|")})\\b`);

/** True when a launch command runs a known layout's server package (`-m mcp_server`, `-m ouroboros`, a path to it, …). */
export function runsMcpServer(entry: { command?: unknown; args?: unknown }): boolean {
  const words = [entry.command, ...(Array.isArray(entry.args) ? entry.args : [])];
  return words.some((w) => typeof w === "string" && RUNS_SERVER.test(w));
}

/**
 * The mcp.json entry that launches this installation's server: among the entries that run
 * `mcp_server`, the one whose PYTHONPATH/command/cwd names the install, else the only one.
 */
export function findServerEntry(
  data: McpJson,
  vars: ExpandVars,
  installDir: string,
): { name: string; entry: McpServerEntry } | undefined {
  const candidates = Object.entries(data.mcpServers ?? {})
    .filter(([, entry]) => typeof entry === "object" && entry !== null && runsMcpServer(entry));
  const install = path.resolve(installDir);
  const mentionsInstall = (entry: McpServerEntry): boolean => {
    const texts = [entry.command, entry.cwd, ...(entry.args ?? []), ...Object.values(entry.env ?? {})]
      .filter((t): t is string => typeof t === "string")
      .map((t) => expandVars(t, vars));
    return texts.some((t) =>
      t.split(path.delimiter).some((part) => part !== "" && isInside(path.resolve(vars.workspaceFolder, part), install))
    );
  };
  const match = candidates.find(([, entry]) => mentionsInstall(entry)) ?? (candidates.length === 1 ? candidates[0] : undefined);
  return match ? { name: match[0], entry: match[1] } : undefined;
}

/** True when `p` is `dir` or lies inside it. */
export function isInside(p: string, dir: string): boolean {
  const rel = path.relative(dir, p);
  return rel === "" || (rel.split(path.sep)[0] !== ".." && !path.isAbsolute(rel));
}

export interface ExpandVars {
  workspaceFolder: string;
}

/** Expands the variables editors allow in mcp.json: ${workspaceFolder}, ${workspaceFolderBasename}, ${userHome}, ${env:NAME}. */
export function expandVars(text: string, vars: ExpandVars): string {
  return text.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
    if (name === "workspaceFolder") return vars.workspaceFolder;
    if (name === "workspaceFolderBasename") return path.basename(vars.workspaceFolder);
    if (name === "userHome") return os.homedir();
    if (name.startsWith("env:")) return process.env[name.slice(4)] ?? "";
    return whole;
  });
}

/** The launch command: explicit (config) > the project's mcp.json entry > the SPEC default. */
export function resolveLaunch(options: ResolveLaunchOptions): LaunchCommand {
  const projectRoot = path.resolve(options.projectRoot);
  const installDir = path.resolve(options.installDir);
  const vars = { workspaceFolder: projectRoot };
  const expand = (spec: LaunchSpec) => ({
    command: expandVars(spec.command, vars),
    args: (spec.args ?? []).map((a) => expandVars(a, vars)),
    env: Object.fromEntries(Object.entries(spec.env ?? {}).map(([k, v]) => [k, expandVars(String(v), vars)])),
    cwd: spec.cwd ? path.resolve(projectRoot, expandVars(spec.cwd, vars)) : projectRoot,
  });
  if (options.explicit) return { ...expand(options.explicit), source: "config" };

  const read = readMcpJson(options.mcpJsonPath ?? path.join(projectRoot, ".cursor", "mcp.json"));
  if (read.status === "invalid") {
    throw new Error(`Cannot read the launch command from "${read.path}": ${read.error}`);
  }
  if (read.status === "ok") {
    const found = findServerEntry(read.data, vars, installDir);
    if (found) return { ...expand(found.entry), source: "mcp.json", serverName: found.name };
  }
  return {
    command: path.join(installDir, "venv", "bin", "python"),
    args: ["-m", options.module ?? "mcp_server", "--transport", "dual"],
    env: { PYTHONPATH: installDir, PROJECT_ROOT: projectRoot },
    cwd: projectRoot,
    source: "default",
  };
}

const INHERITED_ENV = ["HOME", "LANG", "LC_ALL", "LOGNAME", "PATH", "SHELL", "TERM", "TMPDIR", "USER"];

/** The environment to spawn a server with: a few inherited basics, unbuffered Python output, then the configured variables. */
export function serverEnv(env: Record<string, string>): Record<string, string> {
  const base: Record<string, string> = {};
  for (const key of INHERITED_ENV) {
    const value = process.env[key];
    if (value !== undefined) base[key] = value;
  }
  return { ...base, PYTHONUNBUFFERED: "1", ...env };
}

/**
 * Whether a server folder's entry point knows `--transport` (required upstream since
 * 2025-10-11). Looks at `__main__.py`, else every top-level `.py` file.
 */
export function needsTransportArg(serverDir: string): { needed: boolean; file?: string } {
  const main = path.join(serverDir, "__main__.py");
  const files = fs.existsSync(main)
    ? [main]
    : fs.readdirSync(serverDir).filter((f) => f.endsWith(".py")).sort().map((f) => path.join(serverDir, f));
  for (const file of files) {
    if (/["']--transport["']/.test(fs.readFileSync(file, "utf8"))) return { needed: true, file };
  }
  return { needed: false };
}

/** The value of `--transport` in an argument list (`--transport X` or `--transport=X`), if any. */
export function transportOf(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--transport") return args[i + 1];
    if (args[i].startsWith("--transport=")) return args[i].slice("--transport=".length);
  }
  return undefined;
}

/** Sets `--transport` to `value`, replacing an existing one (in either form) or appending it. */
export function withTransport(args: readonly string[], value: string): string[] {
  const out: string[] = [];
  let replaced = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--transport") {
      out.push("--transport", value);
      i++;
      replaced = true;
    } else if (args[i].startsWith("--transport=")) {
      out.push(`--transport=${value}`);
      replaced = true;
    } else {
      out.push(args[i]);
    }
  }
  return replaced ? out : [...out, "--transport", value];
}

/**
 * The migration's decision for a launch command's args: unchanged when the new server does
 * not need `--transport` or the args already choose one (the user's choice is kept), else
 * the args plus `--transport <transport>`.
 */
export function migrateLaunchArgs(
  args: readonly string[],
  needed: boolean,
  transport = "dual",
): { args: string[]; changed: boolean } {
  if (!needed || transportOf(args) !== undefined) return { args: [...args], changed: false };
  return { args: withTransport(args, transport), changed: true };
}

/** A copy of mcp.json with one server entry's args replaced; every other key is kept as it was. */
export function withServerArgs(data: McpJson, serverName: string, args: readonly string[]): McpJson {
  const entry = data.mcpServers?.[serverName];
  if (!entry) throw new Error(`Cannot update "${serverName}": mcp.json has no such server entry`);
  return { ...data, mcpServers: { ...data.mcpServers, [serverName]: { ...entry, args: [...args] } } };
}

/** Serialises mcp.json with the original text's indentation (default two spaces) and a final newline. */
export function formatMcpJson(data: McpJson, originalText?: string): string {
  const indent = /^[ \t]+(?=")/m.exec(originalText ?? "")?.[0] ?? "  ";
  return `${JSON.stringify(data, null, indent)}\n`;
}
