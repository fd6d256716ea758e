/** The lifecycle, in process: hook order and arguments, error attribution, rollback and cleanup never hiding the first error. */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { z } from "zod";
import { resolveConfig } from "../core/config.ts";
import { definePlugin, type Plugin } from "../core/plugin.ts";
import { runLifecycle } from "../core/upgrader.ts";
import { StateStore } from "../core/state.ts";
import type { RunOptions, UpgradeResult } from "../core/types.ts";
import { Findings } from "../core/types.ts";
import { preflightEvidence, preflightPlugin } from "../plugins/preflight.ts";
import type { Channel } from "../core/channel.ts";
import { reportPlugin } from "../plugins/report.ts";
import { fakePhases } from "./helpers/fake-phases.ts";
import { makeProject, makeSource, tmpDir } from "./helpers/project.ts";
import { snapshotTree } from "../demo/kit/tree.ts";
import { toRunOptions, type FlatRunOptions } from "./helpers/run-options.ts";

const test = suite("engine");

function setup() {
  const root = tmpDir();
  const src = makeSource(path.join(root, "src"));
  const proj = makeProject(path.join(root, "proj"));
  return { root, src, proj };
}

function options(src: string, target: string, extra: FlatRunOptions = {}): RunOptions {
  return toRunOptions({ source: src, target, dryRun: false, diff: false, onConflict: null, yes: false, json: true, restart: true, skipDeps: false, keepBackups: 3, from: null, interactive: false, ...extra });
}

async function run(plugins: Plugin[], extra: FlatRunOptions = {}, s = setup()): Promise<{ result: UpgradeResult; s: ReturnType<typeof setup> }> {
  const resolved = resolveConfig({}, null, [preflightPlugin(), fakePhases(), ...plugins, reportPlugin()]);
  const result = await runLifecycle({ resolved, options: options(s.src.dir, s.proj.dir, extra) });
  return { result, s };
}

