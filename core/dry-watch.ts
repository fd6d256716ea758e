/**
 * The dry run proven: the install and the project files an upgrade may touch are stat-walked
 * before the dry run's first plugin runs and after its last hook (path, kind, size, mtime);
 * any difference fails the run (DRY_RUN_WRITE, exit 1) naming each path and the plugins whose
 * hooks were running when it was written (its mtime inside a tap's span; a removed path by
 * its folder's mtime). The walk is cheap: lstat only, no reads; `venv/` and `.backups/` are
 * not ours to walk whole (their top levels show a package or a backup added or removed), and
 * in `.cache/` only our records are (`state/`, its top-level files): its other folders are the
 * server's (SPEC §2: the vector index), which the pre-flight probe may start and which may
 * build its index there.
 */
import fs from "node:fs";
import path from "node:path";
import { UpgradeError } from "./errors.ts";
import type { Layout } from "./layout.ts";

/** The project files (outside the install) that an upgrade may write: the IDEs' MCP launch files and `.gitignore`. */
export const PROJECT_FILES = [".gitignore", ".cursor/mcp.json", ".vscode/settings.json", ".vscode/mcp.json", ".mcp.json"] as const;

/** Install folders walked only this deep (levels below the folder): `venv/lib/python3.x/site-packages` is level 3. */
const SHALLOW: Readonly<Record<string, number>> = { venv: 3, ".backups": 1 };
const CACHE = ".cache";

/** How much earlier than the write an mtime may read: the kernel stamps files from a coarse clock (one tick, 4–10 ms). */
const CLOCK_SLACK_MS = 15;

interface Entry {
  kind: "file" | "dir" | "link" | "other";
  size: number;
  mtimeMs: number;
}

/** Path relative to the project root → what lstat said. */
export type StatSnapshot = Map<string, Entry>;

export interface Change {
  path: string;
  change: "created" | "removed" | "changed";
  /** The plugins (with their hooks) whose taps were running when it was written; empty when none was. */
  during: Array<{ plugin: string; hooks: string[] }>;
}

/** When each tap ran (wall clock, ms): the engine records them in a dry run. */
export interface TapSpan {
  plugin: string;
  hook: string;
  from: number;
  to: number;
}

export const wallClock = (): number => performance.timeOrigin + performance.now();

function entryOf(st: fs.Stats): Entry {
  const kind = st.isFile() ? "file" : st.isDirectory() ? "dir" : st.isSymbolicLink() ? "link" : "other";
  return { kind, size: kind === "dir" ? 0 : st.size, mtimeMs: st.mtimeMs };
}

function lstat(abs: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(abs, { throwIfNoEntry: false });
  } catch {
    return undefined; // unreadable: pre-flight names it; its folder's own stat still shows a change
  }
}

/** Lists `abs` into `out` under `rel` (ending in "/"), `depth` levels down (-1: all; the install's own level: SHALLOW's). */
function walk(out: StatSnapshot, abs: string, rel: string, depth: number, top = false): void {
  let names: string[];
  try {
    names = fs.readdirSync(abs);
  } catch {
    return;
  }
  for (const name of names) {
    const st = lstat(`${abs}/${name}`);
    if (!st) continue;
    if (top && name === CACHE && st.isDirectory()) {
      walkCache(out, `${abs}/${name}`, `${rel}${name}/`);
      continue;
    }
    out.set(rel + name, entryOf(st));
    if (!st.isDirectory()) continue;
    const next = depth < 0 ? (top ? SHALLOW[name] ?? -1 : -1) : depth - 1;
    if (next !== 0) walk(out, `${abs}/${name}`, `${rel}${name}/`, next);
  }
}

/** `.cache/`: our records only (its files, `state/`); the folder's own mtime moves when the server adds its index, so it is not compared. */
function walkCache(out: StatSnapshot, abs: string, rel: string): void {
  out.set(rel.slice(0, -1), { kind: "dir", size: 0, mtimeMs: 0 });
  let names: string[];
  try {
    names = fs.readdirSync(abs);
  } catch {
    return;
  }
  for (const name of names) {
    const st = lstat(`${abs}/${name}`);
    if (!st || (st.isDirectory() && name !== "state")) continue;
    out.set(rel + name, entryOf(st));
    if (st.isDirectory()) walk(out, `${abs}/${name}`, `${rel}${name}/`, -1);
  }
}

/** Every path of the install (the shallow folders to their depth) and the project files an upgrade may touch. */
export function snapshotInstall(layout: Layout): StatSnapshot {
  const out: StatSnapshot = new Map();
  const install = path.relative(layout.projectRoot, layout.installDir).split(path.sep).join("/");
  const top = lstat(layout.installDir);
  if (top) out.set(install, entryOf(top));
  if (top?.isDirectory()) walk(out, layout.installDir, `${install}/`, -1, true);
  for (const rel of PROJECT_FILES) {
    const st = lstat(path.join(layout.projectRoot, rel));
    if (st) out.set(rel, entryOf(st));
  }
  return out;
}

