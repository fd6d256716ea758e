/**
 * The built-in migration (SPEC §5.4, issue 22): when the new server needs launch arguments an
 * agent's launch entry lacks — `--transport`, required upstream since 2025-10-11 and by the
 * `ouroboros` server — each entry that runs this installation's server (Cursor, Cline,
 * Claude Code, Claude Code CLI, Copilot: `server/entries.ts`) gains `--transport
 * <transport>`. Every other key, entry and comment of those files is kept, and a
 * `--transport` the user already chose is never changed. The files are in the backup, so a
 * rollback restores them.
 *
 *   preflight  read-only: `.cursor/mcp.json` that exists but cannot be parsed is refused up
 *              front (another agent's unreadable file is a warning: its entry is not migrated)
 *   migrate    after the code swap, before the server plugin's restart (restartServer)
 *
 * Policy `apply` writes the change; `report` only warns (that agent's launch will then fail
 * until the user adds the argument).
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../core/atomic.ts";
import { parsePluginOptions } from "../core/config.ts";
import { UpgradeError } from "../core/errors.ts";
import { definePlugin } from "../core/plugin.ts";
import { backupScope } from "./backup/scope.ts";
import { activeLayout, installedServerDir, migratedFrom, sourceServerDir } from "./layouts/detect.ts";
import type { Findings, UpgradeContext } from "../core/types.ts";
import { findLaunchEntries, LAUNCH_FILES, type LaunchEntry, readLaunchFile, withEntry, withEntryArgs } from "./server/entries.ts";
import { configJsonValues } from "./migrate/config-json.ts";
import { type EntryMove, moveEntry } from "./migrate/entry-move.ts";
import { migrateLaunchArgs, needsTransportArg } from "./server/launch.ts";

export const PLUGIN_NAME = "migrate";

export const MigrateOptions = z.strictObject({
  /** `apply` edits mcp.json; `report` leaves it and warns. */
  policy: z.enum(["apply", "report"]).default("apply"),
  /** The transport added when the new server requires one. */
  transport: z.enum(["dual", "stdio", "http"]).default("dual"),
});
export type MigrateOptionsInput = z.input<typeof MigrateOptions>;

export interface MigrationRecord {
  name: string;
  file: string;
  /** The agent whose entry it is (Cursor, Cline, …), when an entry was found. */
  agent?: string;
  server?: string;
  status: "applied" | "unchanged" | "not_applicable" | "reported";
  reason?: string;
  before?: string[];
  after?: string[];
  /** A migration's changes to the entry beyond its args (paths, module, key, tool names). */
  changes?: string[];
  /** The entry's new key, when a migration renames it. */
  rename?: string;
}

type Planned = Omit<MigrationRecord, "name">;

/** Whether the server in `dir` needs `--transport`: its layout says so, or its entry point reads the flag. */
function needsTransport(ctx: UpgradeContext, dir: string | null): boolean {
  if (activeLayout(ctx).server.requiredArgs.includes("--transport")) return true;
  return dir !== null && fs.existsSync(dir) && needsTransportArg(dir).needed;
}

/** The installation's folders this run's entries may name: its own, and before a migration's move its old one. */
const installDirs = (ctx: UpgradeContext): string[] => ctx.layout.relocation ? [ctx.layout.relocation.to, ctx.layout.relocation.from] : [ctx.layout.installDir];

/** A migration's move of one entry (paths, module, key, tool names); null in an upgrade. */
function movedEntry(ctx: UpgradeContext, e: LaunchEntry, taken: ReadonlySet<string>): EntryMove | null {
  const from = migratedFrom(ctx);
  return from ? moveEntry(e.name, e.entry, from.installDir, from, activeLayout(ctx), taken) : null;
}

