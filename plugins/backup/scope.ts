/**
 * The backup's scope: what this upgrade will change, declared by the plugins that change
 * it. The backup plugin knows none of them; each plugin that writes something registers a
 * contributor (at `start`, which every run goes through, resumed ones included) on this
 * channel, and the backup plugin asks them all in phase 1, when the plan is known:
 *
 *   paths      files or folders it will write, delete or create (absolute). What exists is
 *              copied and hashed; what does not is recorded, so rollback removes it.
 *   taken      files it will replace only by renaming a new file over them, or delete —
 *              never write in place — with the sha256 its plan read (absolute → hash). The
 *              backup records them and copies nothing: just before replacing or deleting one,
 *              the plugin calls `take(abs)`, which hard-links the file into the backup (the
 *              old inode then lives on there: no copy, no re-read, no blocks freed).
 *   moveAside  folders it will replace by moving the old one aside (absolute). The backup
 *              only records their hashes; the plugin moves the old folder into the backup
 *              (`asideFor`) instead of beside the live one: the move is the backup, O(1).
 *
 * Light on purpose (no fs, no zod): every plugin imports it at load time.
 */
import { type Channel, defineChannel } from "../../core/channel.ts";
import type { UpgradeContext } from "../../core/types.ts";

export interface ScopeRequest {
  paths?: readonly string[];
  taken?: ReadonlyMap<string, string>;
  moveAside?: readonly string[];
}

export type ScopeContributor = (ctx: UpgradeContext) => ScopeRequest | Promise<ScopeRequest>;

export interface CollectedScope {
  /** Absolute path → the plugins that asked for it. */
  paths: Map<string, string[]>;
  /** Absolute file → the sha256 its plugin's plan read. */
  taken: Map<string, string>;
  moveAside: Map<string, string[]>;
}

export class BackupScope {
  readonly #contributors: Array<{ by: string; fn: ScopeContributor }> = [];
  #aside: ((abs: string) => string | null) | null = null;
  #take: ((abs: string) => boolean) | null = null;

  /** Registers what plugin `by` will change; called once per run, evaluated in phase 1. */
  add(by: string, fn: ScopeContributor): void {
    this.#contributors.push({ by, fn });
  }

  async collect(ctx: UpgradeContext): Promise<CollectedScope> {
    const out: CollectedScope = { paths: new Map(), taken: new Map(), moveAside: new Map() };
    const put = (m: Map<string, string[]>, p: string, by: string) => m.set(p, [...(m.get(p) ?? []), by]);
    for (const { by, fn } of this.#contributors) {
      const r = await fn(ctx);
      for (const p of r.paths ?? []) put(out.paths, p, by);
      for (const [p, sha] of r.taken ?? []) {
        put(out.paths, p, by);
        out.taken.set(p, sha);
      }
      for (const p of r.moveAside ?? []) put(out.moveAside, p, by);
    }
    return out;
  }

  /** Set by the backup plugin: links a file declared in `taken` into this run's backup; false when the backup does not take it. */
  setTake(fn: (abs: string) => boolean): void {
    this.#take = fn;
  }

  /** Called just before a `taken` file is replaced or deleted: the backup keeps its inode. */
  take(abs: string): boolean {
    return this.#take?.(abs) ?? false;
  }

  /** Set by the backup plugin: where a folder declared with `moveAside` goes, or null (no backup holds it). */
  setAside(fn: (abs: string) => string | null): void {
    this.#aside = fn;
  }

  /** Where to move the old `abs` aside so that it becomes the backup; null: keep it beside the live one. */
  asideFor(abs: string): string | null {
    return this.#aside?.(abs) ?? null;
  }
}

const ScopeChannel: Channel<BackupScope> = defineChannel<BackupScope>("backup.scope");

/** This run's scope registry (created on first use, so the order of plugins does not matter). */
export function backupScope(ctx: UpgradeContext): BackupScope {
  return ctx.channels.ensure(ScopeChannel, () => new BackupScope());
}
