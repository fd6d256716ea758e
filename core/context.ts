/**
 * The context every hook receives. Side effects go through it: `ctx.$` (zx, cwd set, quiet;
 * in a dry run only read-only commands, core/dry-shell.ts), `ctx.fs` (fs-extra, or a guard in
 * a dry run that throws on any write), `ctx.log`.
 */
import fsExtra from "fs-extra";
import type { LogEntry, Shell } from "zx";
import { UpgradeError } from "./errors.ts";
import { Channels } from "./channel.ts";
import { DRY_RUN_ENV, readOnlyShell } from "./dry-shell.ts";
import { loadZx } from "./zx.ts";
import type { Layout } from "./layout.ts";
import type { Logger } from "./log.ts";
import type { PhaseEvidence } from "./evidence.ts";
import type { Phase } from "./phases.ts";
import type { ContentPlan, FsApi, RunOptions, SessionHandle, UpgradeContext } from "./types.ts";

/** fs-extra methods that write; in a dry run each of them throws (enforces "writes nothing"). */
const WRITING = /^(write\w*|append\w*|copy\w*|cp|move|remove|rm|rmdir|unlink|mkdir\w*|mkdtemp|mkdirs|mkdirp|ensure\w*|output\w*|rename|chmod|lchmod|fchmod|chown|lchown|fchown|symlink|link|truncate|ftruncate|utimes|lutimes|futimes|createWriteStream|emptyDir|emptydir|open|fsync|fdatasync)(Sync)?$/;

/** Namespaces of fs-extra that hold writing functions too (`fs.promises.writeFile`). */
const NESTED = new Set(["promises"]);

function refuse(name: string): () => never {
  return () => {
    throw new UpgradeError("DRY_RUN_WRITE", `Cannot write in a dry run: a plugin called fs.${name}`, {
      hint: "Plugins must check ctx.dryRun before writing; report this to the plugin's author",
    });
  };
}

function guard<T extends object>(target: T, prefix: string): T {
  return new Proxy(target, {
    get(t, prop, receiver) {
      const value = Reflect.get(t, prop, receiver);
      if (typeof prop !== "string") return value;
      if (typeof value === "function" && WRITING.test(prop)) return refuse(prefix + prop);
      if (NESTED.has(prop) && value && typeof value === "object") return guard(value as object, `${prefix}${prop}.`);
      return value;
    },
  });
}

/** fs-extra where every writing method, including those of `fs.promises`, throws DRY_RUN_WRITE. */
export function dryRunFs(): FsApi {
  return guard(fsExtra, "") as FsApi;
}

export interface ContextInit {
  layout: Layout;
  options: RunOptions;
  log: Logger;
  signal: AbortSignal;
  session: () => SessionHandle | null;
  evidence: (phase: Phase) => PhaseEvidence | undefined;
  plan: () => ContentPlan | null;
}

/** Every command a plugin spawns through `ctx.$`, with its exit and time, as debug lines (`--verbose`). */
function spawnLog(log: Logger): (entry: LogEntry) => void {
  const running = new Map<string, string>();
  return (entry) => {
    if (entry.kind === "cmd") {
      running.set(entry.id, entry.cmd);
      log.debug(`spawn ${entry.cmd}`, { cwd: entry.cwd });
    } else if (entry.kind === "end") {
      log.debug(`exit ${entry.exitCode ?? entry.signal} in ${Math.round(entry.duration)} ms: ${running.get(entry.id) ?? "?"}`);
      running.delete(entry.id);
    }
  };
}

/** zx's `$` for this run, made on the first `ctx.$` (see core/zx.ts); a dry run's runs read-only commands only. */
function lazyShell(init: ContextInit): () => Shell {
  let shell: Shell | undefined;
  return () => {
    if (shell) return shell;
    const dry = init.options.dryRun;
    const env = dry ? { env: { ...process.env, ...DRY_RUN_ENV } } : {};
    shell = loadZx().$({ cwd: init.layout.projectRoot, quiet: true, signal: init.signal, verbose: false, log: spawnLog(init.log), ...env }) as Shell;
    if (dry) shell = readOnlyShell(shell);
    return shell;
  };
}

export function createContext(init: ContextInit): UpgradeContext {
  const shell = lazyShell(init);
  const channels = new Channels();
  const fs = init.options.dryRun ? dryRunFs() : fsExtra;
  return Object.freeze({
    layout: init.layout,
    options: init.options,
    dryRun: init.options.dryRun,
    get $() {
      return shell();
    },
    fs,
    log: init.log,
    signal: init.signal,
    get session() {
      return init.session();
    },
    evidence(phase: Phase, plugin: string) {
      return init.evidence(phase)?.[plugin];
    },
    get plan() {
      return init.plan();
    },
    channels,
  });
}
