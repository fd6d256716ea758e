/**
 * The disk space an upgrade needs, declared by the plugins that use it: pre-flight knows
 * none of them. Each plugin that backs up or writes something registers a contributor (at
 * `start`) on this channel; pre-flight asks them all once the content plan is built
 * (`checkPlan`), sums their bytes and refuses when the free space is short. A disabled
 * plugin registers nothing, so it needs nothing.
 *
 * Light on purpose (node:fs only): every plugin that contributes imports it at load time.
 */
import fs from "node:fs";
import path from "node:path";
import { type Channel, defineChannel } from "../../core/channel.ts";
import type { UpgradeContext } from "../../core/types.ts";

export interface DiskNeed {
  /** Bytes this plugin will add on the installation's filesystem. */
  bytes: number;
  /** What they are, for the refusal message and the evidence ("backup", "staged server code"). */
  what: string;
}

export type DiskContributor = (ctx: UpgradeContext) => DiskNeed | Promise<DiskNeed>;

export class DiskNeeds {
  readonly #contributors: Array<{ by: string; fn: DiskContributor }> = [];

  /** Registers what plugin `by` will need; evaluated after the plan is built. */
  add(by: string, fn: DiskContributor): void {
    this.#contributors.push({ by, fn });
  }

  async collect(ctx: UpgradeContext): Promise<Array<DiskNeed & { by: string }>> {
    const out: Array<DiskNeed & { by: string }> = [];
    for (const { by, fn } of this.#contributors) out.push({ by, ...(await fn(ctx)) });
    return out;
  }
}

const DiskChannel: Channel<DiskNeeds> = defineChannel<DiskNeeds>("preflight.disk");

/** This run's disk-need registry (created on first use, so the order of plugins does not matter). */
export function diskNeeds(ctx: UpgradeContext): DiskNeeds {
  return ctx.channels.ensure(DiskChannel, () => new DiskNeeds());
}

const COPY_EXCLUDE = new Set(["__pycache__", ".pytest_cache", ".mypy_cache", ".DS_Store", ".git"]);

/** Bytes under a path, following nothing; skips caches that are never copied. */
export function treeSize(root: string): number {
  let total = 0;
  const stack = [root];
  while (stack.length) {
    const p = stack.pop()!;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) {
      for (const name of fs.readdirSync(p)) if (!COPY_EXCLUDE.has(name) && !name.endsWith(".pyc")) stack.push(path.join(p, name));
    } else total += st.size;
  }
  return total;
}
