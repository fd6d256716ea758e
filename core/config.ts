/**
 * Config: found by cosmiconfig in the project root (`upgrade.config.ts|.mts|.js|.mjs`, or an
 * "agent-os-upgrade" key in package.json), loaded with jiti (cosmiconfig's own TypeScript
 * loader needs `typescript` at run time and breaks on relative `.ts` imports), validated
 * with zod. No config at all is fine: the built-in plugins run with their defaults.
 */
import path from "node:path";
import { z } from "zod";
import { isUpgradeError, UpgradeError } from "./errors.ts";
import { isPlugin, missingRequirement, type Plugin } from "./plugin.ts";
import { CONFLICT_POLICIES } from "./types.ts";
import { CONFIG_FILES, hasConfig, PACKAGE_KEY } from "./config-file.ts";

export { CONFIG_FILES, hasConfig, PACKAGE_KEY } from "./config-file.ts";

const PluginSchema = z.custom<Plugin>(isPlugin, {
  message: "expected a plugin object { name, apply(hooks) } (make one with definePlugin or a plugin factory)",
});

export const ConfigSchema = z.strictObject({
  /** Default for `--source`. Relative paths are relative to the config file. */
  source: z.string().min(1).optional(),
  /** Conflict policy when none is given on the command line. */
  onConflict: z.enum(CONFLICT_POLICIES).optional(),
  /** How many backups to keep (newest first). */
  keepBackups: z.number().int().min(1).optional(),
  /** Restart (or ask the IDE to reload) the MCP server after the upgrade. */
  restart: z.boolean().optional(),
  /** Never install Python dependencies. */
  skipDeps: z.boolean().optional(),
  /** Skip the MCP checks of phase 4 (as `--no-validate`). */
  noValidate: z.boolean().optional(),
  /** Plugins: one with a built-in's name replaces that built-in (to give it options); others are added after. */
  plugins: z.array(PluginSchema).optional(),
  /** Built-in plugins to leave out, by name. */
  disable: z.array(z.string().min(1)).optional(),
});

export type UserConfig = z.input<typeof ConfigSchema>;

export interface ResolvedConfig {
  /** The file the config came from, or null for zero config. */
  file: string | null;
  config: z.output<typeof ConfigSchema>;
  /** The plugins of this run, in order. */
  plugins: Plugin[];
}

/** Gives a config file its types; returns it unchanged. */
export function defineConfig(config: UserConfig): UserConfig {
  return config;
}

/** Module specifiers a config may import, mapped to files (the app maps "agent-os-upgrade" to itself). */
export type ConfigAliases = Record<string, string>;

async function jitiLoader(aliases: ConfigAliases) {
  const { createJiti } = await import("jiti");
  const jiti = createJiti(import.meta.url, {
    // Lets a config `import { defineConfig } from "agent-os-upgrade"` wherever this tool runs from (npx, a checkout).
    alias: aliases,
    moduleCache: false,
    fsCache: false,
    interopDefault: true,
  });
  return async (filepath: string): Promise<unknown> => {
    try {
      const mod = await jiti.import<Record<string, unknown>>(filepath);
      return mod && typeof mod === "object" && "default" in mod ? mod.default : mod;
    } catch (err) {
      if (isUpgradeError(err)) {
        err.message = `Invalid config in ${filepath}: ${err.message}`;
        throw err;
      }
      const msg = (err as Error)?.message ?? String(err);
      throw new UpgradeError("CONFIG_LOAD_FAILED", `Cannot load config ${filepath}: ${msg.split("\n")[0]}`, {
        hint: "Fix the error in that file, or pass --config <file> to use another one",
        cause: err,
      });
    }
  };
}

/** Finds and loads the raw config: from `--config <file>` or from the project root. */
export async function loadConfigFile(projectRoot: string, explicit?: string | null, aliases: ConfigAliases = {}): Promise<{ file: string | null; raw: unknown }> {
  // The loaders cost ~0.1 s to import: a project with no config never loads them.
  if (!explicit && !hasConfig(projectRoot)) return { file: null, raw: {} };
  const load = await jitiLoader(aliases);
  const { cosmiconfig } = await import("cosmiconfig");
  const explorer = cosmiconfig(PACKAGE_KEY, {
    searchPlaces: ["package.json", ...CONFIG_FILES],
    packageProp: PACKAGE_KEY,
    searchStrategy: "none",
    cache: false,
    loaders: { ".ts": load, ".mts": load, ".js": load, ".mjs": load },
  });
  try {
    if (explicit) {
      const file = path.resolve(explicit);
      const r = await explorer.load(file);
      return { file, raw: r?.config ?? {} };
    }
    const r = await explorer.search(projectRoot);
    return r ? { file: r.filepath, raw: r.config } : { file: null, raw: {} };
  } catch (err) {
    if (isUpgradeError(err)) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e?.code === "ENOENT" && explicit) {
      throw new UpgradeError("CONFIG_LOAD_FAILED", `Cannot load config ${path.resolve(explicit)}: the file does not exist`, {
        hint: "Check the path given to --config, or run `agent-os-upgrade init` to write a starter config",
      });
    }
    throw new UpgradeError("CONFIG_LOAD_FAILED", `Cannot load config: ${e?.message?.split("\n")[0] ?? String(err)}`, {
      hint: "Fix the config file, or pass --config <file>",
      cause: err,
    });
  }
}