test("the phases run in order and a recording plugin sees each hook with the right arguments", async () => {
  const seen: Array<[string, unknown[]]> = [];
  const rec = definePlugin({
    name: "recorder",
    apply(hooks) {
      hooks.config.tap((c) => (seen.push(["config", [c.plugins.length]]), c));
      hooks.start.tap((ctx) => void seen.push(["start", [ctx.layout.installDir, ctx.session]]));
      hooks.preflight.tap((ctx, f, ev) => void seen.push(["preflight", [f instanceof Findings, typeof ev, ctx.session]]));
      // Each tap gets its own plugin's record of the phase: empty, not the engine's or another plugin's.
      hooks.backup.tap((ctx, ev) => {
        seen.push(["backup", [Object.keys(ev), ctx.session?.id, fs.existsSync(ctx.layout.lockFile)]]);
        ev.recorded = true;
      });
      hooks.planContent.tap((plan, ctx) => (seen.push(["planContent", [plan.base.kind, plan.entries.length, ctx.dryRun]]), { ...plan, marker: "from-recorder" }));
      hooks.applyContent.tap((plan, ctx, ev) => void seen.push(["applyContent", [plan.marker, typeof ev, ctx.evidence(1, "fake-phases")?.backup_id]]));
      hooks.upgradeServer.tap((ctx) => void seen.push(["upgradeServer", [ctx.evidence(2, "fake-phases")?.written_hashes_verified]]));
      hooks.migrate.tap((_ctx, ev) => void seen.push(["migrate", [Object.keys(ev)]]));
      hooks.restartServer.tap((_ctx, ev) => void seen.push(["restartServer", [Object.keys(ev)]]));
      hooks.validate.tap((ctx, f) => void seen.push(["validate", [f instanceof Findings, ctx.evidence(0, "preflight")?.source_git_clean]]));
      hooks.rollback.tap(() => void seen.push(["rollback", []]));
      hooks.cleanup.tap((_ctx, outcome) => void seen.push(["cleanup", [outcome.status, outcome.error]]));
      hooks.done.tap((r) => void seen.push(["done", [r.status, r.exit_code]]));
      hooks.phaseStart.tap((p) => void seen.push(["phaseStart", [p]]));
      hooks.phaseEnd.tap((p, info) => void seen.push(["phaseEnd", [p, info.status]]));
    },
  });
  const { result, s } = await run([rec]);
  assert.is(result.status, "completed");
  assert.is(result.exit_code, 0);
  const names = seen.map(([n]) => n);
  assert.equal(names, [
    "config", "start",
    "phaseStart", "preflight", "planContent", "phaseEnd",
    "phaseStart", "backup", "phaseEnd",
    "phaseStart", "applyContent", "phaseEnd",
    "phaseStart", "upgradeServer", "migrate", "restartServer", "phaseEnd",
    "phaseStart", "validate", "phaseEnd",
    "phaseStart", "cleanup", "phaseEnd",
    "done",
  ]);
  const args = Object.fromEntries(seen.filter(([n]) => !n.startsWith("phase")));
  assert.equal(args.config, [4]);
  assert.equal(args.start, [s.proj.install, null]);
  assert.equal(args.preflight, [true, "object", null]);
  assert.equal(args.backup, [[], result.session_id, true]);
  assert.equal(args.planContent, ["none", 0, false]);
  assert.equal(args.applyContent, ["from-recorder", "object", "fake"]);
  assert.equal(args.upgradeServer, [true]);
  assert.equal(args.migrate, [[]]);
  assert.equal(args.restartServer, [[]]);
  assert.equal(args.validate, [true, true]);
  assert.equal(args.cleanup, ["completed", undefined]);
  assert.equal(args.done, ["completed", 0]);
  assert.equal(seen.filter(([n]) => n === "phaseStart").map(([, a]) => a[0]), [0, 1, 2, 3, 4, 5]);
  assert.equal(seen.filter(([n]) => n === "phaseEnd").map(([, a]) => a), [0, 1, 2, 3, 4, 5].map((p) => [p, "completed"]));
  // State on disk: completed, all phases, evidence kept; lock released.
  const state = new StateStore(path.join(s.proj.install, ".cache/state")).load(result.session_id!);
  assert.is(state.status, "completed");
  assert.equal(state.completed_phases, [0, 1, 2, 3, 4, 5]);
  // Evidence is kept per owner: the engine's, each plugin's (the recorder's own key too).
  const ev = (p: number) => state.phases[String(p)].evidence as Record<string, Record<string, unknown>>;
  assert.is(ev(0).preflight.source_commit, s.src.commit);
  assert.is(ev(1)["fake-phases"].integrity_verified, true);
  assert.equal(ev(1).engine, { lock_acquired: true });
  assert.equal(ev(1).recorder, { recorded: true });
  assert.equal(ev(5).engine, { lock_released: true });
  assert.is(fs.existsSync(path.join(s.proj.install, ".upgrade-lock")), false);
  assert.ok(fs.readFileSync(path.join(s.proj.install, "VERSION.txt"), "utf8").includes(`commit=${s.src.commit}`));
});

const HOOKS_IN_RUN = ["preflight", "backup", "planContent", "applyContent", "upgradeServer", "migrate", "restartServer", "validate", "cleanup", "phaseStart", "phaseEnd", "log"] as const;

for (const hook of HOOKS_IN_RUN) {
  test(`a plugin that throws in "${hook}" yields an error naming the plugin and the hook`, async () => {
    const boom = definePlugin({
      name: "boom",
      apply(hooks) {
        // deno-lint-ignore no-explicit-any
        const h = hooks[hook] as any;
        h.tap((...args: unknown[]) => {
          if (hook === "log" && (args[0] as { type: string }).type !== "phase-start") return;
          if (hook === "phaseStart" && args[0] !== 2) return;
          throw new Error(`kaboom in ${hook}`);
        });
      },
    });
    const { result } = await run([boom]);
    assert.ok(result.error, "an error is reported");
    assert.is(result.error!.plugin, "boom");
    assert.is(result.error!.hook, hook);
    assert.is(result.error!.message, `Plugin "boom" failed in hook "${hook}": kaboom in ${hook}`);
    assert.is.not(result.exit_code, 0);
  });
}

