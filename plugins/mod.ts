/**
 * The built-in plugins, in lifecycle order. `builtinPlugins()` is what zero config runs;
 * the order decides the order of taps on a shared hook (e.g. `cleanup`, `rollback`).
 */
import type { Plugin } from "../core/plugin.ts";
import { backupPlugin } from "./backup.ts";
import { contentPlugin } from "./content.ts";
import { depsPlugin } from "./deps.ts";
import { mentionsPlugin } from "./mentions.ts";
import { migratePlugin } from "./migrate.ts";
import { preflightPlugin } from "./preflight.ts";
import { reportPlugin } from "./report.ts";
import { serverPlugin } from "./server.ts";
import { userFilesPlugin } from "./user-files.ts";
import { validatePlugin } from "./validate.ts";

export { backupPlugin, type BackupPluginOptions } from "./backup.ts";
export { contentPlugin, type ContentOptionsInput } from "./content.ts";
export { depsPlugin, type DepsOptionsInput } from "./deps.ts";
export { mentionsPlugin } from "./mentions.ts";
export { migratePlugin, type MigrateOptionsInput } from "./migrate.ts";
export { preflightPlugin, type PreflightOptionsInput } from "./preflight.ts";
export { reportPlugin, type ReportOptionsInput } from "./report.ts";
export { serverPlugin, type ServerOptionsInput } from "./server.ts";
export { userFilesPlugin, type UserFilesOptionsInput } from "./user-files.ts";
export { validatePlugin, type ValidateOptionsInput } from "./validate.ts";

// The built-ins' public contracts: what a plugin of yours may read or add to.
/** Channels (values plugins hand each other in a run) and their accessors. */
export { ContentBase } from "./content/channel.ts";
export { type BackupScope, backupScope, type ScopeRequest } from "./backup/scope.ts";
export { type DiskNeed, diskNeeds } from "./preflight/disk.ts";
export { ServerLaunch, type StartedServer, ServerStarted } from "./server/shared.ts";
/** Evidence readers: each built-in's record of a phase, typed (a plugin left out leaves none). */
export { backupEvidence } from "./backup.ts";
export { type ContentResult, contentResultOf } from "./content/channel.ts";
export { preflightEvidence } from "./preflight.ts";
export { reportEvidence } from "./report.ts";
export { serverEvidence } from "./server.ts";
export { validationEvidence } from "./validate.ts";
/** Run-option readers and declarations: a built-in's option values in this run. */
export { BACKUP_RUN_OPTIONS, backupRunOptions } from "./backup/run-options.ts";
export { CONTENT_RUN_OPTIONS, contentRunOptions } from "./content/run-options.ts";
export { DEPS_RUN_OPTIONS, depsRunOptions } from "./deps/run-options.ts";
export { SERVER_RUN_OPTIONS, serverRunOptions } from "./server/run-options.ts";
export { VALIDATE_RUN_OPTIONS, validateRunOptions } from "./validate/run-options.ts";

export function builtinPlugins(): Plugin[] {
  return [
    preflightPlugin(),
    backupPlugin(),
    userFilesPlugin(),
    contentPlugin(),
    depsPlugin(),
    serverPlugin(),
    migratePlugin(),
    mentionsPlugin(),
    validatePlugin(),
    reportPlugin(),
  ];
}
