/**
 * The built-ins' run-option declarations by plugin name: plain data, so the CLI builds its
 * flag table from them without loading a plugin (the start-up path loads no npm package).
 */
import type { RunOptionDecls } from "../core/options.ts";
import { BACKUP_RUN_OPTIONS } from "./backup/run-options.ts";
import { CONTENT_RUN_OPTIONS } from "./content/run-options.ts";
import { DEPS_RUN_OPTIONS } from "./deps/run-options.ts";
import { PREFLIGHT_RUN_OPTIONS } from "./preflight/run-options.ts";
import { REPORT_RUN_OPTIONS } from "./report/run-options.ts";
import { SERVER_RUN_OPTIONS } from "./server/run-options.ts";
import { VALIDATE_RUN_OPTIONS } from "./validate/run-options.ts";

export const BUILTIN_RUN_OPTIONS: readonly { name: string; options: RunOptionDecls }[] = [
  { name: "preflight", options: PREFLIGHT_RUN_OPTIONS },
  { name: "content", options: CONTENT_RUN_OPTIONS },
  { name: "server", options: SERVER_RUN_OPTIONS },
  { name: "deps", options: DEPS_RUN_OPTIONS },
  { name: "validate", options: VALIDATE_RUN_OPTIONS },
  { name: "backup", options: BACKUP_RUN_OPTIONS },
  { name: "report", options: REPORT_RUN_OPTIONS },
];