function describeIssue(i: z.core.$ZodIssue): string {
  if (i.code === "unrecognized_keys") {
    return i.keys.map((k) => `${[...i.path.map(String), k].join(".")}: unknown key`).join("; ");
  }
  const where = i.path.length ? i.path.map(String).join(".") : "(top level)";
  return `${where}: ${i.message}`;
}

/** Validates a raw config and composes the plugin list from the built-ins and the user's plugins. */
export function resolveConfig(raw: unknown, file: string | null, builtins: readonly Plugin[]): ResolvedConfig {
  const r = ConfigSchema.safeParse(raw ?? {});
  const known = Object.keys(ConfigSchema.shape).join(", ");
  if (!r.success) {
    const where = file ?? "the config";
    throw new UpgradeError("CONFIG_INVALID", `Invalid config in ${where}: ${r.error.issues.map(describeIssue).join("; ")}`, {
      hint: `Fix the named key (known keys: ${known}; see README "Configuration"), or run \`agent-os-upgrade init\` for a starter config`,
      details: { file, issues: r.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })) },
    });
  }
  const config = r.data;
  const builtinNames = new Set(builtins.map((p) => p.name));
  for (const name of config.disable ?? []) {
    if (!builtinNames.has(name)) {
      throw new UpgradeError("CONFIG_INVALID", `Invalid config in ${file ?? "the config"}: disable: "${name}" is not a built-in plugin (expected one of ${[...builtinNames].map((n) => `"${n}"`).join(", ")})`, {
        hint: "Remove it from `disable`",
      });
    }
  }
  const user = config.plugins ?? [];
  const dup = user.map((p) => p.name).find((n, i, all) => all.indexOf(n) !== i);
  if (dup) {
    throw new UpgradeError("PLUGIN_DUPLICATE", `Invalid config in ${file ?? "the config"}: plugins: two plugins are named "${dup}"`, {
      hint: `List "${dup}" once, or give one of them another name`,
    });
  }
  const replaced = new Map(user.filter((p) => builtinNames.has(p.name)).map((p) => [p.name, p]));
  const disabled = new Set(config.disable ?? []);
  const plugins = [
    ...builtins.filter((p) => !disabled.has(p.name)).map((p) => replaced.get(p.name) ?? p),
    ...user.filter((p) => !builtinNames.has(p.name)),
  ];
  refuseMissingRequirements(plugins, file, disabled);
  if (config.source && file && !path.isAbsolute(config.source)) config.source = path.resolve(path.dirname(file), config.source);
  return { file, config, plugins };
}

/** A plugin whose `requires` names an absent one cannot run: refused here, before anything runs. */
function refuseMissingRequirements(plugins: readonly Plugin[], file: string | null, disabled: Set<string>): void {
  const miss = missingRequirement(plugins);
  if (!miss) return;
  const dependents = plugins.filter((p) => p.requires?.includes(miss.needs)).map((p) => `"${p.name}"`);
  const how = disabled.has(miss.needs) ? `disable: "${miss.needs}" is needed by ${dependents.join(", ")}` : `plugins: ${dependents.join(", ")} need the plugin "${miss.needs}", which is not in the list`;
  throw new UpgradeError("CONFIG_INVALID", `Invalid config in ${file ?? "the config"}: ${how}`, {
    hint: `Keep "${miss.needs}", or disable ${dependents.join(", ")} too`,
    details: { plugin: miss.plugin, requires: miss.needs },
  });
}

/** Validates a plugin factory's options; the message names the plugin and the bad key. */
export function parsePluginOptions<S extends z.ZodType>(plugin: string, schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  throw new UpgradeError("CONFIG_INVALID", `options of plugin "${plugin}": ${r.error.issues.map(describeIssue).join("; ")}`, {
    hint: `Fix the options passed to the "${plugin}" plugin factory`,
    plugin,
  });
}
