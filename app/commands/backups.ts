/** `backups list | verify <id> | prune`, through the configured backup plugin (its options apply). */
import type { ParsedArgs } from "../argv.ts";
import { UpgradeError } from "../../core/errors.ts";
import { hasConfig } from "../../core/config-file.ts";
import { type Layout, resolveLayout } from "../../core/layout.ts";
import type { BackupManager, BackupPlugin } from "../../plugins/backup.ts";
import type { BackupInfo } from "../../plugins/backup/retention.ts";
import path from "node:path";
import { CONFIG_ALIASES, globals, loadConfig, targetOf } from "../options.ts";
import type { Sink } from "../render.ts";

// Not a literal `import()`: Deno reads every module a literal one names, transitively, at start (see cli.ts).
const load = <T>(spec: string): Promise<T> => import(spec);

/** The project's config file, or null: without one, the built-in backup plugin is all these commands need. */
async function configFile(cwd: string, p: ParsedArgs): Promise<string | null> {
  const g = globals(p);
  const root = resolveLayout(targetOf(cwd, g)).projectRoot;
  if (!g.config && !hasConfig(root)) return null;
  const { loadConfigFile } = await load<typeof import("../../core/config.ts")>("../../core/config.ts");
  return (await loadConfigFile(root, g.config ? path.resolve(cwd, g.config) : null, CONFIG_ALIASES())).file;
}

/** The backups, newest first. Zero config lists them as the built-in plugin does, without loading it (its options schema, its snapshot code). */
async function list(cwd: string, p: ParsedArgs, layout: Layout): Promise<BackupInfo[]> {
  if (await configFile(cwd, p)) return await (await manager(cwd, p)).list(layout);
  return (await import("../../plugins/backup/retention.ts")).listBackups(layout);
}

async function manager(cwd: string, p: ParsedArgs): Promise<BackupManager> {
  // Zero config: load the backup plugin alone, not every built-in plugin and its libraries.
  if (!(await configFile(cwd, p))) return (await load<typeof import("../../plugins/backup.ts")>("../../plugins/backup.ts")).backupPlugin().manage;
  const resolved = await loadConfig(cwd, globals(p));
  const plugin = resolved.plugins.find((p) => p.name === "backup") as Partial<BackupPlugin> | undefined;
  if (!plugin?.manage) {
    throw new UpgradeError("CONFIG_INVALID", `Cannot manage backups: ${plugin ? "the configured \"backup\" plugin does not manage backups" : "the backup plugin is disabled"}${resolved.file ? ` in ${resolved.file}` : ""}`, {
      hint: "Enable the built-in backup plugin (remove it from `disable`), or manage .agent-os/.backups/ by hand",
    });
  }
  return plugin.manage;
}

export async function backupsCommand(action: string, id: string | undefined, p: ParsedArgs, cwd: string, sink: Sink): Promise<void> {
  const g = globals(p);
  const o = p.opts as { keepBackups?: number };
  const layout = resolveLayout(targetOf(cwd, g));
  const out = (value: Record<string, unknown>, human: string[]) => {
    if (g.json) sink.out(JSON.stringify({ type: "result", schema_version: 1, command: `backups ${action}`, ...value }));
    else for (const l of human) sink.out(l);
  };
  switch (action) {
    case "list": {
      const all = await list(cwd, p, layout);
      out({ backups: all }, all.length
        ? all.map((b) => `${b.id}  ${b.state.padEnd(11)} ${String(b.files ?? "?").padStart(6)} files  ${b.bytes === null ? "?" : `${(b.bytes / 1048576).toFixed(1)} MB`}  session ${b.session_id ?? "-"} (${b.session_status ?? "-"})${b.label ? `  ${b.label}` : ""}`)
        : [`No backups in ${layout.backupsDir}`]);
      return;
    }
    case "verify": {
      if (!id) throw new UpgradeError("USAGE", "Cannot verify: no backup id given", { hint: "Run `agent-os-upgrade backups verify <id>`; `backups list` shows the ids" });
      const m = await manager(cwd, p);
      const r = await m.verify(layout, id);
      out({ report: r }, r.ok ? [`Backup ${id} is intact: ${r.files_checked} entries checked, ${r.files_hashed} files hashed in ${r.duration_ms} ms`] : []);
      if (!r.ok) {
        throw new UpgradeError("BACKUP_INVALID", `Backup ${id} is damaged: ${m.describeProblems(r.problems)}`, {
          hint: "Do not restore from it; `agent-os-upgrade rollback --to <another id>` uses another backup",
          details: { problems: r.problems },
        });
      }
      return;
    }
    case "prune": {
      const keep = o.keepBackups ?? ((await configFile(cwd, p)) ? (await loadConfig(cwd, g)).optionValues.keepBackups as number | undefined : undefined) ?? 3;
      const r = await (await manager(cwd, p)).prune(layout, keep);
      out({ ...r, keep }, [`Kept ${r.kept.length} (${r.kept.join(", ") || "none"}); removed ${r.removed.length}${r.removed.length ? ` (${r.removed.join(", ")}), freeing ${(r.freed_bytes / 1048576).toFixed(1)} MB` : ""}`, ...r.kept.map((k) => `  kept ${k}: ${r.reasons[k]}`), ...r.skipped.map((s) => `  left alone: ${s.id}: ${s.reason}`)]);
      return;
    }
    default:
      throw new UpgradeError("USAGE", `Cannot run backups ${action}: unknown action`, { hint: "Use `backups list`, `backups verify <id>` or `backups prune`" });
  }
}
