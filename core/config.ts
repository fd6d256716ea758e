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
import { type OwnedOption, ownedOptions } from "./options.ts";
import { checkOptionValue } from "./options-resolve.ts";
import { CONFIG_FILES, hasConfig, PACKAGE_KEY } from "./config-file.ts";

export { CONFIG_FILES, hasConfig, PACKAGE_KEY } from "./config-file.ts";

const PluginSchema = z.custom<Plugin>(isPlugin, {
  message: "expected a plugin object { name, apply(hooks) } (make one with definePlugin or a plugin factory)",
});

/** The keys every config may have; the others are run options the plugins declare (`config: true`). */
export const ConfigSchema = z.object({
  /** Default for `--source`. Relative paths are relative to the config file. */
  source: z.string().min(1).optional(),
  /** Plugins: one with a built-in's name replaces that built-in (to give it options); others are added after. */
  plugins: z.array(PluginSchema).optional(),
  /** Built-in plugins to leave out, by name. */
  disable: z.array(z.string().min(1)).optional(),
});

/** A config file's shape as the core knows it; `defineConfig` in the library adds the built-ins' option keys. */
export type UserConfig = z.input<typeof ConfigSchema> & { [option: string]: unknown };

export interface ResolvedConfig {
  /** The file the config came from, or null for zero config. */
  file: string | null;
  config: z.output<typeof ConfigSchema>;
  /** The plugins of this run, in order. */
  plugins: Plugin[];
  /** The run options the plugins of this run declare. */
  options: OwnedOption[];
  /** The config's values for those options, checked against their kinds. */
  optionValues: Record<string, unknown>;
  /** Options of built-ins left out of this run: a value given for one is ignored, not refused. */
  absentOptions: ReadonlySet<string>;
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
  const where = file ?? "the config";
  const r = ConfigSchema.safeParse(raw ?? {});
  if (!r.success) throw invalidConfig(where, r.error.issues.map(describeIssue).join("; "), builtins, r.error.issues);
  const config = r.data;
  const plugins = composePlugins(config, where, builtins);
  refuseMissingRequirements(plugins, file, new Set(config.disable ?? []));
  if (config.source && file && !path.isAbsolute(config.source)) config.source = path.resolve(path.dirname(file), config.source);
  const declared = declaredOptions(plugins, builtins, where);
  const optionValues = configOptionValues((raw ?? {}) as Record<string, unknown>, declared.known, where, builtins);
  return { file, config, plugins, options: declared.present, optionValues, absentOptions: declared.absent };
}

function invalidConfig(where: string, what: string, builtins: readonly Plugin[], issues: readonly z.core.$ZodIssue[] = []): UpgradeError {
  const keys = [...Object.keys(ConfigSchema.shape), ...ownedOptions(builtins).list.filter((o) => o.config).map((o) => o.name)];
  return new UpgradeError("CONFIG_INVALID", `Invalid config in ${where}: ${what}`, {
    hint: `Fix the named key (known keys: ${keys.join(", ")}; see README "Configuration"), or run \`agent-os-upgrade init\` for a starter config`,
    details: { file: where, issues: issues.map((i) => ({ path: i.path.map(String), message: i.message })) },
  });
}

/** The built-ins less the disabled ones, a user plugin with a built-in's name in its place, then the other user plugins. */
function composePlugins(config: z.output<typeof ConfigSchema>, where: string, builtins: readonly Plugin[]): Plugin[] {
  const builtinNames = new Set(builtins.map((p) => p.name));
  for (const name of config.disable ?? []) {
    if (!builtinNames.has(name)) {
      throw new UpgradeError("CONFIG_INVALID", `Invalid config in ${where}: disable: "${name}" is not a built-in plugin (expected one of ${[...builtinNames].map((n) => `"${n}"`).join(", ")})`, {
        hint: "Remove it from `disable`",
      });
    }
  }
  const user = config.plugins ?? [];
  const dup = user.map((p) => p.name).find((n, i, all) => all.indexOf(n) !== i);
  if (dup) {
    throw new UpgradeError("PLUGIN_DUPLICATE", `Invalid config in ${where}: plugins: two plugins are named "${dup}"`, {
      hint: `List "${dup}" once, or give one of them another name`,
    });
  }
  const replaced = new Map(user.filter((p) => builtinNames.has(p.name)).map((p) => [p.name, p]));
  const disabled = new Set(config.disable ?? []);
  return [
    ...builtins.filter((p) => !disabled.has(p.name)).map((p) => replaced.get(p.name) ?? p),
    ...user.filter((p) => !builtinNames.has(p.name)),
  ];
}

/** The options of this run's plugins, and every option name known (built-ins left out included). */
function declaredOptions(plugins: readonly Plugin[], builtins: readonly Plugin[], where: string) {
  const present = ownedOptions(plugins);
  if (present.clash) {
    const [a, b] = present.clash;
    throw new UpgradeError("CONFIG_INVALID", `Invalid config in ${where}: plugins "${a.owner}" and "${b.owner}" both declare the run option "${a.name}"`, {
      hint: `Rename the option in one of the plugins`,
    });
  }
  const names = new Set(present.list.map((o) => o.name));
  const absentList = ownedOptions(builtins).list.filter((o) => !names.has(o.name));
  return { present: present.list, known: [...present.list, ...absentList], absent: new Set(absentList.map((o) => o.name)) };
}

/** The config's top-level option keys, each checked against its declaration; any other key is unknown. */
function configOptionValues(raw: Record<string, unknown>, known: readonly OwnedOption[], where: string, builtins: readonly Plugin[]): Record<string, unknown> {
  const core = new Set(Object.keys(ConfigSchema.shape));
  const byName = new Map(known.filter((o) => o.config).map((o) => [o.name, o]));
  const unknown = Object.keys(raw).filter((k) => !core.has(k) && !byName.has(k));
  if (unknown.length) throw invalidConfig(where, unknown.map((k) => `${k}: unknown key`).join("; "), builtins);
  const out: Record<string, unknown> = {};
  for (const [k, o] of byName) if (raw[k] !== undefined) out[k] = checkOptionValue(o, raw[k], { config: where });
  return out;
}

/** A plugin whose `requires` names an absent one cannot run: refused here, before anything runs. */
function refuseMissingRequirements(plugins: readonly Plugin[], file: string | null, disabled: ReadonlySet<string>): void {
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
