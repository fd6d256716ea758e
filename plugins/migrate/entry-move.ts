/**
 * A launch entry moved with its installation (`migrate`, issue 23): every path naming the
 * old folder names the new one (`${workspaceFolder}/.agent-os/venv/bin/python` →
 * `…/.praxis-os/…`, `PYTHONPATH`, a working folder), the module is the new layout's server
 * package, the key upstream renamed follows (`agent-os-rag` → `praxis-os-rag`, when that
 * name is free), and `autoApprove` tool names take the new prefix (`aos_*` → `pos_*`,
 * upstream's 781fec1). Nothing else of the entry changes.
 */
import { type LayoutDecl, renameFolderIn } from "../layouts.ts";
import type { McpServerEntry } from "../server/launch.ts";

/** Upstream's installers named the entry after the project: agent-os-enhanced's, then praxis-os's. */
const KEY_RENAMES: Readonly<Record<string, string>> = { "agent-os-rag": "praxis-os-rag" };

export interface EntryMove {
  entry: McpServerEntry;
  /** The new key, when it changes. */
  name?: string;
  /** One line per change, for the plan. */
  changes: string[];
}

function movedStrings(entry: McpServerEntry, from: string, to: string, changes: string[]): McpServerEntry {
  const move = (what: string, v: string) => {
    const w = renameFolderIn(v, from, to);
    if (w !== v) changes.push(`${what}: ${v} → ${w}`);
    return w;
  };
  const out: McpServerEntry = { ...entry, command: move("command", entry.command) };
  if (typeof entry.cwd === "string") out.cwd = move("cwd", entry.cwd);
  if (Array.isArray(entry.args)) out.args = entry.args.map((a) => (typeof a === "string" ? move("arg", a) : a));
  if (entry.env && typeof entry.env === "object") {
    out.env = Object.fromEntries(Object.entries(entry.env).map(([k, v]) => [k, typeof v === "string" ? move(`env ${k}`, v) : v]));
  }
  return out;
}

/** The entry as the new layout runs it, with what changed. */
export function moveEntry(name: string, entry: McpServerEntry, fromDir: string, from: LayoutDecl, to: LayoutDecl, taken: ReadonlySet<string>): EntryMove {
  const changes: string[] = [];
  const out = movedStrings(entry, fromDir, to.installDir, changes);
  const args = out.args ?? [];
  const m = args.indexOf("-m");
  if (m >= 0 && args[m + 1] === from.server.module && from.server.module !== to.server.module) {
    out.args = [...args.slice(0, m + 1), to.server.module, ...args.slice(m + 2)];
    changes.push(`module: ${from.server.module} → ${to.server.module}`);
  }
  if (Array.isArray(entry.autoApprove)) {
    const approved = renamedTools(entry.autoApprove as unknown[], from, to, changes);
    if (approved) out.autoApprove = approved;
  }
  const next = KEY_RENAMES[name];
  const rename = next && !taken.has(next) ? next : undefined;
  if (rename) changes.push(`key: "${name}" → "${rename}"`);
  return { entry: out, ...(rename ? { name: rename } : {}), changes };
}

/** `autoApprove` as the new server names its tools: the new prefix (`aos_*` → `pos_*`), then the layout's renames; null when nothing changes. */
function renamedTools(list: unknown[], from: LayoutDecl, to: LayoutDecl, changes: string[]): unknown[] | null {
  const prefixed = list.map((t) => (typeof t === "string" && t.startsWith(from.toolPrefix) ? to.toolPrefix + t.slice(from.toolPrefix.length) : t));
  if (prefixed.some((t, i) => t !== list[i])) changes.push(`autoApprove: ${from.toolPrefix}* → ${to.toolPrefix}*`);
  const out: unknown[] = [];
  for (const t of prefixed) {
    const next = typeof t === "string" ? to.toolRenames[t] : undefined;
    if (next) changes.push(`autoApprove: ${t} → ${next}`);
    // Two old tools may become one: listed once.
    if (!out.includes(next ?? t)) out.push(next ?? t);
  }
  return out.length !== list.length || out.some((t, i) => t !== list[i]) ? out : null;
}
