/**
 * Every agent's MCP launch entry for this installation (issue 22 item 2): Cursor's
 * `.cursor/mcp.json`, Cline's and Claude Code's keys in `.vscode/settings.json`, Claude
 * Code CLI's `.mcp.json`, Copilot's `.vscode/mcp.json` — wherever a layout says an agent keeps
 * them. An entry is ours by what it runs (a known server package, naming this installation),
 * never by its key. Files are read as JSON with comments (VS Code's settings are), and an
 * edit changes only the entry's `args`: the user's other keys, entries and comments stay
 * byte for byte.
 */
import fs from "node:fs";
import path from "node:path";
import * as jsonc from "jsonc-parser";
import { LAYOUTS, type LaunchLocation } from "../layouts.ts";
import { expandVars, isInside, type McpServerEntry, runsMcpServer } from "./launch.ts";

/** Every place any known layout keeps launch entries (an older install may have all five). */
export const LAUNCH_LOCATIONS: readonly LaunchLocation[] = (() => {
  const seen = new Map<string, LaunchLocation>();
  for (const l of LAYOUTS) for (const loc of l.launch) seen.set(`${loc.file}#${loc.at.join(".")}`, loc);
  return [...seen.values()];
})();

/** The launch files, project-relative, once each. */
export const LAUNCH_FILES: readonly string[] = [...new Set(LAUNCH_LOCATIONS.map((l) => l.file))];

export type LaunchFileRead =
  | { status: "absent"; path: string }
  | { status: "invalid"; path: string; error: string }
  | { status: "ok"; path: string; text: string; data: Record<string, unknown>; strict: boolean };

/** Reads a launch file: absent, invalid (with where), or parsed (comments and trailing commas allowed). */
export function readLaunchFile(file: string): LaunchFileRead {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { status: "absent", path: file };
    return { status: "invalid", path: file, error: (err as Error).message };
  }
  const errors: jsonc.ParseError[] = [];
  const data = jsonc.parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length) {
    const e = errors[0];
    const line = text.slice(0, e.offset).split("\n").length;
    return { status: "invalid", path: file, error: `${jsonc.printParseErrorCode(e.error)} at line ${line}` };
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) return { status: "invalid", path: file, error: "the top level is not an object" };
  let strict = true;
  try {
    JSON.parse(text);
  } catch {
    strict = false;
  }
  return { status: "ok", path: file, text, data: data as Record<string, unknown>, strict };
}

export interface LaunchEntry {
  agent: string;
  /** Absolute path of its file. */
  file: string;
  at: readonly string[];
  /** The entry's key (the server's name in that agent). */
  name: string;
  entry: McpServerEntry;
}

const serversAt = (data: Record<string, unknown>, at: readonly string[]): Record<string, unknown> | null => {
  let cur: unknown = data;
  for (const k of at) cur = cur && typeof cur === "object" && !Array.isArray(cur) ? (cur as Record<string, unknown>)[k] : undefined;
  return cur && typeof cur === "object" && !Array.isArray(cur) ? cur as Record<string, unknown> : null;
};

/** Whether an entry's command, working folder, arguments or environment name this installation (at any of its names: a migration moves it). */
function namesInstall(entry: McpServerEntry, projectRoot: string, installDirs: readonly string[]): boolean {
  const texts = [entry.command, entry.cwd, ...(entry.args ?? []), ...Object.values(entry.env ?? {})]
    .filter((t): t is string => typeof t === "string")
    .map((t) => expandVars(t, { workspaceFolder: projectRoot }));
  const installs = installDirs.map((d) => path.resolve(d));
  return texts.some((t) => t.split(path.delimiter).some((part) => part !== "" && installs.some((i) => isInside(path.resolve(projectRoot, part), i))));
}

/** The entries of one location that run a known server: those naming this installation, else the only one. */
function entriesAt(read: Extract<LaunchFileRead, { status: "ok" }>, loc: LaunchLocation, projectRoot: string, installDirs: readonly string[]): LaunchEntry[] {
  const servers = serversAt(read.data, loc.at);
  if (!servers) return [];
  const running = Object.entries(servers)
    .filter((kv): kv is [string, McpServerEntry] => typeof kv[1] === "object" && kv[1] !== null && runsMcpServer(kv[1] as McpServerEntry));
  const ours = running.filter(([, e]) => namesInstall(e, projectRoot, installDirs));
  const chosen = ours.length ? ours : running.length === 1 ? running : [];
  return chosen.map(([name, entry]) => ({ agent: loc.agent, file: read.path, at: loc.at, name, entry }));
}