test("config and start errors are tagged too, and a non-Error rejection is normalised", async () => {
  for (const hook of ["config", "start"] as const) {
    const boom = definePlugin({
      name: "boom",
      apply(hooks) {
        (hooks[hook] as { tap(fn: () => unknown): void }).tap(() => Promise.reject("a bare string"));
      },
    });
    try {
      await run([boom]);
      assert.unreachable("should throw");
    } catch (err) {
      const e = err as { plugin: string; hook: string; message: string; code: string };
      assert.is(e.plugin, "boom");
      assert.is(e.hook, hook);
      assert.is(e.code, "PLUGIN_ERROR");
      assert.is(e.message, `Plugin "boom" failed in hook "${hook}": a bare string`);
    }
  }
});

test("a throwing rollback and a throwing cleanup do not replace the original error", async () => {
  const bad = definePlugin({
    name: "bad",
    apply(hooks) {
      hooks.applyContent.tap(() => {
        throw new Error("content exploded");
      });
      hooks.rollback.tap(() => {
        throw new Error("rollback broke");
      });
      hooks.cleanup.tap(() => {
        throw new Error("cleanup broke");
      });
    },
  });
  const { result, s } = await run([bad]);
  assert.is(result.status, "failed");
  assert.is(result.exit_code, 8);
  assert.is(result.error!.message, 'Plugin "bad" failed in hook "applyContent": content exploded');
  const secondary = result.secondary_errors.map((e) => `${e.code} ${e.message}`);
  assert.equal(secondary, [
    'ROLLBACK_FAILED Cannot finish the rollback: Plugin "bad" failed in hook "rollback": rollback broke',
    'PLUGIN_ERROR Plugin "bad" failed in hook "cleanup": cleanup broke',
  ]);
  const state = new StateStore(path.join(s.proj.install, ".cache/state")).load(result.session_id!);
  assert.is(state.status, "failed");
  assert.is(state.rollback!.status, "failed");
  // A failed rollback keeps the lock so that the next command reports the unfinished session.
  assert.ok(fs.existsSync(path.join(s.proj.install, ".upgrade-lock")));
});

for (const [hook, phase] of [["applyContent", 2], ["upgradeServer", 3], ["validate", 4]] as const) {
  test(`a failure in phase ${phase} triggers rollback with the reason; exit code 7`, async () => {
    const requests: unknown[] = [];
    const p = definePlugin({
      name: "failer",
      apply(hooks) {
        (hooks[hook] as { tap(fn: () => void): void }).tap(() => {
          throw new Error(`phase ${phase} broke`);
        });
        hooks.rollback.tap((_ctx, req) => void requests.push({ phase: req.phase, manual: req.manual, reason: req.reason }));
      },
    });
    const { result, s } = await run([p]);
    assert.is(result.status, "rolled_back");
    assert.is(result.exit_code, 7);
    assert.equal(requests, [{ phase, manual: false, reason: `Plugin "failer" failed in hook "${hook}": phase ${phase} broke` }]);
    const state = new StateStore(path.join(s.proj.install, ".cache/state")).load(result.session_id!);
    assert.is(state.status, "rolled_back");
    assert.is(state.rollback!.status, "completed");
    assert.is(state.rollback!.reason, `Plugin "failer" failed in hook "${hook}": phase ${phase} broke`);
    assert.ok(typeof state.rollback!.duration_ms === "number");
    assert.is(fs.existsSync(path.join(s.proj.install, ".upgrade-lock")), false);
  });
}

