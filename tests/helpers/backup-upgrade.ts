/**
 * End-to-end driving of the real upgrader (`runLifecycle`) with the backup plugin and a
 * test plugin that does an upgrade's work in phases 2 and 3 and can fail in 2, 3 or 4, or
 * wait in phase 3 for a signal. Phase 0 evidence is filled as pre-flight would.
 */
import fs from "node:fs";
import type { ResolvedConfig } from "../../core/config.ts";
import { definePlugin, type Plugin } from "../../core/plugin.ts";
import type { LogEvent } from "../../core/log.ts";
import { runLifecycle, runManualRollback } from "../../core/upgrader.ts";
import type { RunOptions, UpgradeResult } from "../../core/types.ts";
import { backupPlugin, type BackupPluginOptions } from "../../plugins/backup.ts";
import { type Project, runOptions, simulateContent, simulateServer, WIDE } from "./backup-project.ts";
import { type FlatRunOptions } from "./run-options.ts";
import { resolvedWith } from "./run-options.ts";

export type FailIn = 2 | 3 | 4 | "sigterm3" | null;

/** Phase 0's evidence as pre-flight would fill it for a clean source at 395aab3. */
export const PHASE0_EVIDENCE = {
  source_path: "/src",
  source_commit: "395aab3".padEnd(40, "0"),
  source_branch: "main",
  source_git_clean: true,
  target_structure_valid: true,
  disk_space_available: 2e9,
  disk_space_required: 1e6,
  no_concurrent_workflows: true,
  from_version: "ced34ea",
  to_version: "395aab3",
};

/** Phase 3's evidence for a server code swap without deps or restart. */
export const SWAPPED_SERVER_EVIDENCE = {
  code: { status: "swapped", hashes_verified: true },
  deps: { status: "skipped", pip_check_ok: null },
  restart: { status: "skipped" },
};

/** Phase 4's evidence of a validation that expected nothing and found nothing wrong. */
export const EMPTY_VALIDATION_EVIDENCE = {
  tools_expected: [],
  tools_registered: [],
  smoke_tests: [],
  stderr_errors: [],
  user_files_unchanged: true,
  validation_report: "/dev/null",
};

export function fakeUpgradePlugin(failIn: FailIn, readyFile?: string): Plugin {
  return definePlugin({
    name: "fake-upgrade",
    apply(hooks) {
      hooks.preflight.tap((_ctx, _findings, ev) => void Object.assign(ev, PHASE0_EVIDENCE));
      hooks.applyContent.tap((_plan, ctx, ev) => {
        simulateContent(ctx.layout);
        if (failIn === 2) throw new Error("content exploded halfway");
        Object.assign(ev, {
          plan_counts: { new: 1, updated: 2, unchanged: 0, kept_local: 0, conflicts: 0, deleted: 1, errors: 0 },
          files_written: 3,
          written_hashes_verified: true,
          needs_attention: [],
        });
      });
      hooks.upgradeServer.tap(async (ctx, ev) => {
        simulateServer(ctx.layout);
        if (failIn === 3) throw new Error("pip install failed");
        if (failIn === "sigterm3") {
          fs.writeFileSync(readyFile!, String(process.pid));
          // Stands for a long step (pip); the timer keeps the process alive, as the step would.
          const busy = setInterval(() => {}, 1000);
          await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
          clearInterval(busy);
          throw ctx.signal.reason;
        }
        Object.assign(ev, SWAPPED_SERVER_EVIDENCE);
      });
      hooks.validate.tap((_ctx, findings, ev) => {
        if (failIn === 4) findings.error("TOOL_MISSING", "the new server does not register search_standards", "Fix the server");
        Object.assign(ev, EMPTY_VALIDATION_EVIDENCE);
      });
      hooks.cleanup.tap((_ctx, _outcome, ev) => {
        ev.report_path = "/dev/null";
      });
    },
  });
}

export { resolvedWith };

export interface UpgradeWithOptions {
  options?: FlatRunOptions;
  onEvent?: (e: LogEvent) => void;
  handleSignals?: boolean;
  resume?: boolean;
}

/** An upgrade of `p` from the source "/src" by the real upgrader with these plugins. */
export function upgradeWith(plugins: Plugin[], p: Project, o: UpgradeWithOptions = {}): Promise<UpgradeResult> {
  return runLifecycle(
    { resolved: resolvedWith(plugins), options: { ...runOptions(p.layout, o.options), source: "/src" }, ...(o.resume ? { resume: { sessionId: null } } : {}) },
    { onEvent: o.onEvent, handleSignals: o.handleSignals ?? false },
  );
}

/** A manual rollback of `p` by the real upgrader with these plugins (to the newest backup without an id). */
export function rollbackWith(plugins: Plugin[], p: Project, backupId?: string) {
  return runManualRollback({ resolved: resolvedWith(plugins), options: runOptions(p.layout), backupId: backupId ?? null });
}

export function upgrade(p: Project, failIn: FailIn, o: { backup?: BackupPluginOptions; onEvent?: (e: LogEvent) => void; handleSignals?: boolean; readyFile?: string; resume?: boolean } = {}): Promise<UpgradeResult> {
  const plugins = [fakeUpgradePlugin(failIn, o.readyFile), backupPlugin({ batchSize: 16, sync: false, ...WIDE, ...o.backup })];
  return upgradeWith(plugins, p, o);
}

export function manualRollback(p: Project, backupId?: string) {
  return rollbackWith([fakeUpgradePlugin(null), backupPlugin({ batchSize: 16, sync: false, ...WIDE })], p, backupId);
}
