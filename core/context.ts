/**
 * The context every hook receives. Side effects go through it: `ctx.$` (zx, cwd set, quiet),
 * `ctx.fs` (fs-extra, or a guard in a dry run that throws on any write), `ctx.log`.
 */
import fsExtra from "fs-extra";
import { $ as zx$ } from "zx";
import { UpgradeError } from "./errors.ts";
import type { EvidenceOf } from "./evidence.ts";
import type { Layout } from "./layout.ts";
import type { Logger } from "./log.ts";
import type { Phase } from "./phases.ts";
import type { FsApi, RunOptions, SessionHandle, UpgradeContext } from "./types.ts";

/** fs-extra methods that write; in a dry run each of them throws (enforces "writes nothing"). */
const WRITING = /^(write|append|copy|move|remove|rm|mkdir|mkdtemp|mkdirs|mkdirp|ensure|output|rename|unlink|rmdir|chmod|lchmod|chown|lchown|fchmod|fchown|symlink|link|truncate|ftruncate|utimes|lutimes|futimes|createWriteStream|emptyDir|emptydir|cp|open|fsync|fdatasync)/;

export function dryRunFs(): FsApi {
  return new Proxy(fsExtra, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof prop === "string" && typeof value === "function" && WRITING.test(prop)) {
        return () => {
          throw new UpgradeError("DRY_RUN_WRITE", `Cannot write in a dry run: a plugin called fs.${prop}`, {
            hint: "Plugins must check ctx.dryRun before writing; report this to the plugin's author",
          });
        };
      }
      return value;
    },
  }) as FsApi;
}

export interface ContextInit {
  layout: Layout;
  options: RunOptions;
  log: Logger;
  signal: AbortSignal;
  session: () => SessionHandle | null;
  evidence: (phase: Phase) => Record<string, unknown> | undefined;
}

export function createContext(init: ContextInit): UpgradeContext {
  const $ = zx$({ cwd: init.layout.projectRoot, quiet: true, signal: init.signal, verbose: false });
  const shared = new Map<string, unknown>();
  const fs = init.options.dryRun ? dryRunFs() : fsExtra;
  return Object.freeze({
    layout: init.layout,
    options: init.options,
    dryRun: init.options.dryRun,
    $,
    fs,
    log: init.log,
    signal: init.signal,
    get session() {
      return init.session();
    },
    evidence<P extends Phase>(phase: P) {
      return init.evidence(phase) as EvidenceOf<P> | undefined;
    },
    shared,
  });
}
