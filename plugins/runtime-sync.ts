/**
 * The runtime-sync plugin: the part of `agent-os-upgrade sync` that is not the deps or
 * validate plugins' (app/commands/sync.ts assembles the run). A sync's "source" is the
 * installation itself: the content, the server code and the launch entries are what the
 * project's git says, and nothing of them is written; only this machine's runtime moves.
 *
 *   start          hands deps the committed requirements and what to do (RuntimeSync);
 *                  a venv to make is in the backup's scope (absent: rollback removes it)
 *   upgradeServer  before deps: a new venv where there is none, or where it was made for
 *                  another folder (the install moved; the old one is in the backup)
 *   restartServer  a server of this project running in the background is restarted on the
 *                  committed code (validate then probes it); one the IDE owns is left to it
 *   rollback       stops what it started, starts again what it stopped
 *   cleanup        on success, the machine-local record (`.cache/runtime-sync.json`)
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { writeJsonAtomic } from "../core/atomic.ts";
import { UpgradeError } from "../core/errors.ts";
import { definePlugin, STAGE } from "../core/plugin.ts";
import type { UpgradeContext } from "../core/types.ts";
import { backupScope } from "./backup/scope.ts";
import { hashServer, recordFile, recordNow, RuntimeSync, basePython, siblingVenv, type SyncPlan } from "./deps/runtime-record.ts";
import { activeLayout, installedServerDir } from "./layouts/detect.ts";
import { needsTransportArg, serverEnv, transportOf, withTransport } from "./server/launch.ts";
import { runCommand } from "./server/pip.ts";
import { findProjectServer, identifyServer, ownsSession, processAlive, startDetached, stopServer } from "./server/process.ts";
import { journal, journalled, launchFor, ServerStarted, type StartedServer } from "./server/shared.ts";

export const PLUGIN_NAME = "runtime-sync";

const STEP = Object.freeze({ venv: "runtime-sync:venv", stopped: "runtime-sync:stopped", started: "runtime-sync:started" });
const IDE_RELOAD = "Reload the MCP server in your IDE (Cursor: Settings → MCP → restart it) so that it runs the committed code";

/** Phase 3's gate, for this plugin: the venv decided, the server restarted or left with a reason. */
export const RuntimeSyncEvidence = z.looseObject({
  venv: z.looseObject({ status: z.enum(["created", "kept"]) }),
  restart: z.looseObject({ status: z.enum(["restarted", "ide_reload_required", "not_running"]) }),
});

const logFile = (ctx: UpgradeContext) => path.join(ctx.layout.cacheDir, "mcp-server.log");

/** The launch for a background server: the IDE's line, with the transport it ran in when the server takes one. */
function backgroundLaunch(ctx: UpgradeContext, transport: string | undefined) {
  const launch = launchFor(ctx, undefined);
  const now = transportOf(launch.args);
  const args = !needsTransportArg(installedServerDir(ctx)).needed || now === "http" || now === "dual" ? launch.args : withTransport(launch.args, transport ?? "dual");
  return { launch, args };
}

async function start(ctx: UpgradeContext, transport: string | undefined): Promise<StartedServer> {
  const { launch, args } = backgroundLaunch(ctx, transport);
  const r = await startDetached({ command: launch.command, args, env: serverEnv(launch.env), cwd: launch.cwd, installDir: ctx.layout.installDir, logFile: logFile(ctx), timeoutMs: 30_000 });
  if (!r.ok) {
    throw new UpgradeError("SERVER_FAILED", `Cannot start the MCP server on the committed code: ${r.error}`, { hint: `See ${r.logFile}; the sync is rolled back`, details: { log: r.logFile } });
  }
  return { pid: r.state!.pid, url: r.state!.url, logFile: r.logFile };
}

async function makeVenv(ctx: UpgradeContext): Promise<Record<string, unknown>> {
  const dir = ctx.layout.venvDir;
  const python = basePython([dir, ...[siblingVenv(ctx.layout)].filter((v) => v !== null)]);
  const r = await runCommand([python, "-m", "venv", "--clear", dir], { cwd: ctx.layout.projectRoot, timeoutMs: 300_000 });
  if (r.exitCode !== 0) {
    throw new UpgradeError("SERVER_FAILED", `Cannot make a venv at "${dir}": ${(r.stderr || r.stdout).trim().split("\n").at(-1) ?? `exit ${r.exitCode}`}`, {
      hint: `Check that ${python} has the venv module (Debian: apt install python3-venv); the sync is rolled back`,
    });
  }
  await journal(ctx, STEP.venv, { python });
  ctx.log.info(`sync: made a new venv at ${path.relative(ctx.layout.projectRoot, dir)} with ${python}`);
  return { status: "created", python };
}

