/**
 * The plugin contract. A plugin is a `{ name, apply(hooks) }` object, usually made by a
 * factory that validates its options. `apply` receives tap-only hooks: plugins cannot call
 * hooks, so only the core runs the lifecycle. A plugin also declares what the engine needs
 * to know about it without knowing it: the evidence it contributes to each phase's gate and
 * the plugins it cannot work without.
 */
import { SyncHook } from "tapable";
import { tagPluginError, UpgradeError } from "./errors.ts";
import { EvidenceBook, type EvidenceSchemas } from "./evidence.ts";
import { wallClock } from "./dry-watch.ts";
import type { HookName, Hooks } from "./hooks.ts";
import type { RunOptionDecls } from "./options.ts";
import { Findings } from "./types.ts";

export interface TapOptions {
  /** Lower stages run first (tapable semantics); use the named `STAGE` values. */
  stage?: number;
  /** Run before the named plugins' taps on this hook. */
  before?: string | string[];
}

/** Named stages, so that order between plugins is declared, never a magic number. */
export const STAGE = Object.freeze({
  /** Before every ordinary tap (e.g. stop the new server before files are restored). */
  first: -100,
  normal: 0,
  /** After every ordinary tap (e.g. start the old server once files are restored). */
  last: 100,
  /** After even the `last` taps: record the final state of what a run wrote. */
  final: 1000,
});

type Awaitable<T> = T | Promise<T>;

/** A hook as a plugin sees it: taps only. Async hooks accept sync or async functions. */
export type TapOnlyHook<H> = H extends { tapPromise: unknown; promise(...args: infer A): Promise<infer R> } ? {
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
  /** Per phase, the zod schema of the evidence this plugin contributes; merged into the phase's gate. */
  evidence?: EvidenceSchemas;
  /** Plugins this one cannot work without (by name); a config that disables one is refused. */
  requires?: readonly string[];
  /** What a run loses when a config disables this plugin, said once as a warning (a safety plugin: "nothing is backed up: …"). */
  whenDisabled?: string;
  /** The run options this plugin owns: how a CLI flag, an MCP parameter or a config key sets each (read them with `optionsReader`). */
  options?: RunOptionDecls;
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

type AnyHook = {
  constructor: unknown;
  intercept(i: { register(tap: { name: string; fn: (...a: unknown[]) => unknown }): unknown }): void;
  withOptions(o: { name: string }): { tap(o: object, fn: unknown): void; tapPromise(o: object, fn: unknown): void };
};

// SyncHook has a tapPromise that throws, so the class decides, not the method (tapable sets
// `constructor` on each hook; its factories have no prototype for instanceof).
const isAsync = (hook: AnyHook): boolean => hook.constructor !== SyncHook;

/** Told when each tap ran (a dry run's watch: which plugins were running when a file changed). */
export interface TapRecorder {
  span(plugin: string, hook: string, from: number): void;
}

/**
 * Every tap of a hook, whoever registers it, is wrapped when registered (tapable's `register`
 * interceptor): errors are tagged with the tap's plugin and the hook, a rejection that is not
 * an Error is normalised, a Findings or evidence argument is scoped to the plugin, and the
 * recorder, when there is one, is told when the tap ran.
 */
function attributeTaps(hooks: Hooks, allTaps?: TapRecorder): void {
  for (const name of Object.keys(hooks) as HookName[]) {
    const hook = hooks[name] as unknown as AnyHook;
    const async = isAsync(hook);
    // `log` fires for every line any plugin logs: its spans sit inside the writer's and would name the logger.
    const recorder = name === "log" ? undefined : allTaps;
    hook.intercept({
      register(tap) {
        const fn = tap.fn;
        const args = (a: unknown[]) => a.map((x) => (x instanceof Findings ? x.scoped(tap.name) : x instanceof EvidenceBook ? x.of(tap.name) : x));
        tap.fn = async
          ? async (...a: unknown[]) => {
            const t0 = recorder && wallClock();
            try {
              return await fn(...args(a));
            } catch (err) {
              throw tagPluginError(err, tap.name, name);
            } finally {
              if (recorder) recorder.span(tap.name, name, t0 as number);
            }
          }
          : (...a: unknown[]) => {
            const t0 = recorder && wallClock();
            try {
              return fn(...args(a));
            } catch (err) {
              throw tagPluginError(err, tap.name, name);
            } finally {
              if (recorder) recorder.span(tap.name, name, t0 as number);
            }
          };
        return tap;
      },
    });
  }
}

function tapOnlyView(hooks: Hooks, plugin: string): TapOnlyHooks {
  const view: Record<string, unknown> = {};
  for (const name of Object.keys(hooks) as HookName[]) {
    const hook = hooks[name] as unknown as AnyHook;
    const scoped = hook.withOptions({ name: plugin });
    const tap = (a: unknown, b?: unknown) => {
      const [opts, fn] = typeof a === "function" ? [{}, a] : [a ?? {}, b];
      if (typeof fn !== "function") {
        throw new UpgradeError("PLUGIN_ERROR", `Plugin "${plugin}" tapped hook "${name}" without a function`, {
          plugin,
          hook: name,
          hint: "Call hooks.<name>.tap(fn) or hooks.<name>.tap({ stage }, fn)",
        });
      }
      const { stage, before } = opts as TapOptions;
      const o = { stage, before };
      // Async hooks take sync functions too: a promise tap awaits whatever comes back.
      if (isAsync(hook)) scoped.tapPromise(o, async (...x: unknown[]) => await (fn as (...y: unknown[]) => unknown)(...x));
      else scoped.tap(o, fn);
    };
    view[name] = Object.freeze(isAsync(hook) ? { tap, tapPromise: tap } : { tap });
  }
  return Object.freeze(view) as unknown as TapOnlyHooks;
}

function checkPlugin(p: unknown, seen: Set<string>): asserts p is Plugin {
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
}

/** Applies plugins in order. Duplicate names are refused: errors and taps are keyed by name. */
export function applyPlugins(hooks: Hooks, plugins: readonly Plugin[], recorder?: TapRecorder): void {
  attributeTaps(hooks, recorder);
  const seen = new Set<string>();
  for (const p of plugins) {
    checkPlugin(p, seen);
    seen.add(p.name);
    const t0 = wallClock();
    try {
      p.apply(tapOnlyView(hooks, p.name));
    } catch (err) {
      throw tagPluginError(err, p.name, "apply");
    } finally {
      recorder?.span(p.name, "apply", t0);
    }
  }
}

/** The first plugin whose `requires` names one that is absent, as a config error naming both. */
export function missingRequirement(plugins: readonly Plugin[]): { plugin: string; needs: string } | null {
  const present = new Set(plugins.map((p) => p.name));
  for (const p of plugins) {
    for (const need of p.requires ?? []) if (!present.has(need)) return { plugin: p.name, needs: need };
  }
  return null;
}
