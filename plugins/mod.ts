/**
 * The built-in plugins, in lifecycle order. `builtinPlugins()` is what zero config runs;
 * the order decides the order of taps on a shared hook (e.g. `cleanup`, `rollback`).
 */
import type { Plugin } from "../core/plugin.ts";
import { backupPlugin } from "./backup.ts";
import { contentPlugin } from "./content.ts";
import { depsPlugin } from "./deps.ts";
import { migratePlugin } from "./migrate.ts";
import { preflightPlugin } from "./preflight.ts";
import { reportPlugin } from "./report.ts";
import { serverPlugin } from "./server.ts";
import { userFilesPlugin } from "./user-files.ts";
import { validatePlugin } from "./validate.ts";

export { backupPlugin, type BackupPluginOptions } from "./backup.ts";
export { contentPlugin, type ContentOptionsInput } from "./content.ts";
export { depsPlugin, type DepsOptionsInput } from "./deps.ts";
export { migratePlugin, type MigrateOptionsInput } from "./migrate.ts";
export { preflightPlugin, type PreflightOptionsInput } from "./preflight.ts";
export { reportPlugin, type ReportOptionsInput } from "./report.ts";
export { serverPlugin, type ServerOptionsInput } from "./server.ts";
export { userFilesPlugin, type UserFilesOptionsInput } from "./user-files.ts";
export { validatePlugin, type ValidateOptionsInput } from "./validate.ts";

export function builtinPlugins(): Plugin[] {
  return [
    preflightPlugin(),
    backupPlugin(),
    userFilesPlugin(),
    contentPlugin(),
    depsPlugin(),
    serverPlugin(),
    migratePlugin(),
    validatePlugin(),
    reportPlugin(),
  ];
}
