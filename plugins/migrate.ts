/**
 * The built-in migration (SPEC §5.4): when the new server needs launch arguments the
 * project's `.cursor/mcp.json` lacks — `--transport`, required upstream since 2025-10-11 —
 * the entry's args gain `--transport <transport>`. Every other key of the file is kept, and
 * a `--transport` the user already chose is never changed. The file is in the backup, so a
 * rollback restores it.
 *
 *   preflight  read-only: an mcp.json that exists but cannot be parsed is refused up front
 *   migrate    after the code swap, before the server plugin's restart (restartServer)
 *
 * Policy `apply` writes the change; `report` only warns (the IDE's launch will then fail
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
import {
  findServerEntry,
  formatMcpJson,
  migrateLaunchArgs,
  needsTransportArg,
  readMcpJson,
  withServerArgs,
} from "./server/launch.ts";

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
  status: "applied" | "unchanged" | "not_applicable" | "reported";
  reason?: string;
  before?: string[];
  after?: string[];
}

export function migratePlugin(options: MigrateOptionsInput = {}) {
  const opts = parsePluginOptions(PLUGIN_NAME, MigrateOptions, options);

  return definePlugin({
    name: PLUGIN_NAME,
    // The project files it edits are restored by the backup plugin.
    requires: ["backup"],
    apply(hooks) {
      hooks.start.tap((ctx) => {
        backupScope(ctx).add(PLUGIN_NAME, (c) => ({ paths: [c.layout.mcpJson] }));
      });
      hooks.preflight.tap((ctx, findings) => {
        const link = linkOnTheWay(ctx.layout.projectRoot, ctx.layout.mcpJson);
        if (link) {
          findings.error("MCP_JSON_SYMLINK", `Cannot upgrade with "${ctx.layout.mcpJson}": ${link} is a symbolic link`, "Replace the link by the real file or folder it points to (an upgrade may edit mcp.json and never writes through a link), or disable the migrate plugin; nothing was written");
          return;
        }
        const read = readMcpJson(ctx.layout.mcpJson);
        if (read.status === "invalid") {
          findings.error("MCP_JSON_INVALID", `Cannot read "${read.path}": ${read.error}`, "Fix the JSON (or move the file away); the upgrade may need to edit it");
        }
      });

      // The dry run's plan shows each launch entry's migration, judged on the new server's code.
      hooks.planContent.tap((plan, ctx) => {
        if (!ctx.dryRun || !ctx.options.source) return plan;
        const read = readMcpJson(ctx.layout.mcpJson);
        const file = path.relative(ctx.layout.projectRoot, ctx.layout.mcpJson);
        if (read.status !== "ok") return { ...plan, launch_migrations: [{ file, status: "not_applicable", reason: read.status === "absent" ? "no .cursor/mcp.json" : read.error }] };
        const found = findServerEntry(read.data, { workspaceFolder: ctx.layout.projectRoot }, ctx.layout.installDir);
        if (!found) return { ...plan, launch_migrations: [{ file, status: "not_applicable", reason: "no server entry runs mcp_server" }] };
        const need = needsTransportArg(path.join(ctx.options.source, "mcp_server"));
        const before = found.entry.args ?? [];
        const m = migrateLaunchArgs(before, need.needed, opts.transport);
        const status = !m.changed ? "unchanged" : opts.policy === "report" ? "reported" : "applied";
        return { ...plan, launch_migrations: [{ file, server: found.name, status, before, ...(m.changed ? { after: m.args } : {}) }] };
      });

      hooks.migrate.tap((ctx, ev) => {
        const file = ctx.layout.mcpJson;
        const record = (r: Omit<MigrationRecord, "name" | "file">): void => {
          const migrations = (ev.migrations as MigrationRecord[] | undefined) ?? [];
          ev.migrations = [...migrations, { name: "mcp-json-transport", file, ...r }];
        };
        const read = readMcpJson(file);
        if (read.status === "absent") return record({ status: "not_applicable", reason: "no .cursor/mcp.json" });
        if (read.status === "invalid") {
          throw new UpgradeError("SERVER_FAILED", `Cannot migrate "${file}": ${read.error}`, { hint: "Fix the JSON; the upgrade is rolled back" });
        }
        const found = findServerEntry(read.data, { workspaceFolder: ctx.layout.projectRoot }, ctx.layout.installDir);
        if (!found) return record({ status: "not_applicable", reason: "no server entry runs mcp_server" });
        const need = needsTransportArg(path.join(ctx.layout.installDir, "mcp_server"));
        const before = found.entry.args ?? [];
        const m = migrateLaunchArgs(before, need.needed, opts.transport);
        if (!m.changed) {
          return record({ status: "unchanged", reason: need.needed ? "the args already choose a transport" : "the new server takes no --transport", before });
        }
        if (opts.policy === "report") {
          ctx.log.warn(`The new MCP server needs "--transport ${opts.transport}" in "${file}" (server "${found.name}"): add it, or the IDE cannot start the server`);
          return record({ status: "reported", before, after: m.args });
        }
        writeFileAtomic(file, formatMcpJson(withServerArgs(read.data, found.name, m.args), read.text));
        ctx.log.info(`migrate: "${found.name}" in ${path.relative(ctx.layout.projectRoot, file)} now runs with ${m.args.join(" ")}`);
        record({ status: "applied", before, after: m.args });
      });
    },
  });
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
