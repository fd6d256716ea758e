/**
 * The plugin contract. A plugin is a `{ name, apply(hooks) }` object, usually made by a
 * factory that validates its options. `apply` receives tap-only hooks: plugins cannot call
 * hooks, so only the core runs the lifecycle. Every tap is wrapped so that an error thrown
 * (or a rejection, Error or not) is tagged with the plugin and the hook it came from.
 */
import { tagPluginError, UpgradeError } from "./errors.ts";
import { SyncHook } from "tapable";
import type { HookName, Hooks } from "./hooks.ts";
import { Findings } from "./types.ts";

export interface TapOptions {
  /** Lower stages run first (tapable semantics); default 0. */
  stage?: number;
  /** Run before the named plugin's tap. */
  before?: string;
}

type Awaitable<T> = T | Promise<T>;

/** A hook as a plugin sees it: taps only. Async hooks accept sync or async functions. */
export type TapOnlyHook<H> = H extends { tapPromise: unknown; promise(...args: infer A): Promise<infer R> }
  ? {
    tap(fn: (...args: A) => Awaitable<R>): void;
    tap(options: TapOptions, fn: (...args: A) => Awaitable<R>): void;
    tapPromise(fn: (...args: A) => Promise<R>): void;
    tapPromise(options: TapOptions, fn: (...args: A) => Promise<R>): void;
  }
  : H extends { call(...args: infer A): infer R } ? {
      tap(fn: (...args: A) => R): void;
      tap(options: TapOptions, fn: (...args: A) => R): void;
    }
  : never;

export type TapOnlyHooks = { readonly [K in HookName]: TapOnlyHook<Hooks[K]> };

export interface Plugin {
  /** Unique among the plugins of a run; errors and logs carry it. */
  name: string;
  apply(hooks: TapOnlyHooks): void;
}

/** Gives a user's plugin its types; returns it unchanged. */
export function definePlugin<P extends Plugin>(plugin: P): P {
  return plugin;
}

export function isPlugin(value: unknown): value is Plugin {
  return typeof value === "object" && value !== null &&
    typeof (value as Plugin).name === "string" && (value as Plugin).name.length > 0 &&
    typeof (value as Plugin).apply === "function";
}

// SyncHook has a tapPromise that throws, so the class decides, not the method (tapable sets
// `constructor` on each hook; its factories have no prototype for instanceof).
const ASYNC = (hook: unknown): boolean => (hook as { constructor: unknown }).constructor !== SyncHook;

function scopeArgs(args: unknown[], plugin: string): unknown[] {
  return args.map((a) => (a instanceof Findings ? a.scoped(plugin) : a));
}

function tapOnlyView(hooks: Hooks, plugin: string): TapOnlyHooks {
  const view: Record<string, unknown> = {};
  for (const name of Object.keys(hooks) as HookName[]) {
    const hook = hooks[name] as unknown as {
      tap(o: object, fn: (...a: unknown[]) => unknown): void;
      tapPromise(o: object, fn: (...a: unknown[]) => Promise<unknown>): void;
    };
    const split = (a: unknown, b: unknown): [TapOptions, (...x: unknown[]) => unknown] => {
      const [opts, fn] = typeof a === "function" ? [{}, a] : [a ?? {}, b];
      if (typeof fn !== "function") {
        throw new UpgradeError("PLUGIN_ERROR", `Plugin "${plugin}" tapped hook "${name}" without a function`, {
          plugin,
          hook: name,
          hint: "Call hooks.<name>.tap(fn) or hooks.<name>.tap({ stage }, fn)",
        });
      }
      return [opts as TapOptions, fn as (...x: unknown[]) => unknown];
    };
    const tapOpts = (o: TapOptions) => ({ name: plugin, stage: o.stage, before: o.before });
    if (ASYNC(hook)) {
      const tapAsync = (a: unknown, b?: unknown) => {
        const [opts, fn] = split(a, b);
        hook.tapPromise(tapOpts(opts), async (...args: unknown[]) => {
          try {
            return await fn(...scopeArgs(args, plugin));
          } catch (err) {
            throw tagPluginError(err, plugin, name);
          }
        });
      };
      view[name] = Object.freeze({ tap: tapAsync, tapPromise: tapAsync });
    } else {
      view[name] = Object.freeze({
        tap: (a: unknown, b?: unknown) => {
          const [opts, fn] = split(a, b);
          hook.tap(tapOpts(opts), (...args: unknown[]) => {
            try {
              return fn(...scopeArgs(args, plugin));
            } catch (err) {
              throw tagPluginError(err, plugin, name);
            }
          });
        },
      });
    }
  }
  return Object.freeze(view) as unknown as TapOnlyHooks;
}

/** Applies plugins in order. Duplicate names are refused: errors and taps are keyed by name. */
export function applyPlugins(hooks: Hooks, plugins: readonly Plugin[]): void {
  const seen = new Set<string>();
  for (const p of plugins) {
    if (!isPlugin(p)) {
      throw new UpgradeError("CONFIG_INVALID", `Cannot use plugin: ${JSON.stringify(p) ?? String(p)} is not a { name, apply } object`, {
        hint: "Create plugins with definePlugin({ name, apply(hooks) { … } }) or a plugin factory",
      });
    }
    if (seen.has(p.name)) {
      throw new UpgradeError("PLUGIN_DUPLICATE", `Cannot use two plugins named "${p.name}"`, {
        hint: `Rename one of them, or list "${p.name}" once in upgrade.config.ts`,
      });
    }
    seen.add(p.name);
    try {
      p.apply(tapOnlyView(hooks, p.name));
    } catch (err) {
      throw tagPluginError(err, p.name, "apply");
    }
  }
}