export interface FoundEntries {
  entries: LaunchEntry[];
  /** Launch files that exist but cannot be read or parsed. */
  invalid: { file: string; error: string }[];
}

/** Every agent's entry that launches this installation's server (`installDir`: its folder, or its folder's names before and after a migration). */
export function findLaunchEntries(projectRoot: string, installDir: string | readonly string[]): FoundEntries {
  const dirs = typeof installDir === "string" ? [installDir] : installDir;
  const out: FoundEntries = { entries: [], invalid: [] };
  for (const rel of LAUNCH_FILES) {
    const read = readLaunchFile(path.join(projectRoot, rel));
    if (read.status === "invalid") out.invalid.push({ file: read.path, error: read.error });
    if (read.status !== "ok") continue;
    for (const loc of LAUNCH_LOCATIONS.filter((l) => l.file === rel)) out.entries.push(...entriesAt(read, loc, projectRoot, dirs));
  }
  return out;
}

/**
 * The file's text with one entry's `args` replaced. A strict JSON file is written back in its
 * own indentation (as before); one with comments is edited in place, so the comments stay.
 */
export function withEntryArgs(read: Extract<LaunchFileRead, { status: "ok" }>, at: readonly string[], name: string, args: readonly string[]): string {
  if (read.strict) {
    const data = structuredClone(read.data);
    const servers = serversAt(data, at);
    if (!servers?.[name]) throw new Error(`Cannot update "${name}": ${read.path} has no such server entry`);
    servers[name] = { ...(servers[name] as object), args: [...args] };
    const indent = /^[ \t]+(?=")/m.exec(read.text)?.[0] ?? "  ";
    return `${JSON.stringify(data, null, indent)}\n`;
  }
  // An args array written on one line stays on one line, in its own separator style.
  const node = jsonc.findNodeAtLocation(jsonc.parseTree(read.text)!, [...at, name, "args"]);
  const was = node ? read.text.slice(node.offset, node.offset + node.length) : "";
  if (node && node.type === "array" && !was.includes("\n")) {
    const inline = `[${args.map((a) => JSON.stringify(a)).join(/,\s/.test(was) || !was.includes(",") ? ", " : ",")}]`;
    return read.text.slice(0, node.offset) + inline + read.text.slice(node.offset + node.length);
  }
  const tabSize = /^( +)(?=")/m.exec(read.text)?.[1].length ?? 2;
  const edits = jsonc.modify(read.text, [...at, name, "args"], [...args], { formattingOptions: { insertSpaces: true, tabSize } });
  return jsonc.applyEdits(read.text, edits);
}

/**
 * The file's text with one entry replaced whole (a migration: paths, module, tool names) and
 * its key renamed when `newName` is given, at the same place. A strict JSON file is written
 * back in its own indentation; one with comments is edited property by property, so its
 * comments (and the entry's) stay.
 */
export function withEntry(read: Extract<LaunchFileRead, { status: "ok" }>, at: readonly string[], name: string, next: McpServerEntry, newName?: string): string {
  if (read.strict) {
    const data = structuredClone(read.data);
    const servers = serversAt(data, at);
    if (!servers?.[name]) throw new Error(`Cannot update "${name}": ${read.path} has no such server entry`);
    const order = Object.entries(servers);
    for (const k of Object.keys(servers)) delete servers[k];
    for (const [k, v] of order) servers[k === name ? newName ?? name : k] = k === name ? next : v;
    const indent = /^[ \t]+(?=")/m.exec(read.text)?.[0] ?? "  ";
    return `${JSON.stringify(data, null, indent)}\n`;
  }
  const tabSize = /^( +)(?=")/m.exec(read.text)?.[1].length ?? 2;
  const old = serversAt(read.data, at)?.[name] as Record<string, unknown> | undefined;
  let text = read.text;
  for (const key of new Set([...Object.keys(old ?? {}), ...Object.keys(next)])) {
    if (JSON.stringify(old?.[key]) === JSON.stringify(next[key])) continue;
    text = jsonc.applyEdits(text, jsonc.modify(text, [...at, name, key], next[key], { formattingOptions: { insertSpaces: true, tabSize } }));
  }
  if (!newName || newName === name) return text;
  const holder = jsonc.findNodeAtLocation(jsonc.parseTree(text)!, [...at]);
  const keyNode = holder?.children?.find((p) => p.children?.[0]?.value === name)?.children?.[0];
  if (!keyNode) throw new Error(`Cannot rename "${name}": ${read.path} has no such server entry`);
  return text.slice(0, keyNode.offset) + JSON.stringify(newName) + text.slice(keyNode.offset + keyNode.length);
}