async function restart(ctx: UpgradeContext): Promise<Record<string, unknown>> {
  const found = findProjectServer(ctx.layout.installDir);
  if (found.status !== "running") return { status: "not_running" };
  const { pid, transport } = found.state;
  if (!ownsSession(pid)) {
    ctx.log.warn(`The MCP server (pid ${pid}) belongs to your IDE: ${IDE_RELOAD}`);
    return { status: "ide_reload_required", pid, message: IDE_RELOAD };
  }
  const stop = await stopServer(pid, { timeoutMs: 5_000 });
  if (!stop.exited) throw new UpgradeError("SERVER_FAILED", `Cannot stop the MCP server (pid ${pid}): it survived SIGKILL`, { hint: "Stop it by hand, then run the sync again" });
  await journal(ctx, STEP.stopped, { pid, transport: transport ?? null });
  const started = await start(ctx, transport);
  ctx.channels.set(ServerStarted, started);
  await journal(ctx, STEP.started, { ...started });
  ctx.log.info(`sync: server restarted on the committed code (pid ${pid} → ${started.pid}, ${started.url})`);
  return { status: "restarted", old_pid: pid, pid: started.pid, url: started.url };
}

export function runtimeSyncPlugin(plan: SyncPlan) {
  return definePlugin({
    name: PLUGIN_NAME,
    evidence: { 3: RuntimeSyncEvidence },
    apply(hooks) {
      hooks.start.tap((ctx) => {
        const requirements = plan.requirements ?? path.join(ctx.layout.installDir, activeLayout(ctx).server.requirements);
        ctx.channels.set(RuntimeSync, { requirements, install: plan.install, createVenv: plan.createVenv });
        backupScope(ctx).add(PLUGIN_NAME, (c) => ({ paths: plan.createVenv ? [c.layout.venvDir] : [] }));
      });
      hooks.upgradeServer.tap({ before: "deps" }, async (ctx, draft) => {
        draft.venv = plan.createVenv && !journalled(ctx, STEP.venv) ? await makeVenv(ctx) : { status: plan.createVenv ? "created" : "kept" };
      });
      hooks.restartServer.tap(async (ctx, draft) => {
        // Nothing claims a sync that did not install (deps disabled in the config, or --skip-deps there).
        const deps = (ctx.evidence(3, "deps")?.deps as { status?: string } | undefined)?.status;
        if (plan.install && deps !== "installed") {
          throw new UpgradeError("SERVER_FAILED", `Cannot sync: the requirements were not installed (deps: ${deps ?? "no deps plugin in this run"})`, {
            hint: "Enable the deps plugin (and drop skipDeps) in upgrade.config.ts, or install them by hand; the sync is rolled back",
          });
        }
        draft.restart = await restart(ctx);
      });
      hooks.rollback.tap({ stage: STAGE.first }, async (ctx, request) => {
        const started = ctx.channels.get(ServerStarted) ?? (journalled(ctx, STEP.started) as StartedServer | undefined);
        if (started && processAlive(started.pid) && identifyServer(started.pid, ctx.layout.installDir).ours) {
          request.evidence.sync_stopped_new = await stopServer(started.pid, { timeoutMs: 5_000 });
        }
      });
      hooks.rollback.tap({ stage: STAGE.last }, async (ctx, request) => {
        const stopped = journalled(ctx, STEP.stopped);
        if (!stopped) return;
        // The venv is the backup's again: the server it stopped runs again, as before the sync.
        try {
          const again = await start(ctx, (stopped.transport as string | null) ?? undefined);
          request.evidence.sync_restarted_old = again;
        } catch (err) {
          ctx.log.error(`The MCP server stopped by the sync did not come back: ${(err as Error).message}`);
        }
      });
      hooks.cleanup.tap(async (ctx, outcome) => {
        if (ctx.dryRun || outcome.status !== "completed") return;
        const requirementsSha = plan.requirements && fs.existsSync(plan.requirements) ? plan.requirementsSha : null;
        fs.mkdirSync(ctx.layout.cacheDir, { recursive: true });
        writeJsonAtomic(recordFile(ctx.layout), recordNow(ctx.layout, { requirementsSha, serverSha: hashServer(installedServerDir(ctx)) }));
      });
    },
  });
}