/** Each launch entry's migration against the server in `serverDir` (what phase 3 would write, or wrote). */
function planEntries(ctx: UpgradeContext, opts: z.output<typeof MigrateOptions>, serverDir: string | null): Planned[] {
  const rel = (f: string) => path.relative(ctx.layout.projectRoot, f);
  const found = findLaunchEntries(ctx.layout.projectRoot, installDirs(ctx));
  const need = needsTransport(ctx, serverDir);
  const out: Planned[] = found.entries.map((e) => {
    const taken = new Set(found.entries.filter((o) => o.file === e.file && o.agent === e.agent).map((o) => o.name));
    const moved = movedEntry(ctx, e, taken);
    const before = e.entry.args ?? [];
    const m = migrateLaunchArgs(moved?.entry.args ?? before, need, opts.transport);
    const base = { file: rel(e.file), agent: e.agent, server: e.name, before };
    const move = moved?.changes.length ? { changes: moved.changes, ...(moved.name ? { rename: moved.name } : {}) } : {};
    if (!m.changed && !moved?.changes.length) return { ...base, status: "unchanged", reason: need ? "the args already choose a transport" : "the new server takes no --transport" };
    return { ...base, ...move, status: opts.policy === "report" ? "reported" : "applied", after: m.args };
  });
  if (out.length === 0) out.push({ file: rel(ctx.layout.mcpJson), status: "not_applicable", reason: `no launch entry runs ${activeLayout(ctx).server.module}` });
  return out;
}

/** Writes one planned migration into its file (re-read, so two entries of one file both land). */
function applyEntry(ctx: UpgradeContext, m: Planned): void {
  const file = path.join(ctx.layout.projectRoot, m.file);
  const read = readLaunchFile(file);
  if (read.status !== "ok") throw new UpgradeError("SERVER_FAILED", `Cannot migrate "${file}": ${read.status === "invalid" ? read.error : "it vanished"}`, { hint: "Fix the JSON; the upgrade is rolled back" });
  const found = findLaunchEntries(ctx.layout.projectRoot, installDirs(ctx)).entries;
  const entry = found.find((e) => e.file === file && e.name === m.server && e.agent === m.agent);
  if (!entry) throw new UpgradeError("SERVER_FAILED", `Cannot migrate "${m.server}" in ${m.file}: the entry changed during the upgrade`, { hint: "The upgrade is rolled back; run it again" });
  const moved = m.changes ? movedEntry(ctx, entry, new Set(found.filter((o) => o.file === file && o.agent === m.agent).map((o) => o.name))) : null;
  writeFileAtomic(file, moved ? withEntry(read, entry.at, entry.name, { ...moved.entry, args: m.after! }, moved.name) : withEntryArgs(read, entry.at, entry.name, m.after!));
  ctx.log.info(`migrate: ${m.agent}'s "${m.server}" in ${m.file} now runs with ${m.after!.join(" ")}${m.changes ? ` (${m.changes.join("; ")})` : ""}`);
}

