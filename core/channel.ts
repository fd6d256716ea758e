/**
 * Typed channels: how plugins hand values to each other within one run, instead of a
 * string-keyed map and casts. A channel is declared once, in the module of the plugin that
 * publishes it (`defineChannel<T>("server.started")`), and imported by the plugins that read
 * it, so the compiler checks both ends. Values live for one run and are not persisted: a
 * resumed run re-publishes what it needs (from the session journal, where it matters).
 */
import { UpgradeError } from "./errors.ts";

/**
 * A named, typed slot. The key is the registered symbol of its name, so a plugin loaded
 * twice (once by us, once by a config through jiti) still meets the same channel: names
 * are namespaced by their plugin ("backup.scope") to stay unique.
 */
export interface Channel<T> {
  readonly key: symbol;
  readonly name: string;
  /** Phantom field: carries T for the type checker only. */
  readonly __type?: T;
}

export function defineChannel<T>(name: string): Channel<T> {
  return Object.freeze({ key: Symbol.for(`agent-os-upgrade:${name}`), name });
}

/**
 * What is not a channel is refused at once, by name: an `undefined` here is nearly always a
 * channel imported under a name its module does not export, which would otherwise fail
 * much later, far from the mistake.
 */
function checkChannel(channel: unknown, op: string): asserts channel is Channel<unknown> {
  const c = channel as Channel<unknown> | null | undefined;
  if (c && typeof c === "object" && typeof c.key === "symbol" && typeof c.name === "string") return;
  throw new UpgradeError("PLUGIN_ERROR", `Cannot ${op} a channel: ${channel === undefined ? "undefined" : JSON.stringify(channel) ?? String(channel)} is not a channel`, {
    hint: "Import the channel from the module that declares it (check the name is exported), or make one with defineChannel<T>(\"plugin.name\")",
  });
}

/** The channels of one run. */
export class Channels {
  readonly #values = new Map<symbol, unknown>();

  set<T>(channel: Channel<T>, value: T): void {
    checkChannel(channel, "set");
    this.#values.set(channel.key, value);
  }

  get<T>(channel: Channel<T>): T | undefined {
    checkChannel(channel, "read");
    return this.#values.get(channel.key) as T | undefined;
  }

  /**
   * The channel's value, created by `create` on first use: a registry that several plugins
   * add to works whatever order they run in, since the first one to ask creates it.
   */
  ensure<T>(channel: Channel<T>, create: () => T): T {
    checkChannel(channel, "read");
    if (this.#values.has(channel.key)) return this.#values.get(channel.key) as T;
    const value = create();
    this.#values.set(channel.key, value);
    return value;
  }

  has(channel: Channel<unknown>): boolean {
    checkChannel(channel, "read");
    return this.#values.has(channel.key);
  }
}