const same = (a: Entry, b: Entry) => a.kind === b.kind && a.size === b.size && a.mtimeMs === b.mtimeMs;

function during(t: number | undefined, spans: readonly TapSpan[]): Change["during"] {
  if (t === undefined) return [];
  const byPlugin = new Map<string, { hooks: Set<string>; shortest: number }>();
  for (const s of spans) {
    if (t < s.from - CLOCK_SLACK_MS || t > s.to + 1) continue;
    const p = byPlugin.get(s.plugin) ?? { hooks: new Set<string>(), shortest: Infinity };
    p.hooks.add(s.hook);
    p.shortest = Math.min(p.shortest, s.to - s.from);
    byPlugin.set(s.plugin, p);
  }
  // Taps of a parallel hook overlap: the shortest span around the write comes first (a long one was mostly waiting).
  return [...byPlugin].sort((a, b) => a[1].shortest - b[1].shortest).map(([plugin, p]) => ({ plugin, hooks: [...p.hooks] }));
}

/** What differs between two snapshots, each change with the plugins that were running when it happened. */
export function changesBetween(before: StatSnapshot, after: StatSnapshot, spans: readonly TapSpan[]): Change[] {
  const out: Change[] = [];
  for (const [rel, b] of before) {
    const a = after.get(rel);
    if (!a) out.push({ path: rel, change: "removed", during: during(after.get(path.dirname(rel))?.mtimeMs, spans) });
    else if (!same(a, b)) out.push({ path: rel, change: "changed", during: during(a.mtimeMs, spans) });
  }
  for (const [rel, a] of after) if (!before.has(rel)) out.push({ path: rel, change: "created", during: during(a.mtimeMs, spans) });
  // A folder whose only change is an entry created or removed in it says nothing more than that entry.
  const explained = new Set(out.filter((c) => c.change !== "changed").map((c) => path.dirname(c.path)));
  return out.filter((c) => !(c.change === "changed" && after.get(c.path)?.kind === "dir" && explained.has(c.path)))
    .sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}

const quoted = (names: string[]) => names.map((n) => `"${n}"`).join(", ");

function whoText(c: Change): string {
  if (!c.during.length) return `${c.change} while no plugin's hook was running`;
  if (c.during.length === 1) {
    const [d] = c.during;
    return `${c.change} while plugin "${d.plugin}" ran ${d.hooks.length === 1 ? "hook" : "hooks"} ${quoted(d.hooks)}`;
  }
  const hooks = new Set(c.during.flatMap((d) => d.hooks));
  if (hooks.size === 1) return `${c.change} while plugins ${quoted(c.during.map((d) => d.plugin))} ran hook "${[...hooks][0]}"`;
  return `${c.change} while plugins ${c.during.map((d) => `"${d.plugin}" (${d.hooks.join(", ")})`).join(", ")} ran`;
}

/** The run's error when the dry run changed anything: each path, and who was running then. */
export function dryRunWroteError(changes: Change[], ran: string[]): UpgradeError {
  const shown = changes.slice(0, 10).map((c) => `${c.path} (${whoText(c)})`);
  const more = changes.length > shown.length ? `, and ${changes.length - shown.length} more` : "";
  const suspects = [...new Set(changes.flatMap((c) => c.during.map((d) => d.plugin)))];
  const one = suspects.length === 1 && changes.every((c) => c.during.length === 1) ? changes[0].during[0] : undefined;
  return new UpgradeError("DRY_RUN_WRITE", `The dry run changed ${changes.length} path${changes.length === 1 ? "" : "s"}: ${shown.join(", ")}${more}`, {
    plugin: one?.plugin,
    hook: one && one.hooks.length === 1 ? one.hooks[0] : undefined,
    hint: `A plugin wrote outside ctx.fs, or ran a command that writes (plugins that ran: ${ran.join(", ") || "none"}): report it to its author, and check the paths listed; if you or another program changed them meanwhile, run the dry run again`,
    details: { changed: changes },
  });
}

/** A dry run's watch: the snapshot before, the taps' spans, and the check after. */
export class DryRunWatch {
  readonly spans: TapSpan[] = [];
  private readonly before: StatSnapshot;
  /** What the walks cost (ms), for `--verbose`. */
  readonly walksMs: number[] = [];

  constructor(private readonly layout: Layout) {
    this.before = this.walk();
  }

  private walk(): StatSnapshot {
    const t0 = performance.now();
    const snap = snapshotInstall(this.layout);
    this.walksMs.push(Math.round(performance.now() - t0));
    return snap;
  }

  /** How many paths the walks compare. */
  get paths(): number {
    return this.before.size;
  }

  /** Records one tap's run (the engine's tap wrapper calls it). */
  span(plugin: string, hook: string, from: number): void {
    this.spans.push({ plugin, hook, from, to: wallClock() });
  }

  /** The error to report when anything changed since the watch began, else null. */
  check(): UpgradeError | null {
    const changes = changesBetween(this.before, this.walk(), this.spans);
    if (!changes.length) return null;
    return dryRunWroteError(changes, [...new Set(this.spans.map((s) => s.plugin))]);
  }
}