export function migratePlugin(options: MigrateOptionsInput = {}) {
  const opts = parsePluginOptions(PLUGIN_NAME, MigrateOptions, options);
  const launchFiles = (ctx: UpgradeContext) => LAUNCH_FILES.map((f) => path.join(ctx.layout.projectRoot, f));
  /** The files this run may edit: Cursor's (as always), and every other one holding an entry of this installation. */
  const editable = (ctx: UpgradeContext): string[] => {
    const withEntries = new Set(findLaunchEntries(ctx.layout.projectRoot, installDirs(ctx)).entries.map((e) => e.file));
    return launchFiles(ctx).filter((f) => f === ctx.layout.mcpJson || withEntries.has(f));
  };

  return definePlugin({
    name: PLUGIN_NAME,
    // The project files it edits are restored by the backup plugin.
    requires: ["backup"],
    apply(hooks) {
      hooks.start.tap((ctx) => {
        backupScope(ctx).add(PLUGIN_NAME, (c) => ({ paths: editable(c) }));
      });
      hooks.preflight.tap((ctx, findings) => {
        reportConfigJson(ctx, findings);
        const mine = editable(ctx);
        for (const file of launchFiles(ctx)) {
          const link = linkOnTheWay(ctx.layout.projectRoot, file);
          // A linked file without an entry of ours is never written: not our concern.
          if (link && mine.includes(file)) {
            findings.error("MCP_JSON_SYMLINK", `Cannot upgrade with "${file}": ${link} is a symbolic link`, "Replace the link by the real file or folder it points to (an upgrade may edit launch entries and never writes through a link), or disable the migrate plugin; nothing was written");
            continue;
          }
          const read = readLaunchFile(file);
          if (read.status !== "invalid") continue;
          if (file === ctx.layout.mcpJson) findings.error("MCP_JSON_INVALID", `Cannot read "${read.path}": ${read.error}`, "Fix the JSON (or move the file away); the upgrade may need to edit it");
          else findings.warn("MCP_JSON_INVALID", `Cannot read "${read.path}": ${read.error}; a launch entry in it is neither checked nor migrated`, "Fix the JSON, then run the upgrade again to migrate its entries");
        }
      });

      // The dry run's plan shows each launch entry's migration, judged on the new server's code.
      hooks.planContent.tap((plan, ctx) => {
        if (!ctx.dryRun || !ctx.options.source) return plan;
        return { ...plan, launch_migrations: planEntries(ctx, opts, sourceServerDir(ctx)) };
      });

      hooks.migrate.tap((ctx, ev) => {
        const planned = planEntries(ctx, opts, installedServerDir(ctx));
        for (const m of planned) {
          if (m.status === "applied") applyEntry(ctx, m);
          if (m.status === "reported") ctx.log.warn(`The new MCP server needs "--transport ${opts.transport}" in ${m.file} (${m.agent}'s "${m.server}"): add it, or that agent cannot start the server`);
        }
        const migrations = (ev.migrations as MigrationRecord[] | undefined) ?? [];
        ev.migrations = [...migrations, ...planned.map((m) => ({ name: "launch-transport", ...m, file: path.join(ctx.layout.projectRoot, m.file) }))];
      });
    },
  });
}

/** A migration to a server that no longer reads `config.json`: its values beyond upstream's defaults, reported (the file moves with the installation, unchanged). */
function reportConfigJson(ctx: UpgradeContext, findings: Findings): void {
  const from = migratedFrom(ctx);
  const to = activeLayout(ctx);
  // The new layout still has config.json: it moves and is read as before.
  if (!from || to.paths.some((p) => p.install === "config.json")) return;
  const found = configJsonValues(ctx.layout.installDir, from.installDir);
  if (found === null || (Array.isArray(found) && found.length === 0)) return;
  const where = `${to.installDir}/config.json`;
  if (found === "invalid") {
    findings.warn("CONFIG_JSON_NOT_READ", `config.json is not a JSON object; it moves to ${where} unchanged, and ${to.server.module} does not read it`, "Set what it held in config/mcp.yaml by hand after the migration");
    return;
  }
  const list = found.map((v) => `${v.key}=${JSON.stringify(v.value)}${v.yaml ? ` (mcp.yaml: ${v.yaml})` : ""}`).join("; ");
  findings.warn("CONFIG_JSON_NOT_READ", `config.json sets ${found.length} value${found.length === 1 ? "" : "s"} ${to.server.module} does not read: ${list}; the file moves to ${where} unchanged`, "Set them in config/mcp.yaml after the migration where it has a key for them (shown), then delete config.json");
}

/** The first symbolic link among `file` and its folders below `root` (what phase 1's backup would refuse), else null. */
function linkOnTheWay(root: string, file: string): string | null {
  const parts = path.relative(root, file).split(path.sep).filter(Boolean);
  let cur = root;
  for (const p of parts) {
    cur = path.join(cur, p);
    try {
      if (fs.lstatSync(cur).isSymbolicLink()) return `${cur} -> ${fs.readlinkSync(cur)}`;
    } catch {
      return null; // absent: nothing to follow
    }
  }
  return null;
}