test("a failure in phase 1 does not roll back; a gate that sees a false value fails the phase", async () => {
  let rolled = false;
  const p = definePlugin({
    name: "liar",
    evidence: { 1: z.looseObject({ integrity_verified: z.literal(true) }) },
    apply(hooks) {
      hooks.backup.tap({ stage: 10 }, (_ctx, ev) => {
        // Its own record: it cannot spoil (or forge) fake-phases' evidence, only fail its own gate.
        ev.integrity_verified = false as unknown as true;
      });
      hooks.rollback.tap(() => void (rolled = true));
    },
  });
  const { result } = await run([p]);
  assert.is(result.status, "failed");
  assert.is(result.error!.code, "GATE_FAILED");
  assert.match(String(result.error!.message), "Cannot complete phase 1 (backup): its evidence does not show success: liar: integrity_verified");
  assert.not.match(String(result.error!.message), "fake-phases");
  assert.is(rolled, false);
  assert.is(result.exit_code, 1);
});

test("two plugins with one name are refused", async () => {
  const a = definePlugin({ name: "same", apply() {} });
  const b = definePlugin({ name: "same", apply() {} });
  try {
    await run([a, b]);
    assert.unreachable();
  } catch (err) {
    assert.is((err as { code: string }).code, "PLUGIN_DUPLICATE");
    assert.is((err as Error).message, 'Cannot use two plugins named "same"');
  }
});

test("a refused pre-flight writes nothing; a dry run writes nothing and cannot write", async () => {
  const s = setup();
  fs.writeFileSync(path.join(s.src.dir, "universal/standards/testing/unit.md"), "dirty\n");
  const before = snapshotTree(s.root, { mtime: true });
  const { result } = await run([], {}, s);
  assert.is(result.exit_code, 4);
  assert.is(result.error!.code, "PREFLIGHT_FAILED");
  assert.equal(snapshotTree(s.root, { mtime: true }), before);

  const s2 = setup();
  let caught = "";
  const writer = definePlugin({
    name: "writer",
    apply(hooks) {
      hooks.planContent.tap((plan, ctx) => {
        try {
          ctx.fs.writeFileSync(path.join(ctx.layout.installDir, "x"), "x");
        } catch (err) {
          caught = (err as { code: string }).code;
        }
        return plan;
      });
    },
  });
  const before2 = snapshotTree(s2.root, { mtime: true });
  const { result: r2 } = await run([writer], { dryRun: true }, s2);
  assert.is(r2.status, "completed");
  assert.is(r2.dry_run, true);
  assert.is(caught, "DRY_RUN_WRITE");
  assert.equal(snapshotTree(s2.root, { mtime: true }), before2);
});

test("a later hook of a phase reads what an earlier one recorded, through the owner's reader; a plugin's own record is kept under its name", async () => {
  let branch: unknown = "unread";
  const reader = definePlugin({
    name: "branch-reader",
    apply(hooks) {
      hooks.checkPlan.tap((ctx, findings) => {
        branch = preflightEvidence(ctx)?.source_branch;
        findings.warn("BRANCH_SEEN", `branch ${String(branch)}`);
      });
    },
  });
  const { result } = await run([reader]);
  assert.is(result.status, "completed", JSON.stringify(result.error));
  assert.is(branch, "main");
  assert.ok(result.findings.some((f) => f.code === "BRANCH_SEEN" && f.plugin === "branch-reader"));
});

test("a channel imported under a name its module does not export is refused at once, by name", async () => {
  const wrong = definePlugin({
    name: "wrong-channel",
    apply(hooks) {
      hooks.start.tap((ctx) => void ctx.channels.get(undefined as unknown as Channel<string>));
    },
  });
  try {
    await run([wrong]);
    assert.unreachable("an undefined channel was accepted");
  } catch (err) {
    assert.is((err as Error).message, `Plugin "wrong-channel" failed in hook "start": Cannot read a channel: undefined is not a channel`);
  }
});

test.run();
