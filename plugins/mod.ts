/** The built-in plugins, in lifecycle order. `builtinPlugins()` is what zero config runs. */
import type { Plugin } from "../core/plugin.ts";
import { contentPlugin } from "./content.ts";
import { preflightPlugin } from "./preflight.ts";
import { reportPlugin } from "./report.ts";

export { contentPlugin, type ContentOptionsInput } from "./content.ts";
export { preflightPlugin, type PreflightOptionsInput } from "./preflight.ts";
export { reportPlugin, type ReportOptionsInput } from "./report.ts";

export function builtinPlugins(): Plugin[] {
  return [preflightPlugin(), contentPlugin(), reportPlugin()];
}
