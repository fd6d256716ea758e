/**
 * Test doubles for phases 1–4, for the engine tests: they produce evidence that passes the
 * gates without touching the installation, so a test can exercise the lifecycle (order,
 * errors, locks, resume) on its own. Controlled by options or, in a CLI child process, by
 * env vars: AOU_FAIL_AT=<hook>, AOU_PAUSE_AT=<hook> with AOU_PAUSE_FILE (written when
 * reached; the tap then waits until AOU_RELEASE_FILE exists), AOU_RECORD=<file> (one line
 * per tap call).
 */
import fs from "node:fs";
import { definePlugin } from "../../core/plugin.ts";
import type { HookName } from "../../core/hooks.ts";
import { BackupEvidence } from "../../plugins/backup.ts";
import { ContentEvidence } from "../../plugins/content/channel.ts";
import { ServerEvidence } from "../../plugins/server.ts";
import { ValidationEvidence } from "../../plugins/validate.ts";

export interface FakeOptions {
  failAt?: string;
  pauseAt?: string;
  pauseFile?: string;
  releaseFile?: string;
  record?: string;
  name?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function fakePhases(o: FakeOptions = {}) {
  const opts: FakeOptions = {
    failAt: o.failAt ?? process.env.AOU_FAIL_AT,
    pauseAt: o.pauseAt ?? process.env.AOU_PAUSE_AT,
    pauseFile: o.pauseFile ?? process.env.AOU_PAUSE_FILE,
    releaseFile: o.releaseFile ?? process.env.AOU_RELEASE_FILE,
    record: o.record ?? process.env.AOU_RECORD,
  };
  const step = async (hook: HookName) => {
    if (opts.record) fs.appendFileSync(opts.record, `${hook} ${process.pid}\n`);
    if (opts.pauseAt === hook) {
      if (opts.pauseFile) fs.writeFileSync(opts.pauseFile, String(process.pid));
      while (!(opts.releaseFile && fs.existsSync(opts.releaseFile))) await sleep(20);
    }
    if (opts.failAt === hook) throw new Error(`fake failure in ${hook}`);
  };
  return definePlugin({
    name: o.name ?? "fake-phases",
    // The real plugins' gates: the doubles must satisfy what the real ones promise.
    evidence: { 1: BackupEvidence, 2: ContentEvidence, 3: ServerEvidence, 4: ValidationEvidence },
    apply(hooks) {
      hooks.planContent.tap(async (plan) => {
        await step("planContent");
        return plan;
      });
      hooks.backup.tap(async (ctx, ev) => {
        await step("backup");
        Object.assign(ev, { backup_path: `${ctx.layout.backupsDir}/fake`, backup_id: "fake", files_backed_up: 1, backup_size_bytes: 0, integrity_verified: true });
      });
      hooks.applyContent.tap(async (_plan, _ctx, ev) => {
        await step("applyContent");
        Object.assign(ev, {
          plan_counts: { new: 0, updated: 0, unchanged: 0, kept_local: 0, conflicts: 0, deleted: 0, errors: 0 },
          files_written: 0,
          written_hashes_verified: true,
          needs_attention: [],
        });
      });
      hooks.upgradeServer.tap(async (_ctx, ev) => {
        await step("upgradeServer");
        Object.assign(ev, { code: { status: "unchanged", hashes_verified: true }, deps: { status: "skipped", pip_check_ok: null }, restart: { status: "skipped" } });
      });
      hooks.validate.tap(async (_ctx, _f, ev) => {
        await step("validate");
        Object.assign(ev, { tools_expected: [], tools_registered: [], smoke_tests: [], stderr_errors: [], user_files_unchanged: true, validation_report: "fake" });
      });
      hooks.rollback.tap(async (_ctx, req) => {
        await step("rollback");
        req.evidence.fake_restored = true;
      });
    },
  });
}
