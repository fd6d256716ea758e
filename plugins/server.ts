/**
 * The server plugin (SPEC §5.3–5.4): replaces `mcp_server/` and `scripts/` exactly through
 * a verified staged copy and a swap, and restarts this project's MCP server by pid.
 *
 *   start          publishes the configured launch command to the other server plugins
 *   preflight      records the running server (pid checked against /proc), reports leftovers
 *                  of an interrupted swap and a state file naming someone else's process
 *   upgradeServer  stages, verifies and swaps each folder (after deps, which taps earlier)
 *   restartServer  after every migration: the restart — a detached server is
 *                  stopped and started again with the (migrated) launch command and must
 *                  answer MCP over HTTP; an IDE-owned one is left to the IDE, with a message
 *   rollback       stage -100: stops what we started and undoes the swaps; stage 100 (after
 *                  the backup is restored): starts the old server again if we had stopped it,
 *                  and health-checks it
 *   cleanup        removes the old folders once the upgrade completed
 *
 * The restart has its own hook after `migrate`: it must see the launch arguments the
 * migrations wrote. The factory parses the options and taps the hooks; each tap calls a
 * function of this module over the run's context and the options. What a run must remember
 * (the server before, what was stopped and started) is in its session journal and channels,
 * never in the plugin object, so one object may serve several runs.
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { activeLayout, everyReplacedFolder, installedServerDir, type ReplacedFolder, replacedFolders, retiredFolders } from "./layouts/detect.ts";
import { parsePluginOptions } from "../core/config.ts";
import { evidenceReader } from "../core/evidence.ts";
import { UpgradeError } from "../core/errors.ts";
import { definePlugin, STAGE } from "../core/plugin.ts";
import type { ContentPlan, Findings, Outcome, RollbackRequest, UpgradeContext } from "../core/types.ts";
import { type LaunchCommand, needsTransportArg, serverEnv, transportOf, withTransport } from "./server/launch.ts";
import { probeStdio } from "./server/mcp-client.ts";
import { findProjectServer, identifyServer, ownsSession, processAlive, startDetached, stopServer } from "./server/process.ts";
import { journal, journalled, launchFor, LaunchSpecSchema, type ServerBefore, type StartedServer, ServerLaunch, ServerStarted, ServerSwap, STEP } from "./server/shared.ts";
import { backupScope } from "./backup/scope.ts";
import { SERVER_RUN_OPTIONS, serverRunOptions } from "./server/run-options.ts";
import { diskNeeds, treeSize } from "./preflight/disk.ts";
import { DEFAULT_EXCLUDES, hashTree, oldPath, removeOld, repairSwap, stageCopy, stagedPath, swapStaged, undoSwap } from "./server/stage.ts";

export const PLUGIN_NAME = "server";

export const ServerOptions = z.strictObject({
  /** Folders replaced exactly: a name (the same in the source and the installation) or `{ from, to }`; default: the run's layout's. */
  folders: z.array(z.union([z.string().min(1), z.strictObject({ from: z.string().min(1), to: z.string().min(1) })])).optional(),
  /** globby patterns left out of the copy (SPEC §2). */
  excludes: z.array(z.string()).default([...DEFAULT_EXCLUDES]),
  /** The launch command; default: the project's `.cursor/mcp.json` entry, else `<venv>/bin/python -m mcp_server --transport dual`. */
  launch: LaunchSpecSchema.optional(),
  /** Transport for a restarted server when the running one did not say. */
  transport: z.enum(["dual", "http"]).default("dual"),
  /** Until the restarted server answers MCP over HTTP. */
  startTimeoutMs: z.number().int().positive().default(30_000),
  /** SIGTERM grace before SIGKILL. */
  stopTimeoutMs: z.number().int().positive().default(5_000),
  /** The restarted server's output, relative to the installation. */
  logFile: z.string().min(1).default(".cache/mcp-server.log"),
  /** Also stop a server the IDE owns (it then stays down until the IDE reloads it). */
  stopIdeServer: z.boolean().default(false),
});
export type ServerOptionsInput = z.input<typeof ServerOptions>;
/** The options once parsed (defaults filled): what the plugin's functions receive. */
type ServerOpts = z.output<typeof ServerOptions>;

const IDE_RELOAD = "Reload the MCP server in your IDE (Cursor: Settings → MCP → restart it) so that it runs the new code";

function swapId(ctx: UpgradeContext): string {
  return ctx.session?.id ?? "no-session";
}

/** Where the old folder goes in the swap: into the backup when it took this folder, else beside the live one. */
function oldFor(ctx: UpgradeContext, live: string): string {
  return backupScope(ctx).asideFor(live) ?? oldPath(live, swapId(ctx));
}

function serverError(message: string, hint: string, details?: unknown): UpgradeError {
  return new UpgradeError("SERVER_FAILED", message, { hint, details });
}

/** The project's server now, as ServerBefore. */
function currentServer(ctx: UpgradeContext): ServerBefore {
  const found = findProjectServer(ctx.layout.installDir);
  if (found.status !== "running") return { status: found.status, detached: false };
  return {
    status: "running",
    pid: found.state.pid,
    url: found.state.url,
    transport: found.state.transport,
    detached: ownsSession(found.state.pid),
  };
}

/** Args for a detached start: the launch args with the transport the server ran in, when the server takes one. */
function detachedArgs(launch: LaunchCommand, serverDir: string, transport: string): string[] {
  if (!needsTransportArg(serverDir).needed) return launch.args;
  const current = transportOf(launch.args);
  return current === "http" || current === "dual" ? launch.args : withTransport(launch.args, transport);
}

/** Phase 3's gate, for this plugin: the code swapped (or already current) with verified hashes, and a restart decision. */
export const ServerEvidence = z.looseObject({
  code: z.looseObject({ status: z.enum(["swapped", "unchanged"]), hashes_verified: z.literal(true) }),
  restart: z.looseObject({ status: z.enum(["restarted", "ide_reload_required", "not_running", "skipped"]) }),
});

/** This plugin's phase-3 evidence, for others: how the server was restarted (or why not). */
export const serverEvidence = evidenceReader("server", 3, ServerEvidence);

export function serverPlugin(options: ServerOptionsInput = {}) {
  const opts = parsePluginOptions(PLUGIN_NAME, ServerOptions, options);
  return definePlugin({
    name: PLUGIN_NAME,
    evidence: { 3: ServerEvidence },
    options: SERVER_RUN_OPTIONS,
    apply(hooks) {
      hooks.start.tap((ctx) => declareRun(ctx, opts));
      hooks.preflight.tap((ctx, findings, ev) => preflight(ctx, opts, findings, ev));
      // The dry run's plan shows the swap phase 3 would make: files added, removed, changed.
      hooks.planContent.tap((plan, ctx) => planSwap(plan, ctx, opts));
      hooks.upgradeServer.tap((ctx, draft) => upgradeCode(ctx, opts, draft));
      hooks.restartServer.tap((ctx, draft) => restartServer(ctx, opts, draft));
      // Stop the new server before the backup plugin restores its files; start the old one after.
      hooks.rollback.tap({ stage: STAGE.first }, (ctx, request) => stopNewAndUndoSwaps(ctx, opts, request));
      hooks.rollback.tap({ stage: STAGE.last }, (ctx, request) => bringOldServerBack(ctx, opts, request));
      hooks.cleanup.tap((ctx, outcome) => removeOldFolders(ctx, opts, outcome));
    },
  });
}

/** The restarted server's output file. */
const logFileOf = (ctx: UpgradeContext, opts: ServerOpts) => path.resolve(ctx.layout.installDir, opts.logFile);

/** The folders this run replaces: the config's, else the run's layout's. */
function foldersOf(ctx: UpgradeContext, opts: ServerOpts): ReplacedFolder[] {
  return opts.folders?.map((f) => (typeof f === "string" ? { from: f, to: f } : f)) ?? replacedFolders(activeLayout(ctx));
}

/** Folders this run removes without a replacement (a migration's old server): none when the config names the folders. */
const retiredOf = (ctx: UpgradeContext, opts: ServerOpts): string[] => (opts.folders ? [] : retiredFolders(ctx));

/** `start`: the swap announced, the configured launch published, the folders moved aside declared to the backup, the staged copy's bytes to the disk check. */
function declareRun(ctx: UpgradeContext, opts: ServerOpts): void {
  ctx.channels.set(ServerSwap, true);
  if (opts.launch) ctx.channels.set(ServerLaunch, opts.launch);
  // The folders phase 3 replaces: moved aside whole, so the backup takes them by that move.
  backupScope(ctx).add(PLUGIN_NAME, (c) => ({
    moveAside: c.options.source
      ? [...foldersOf(c, opts).filter((f) => fs.existsSync(path.join(c.options.source!, f.from))).map((f) => f.to), ...retiredOf(c, opts)].map((f) => path.join(c.layout.installDir, f))
      : [],
  }));
  // The staged copy of the new code (the old folders move into the backup: no bytes).
  diskNeeds(ctx).add(PLUGIN_NAME, (c) => ({
    what: "staged server code",
    bytes: c.options.source ? foldersOf(c, opts).reduce((n, f) => n + treeSize(path.join(c.options.source!, f.from)), 0) : 0,
  }));
}

/** `preflight`: the running server recorded; a state file naming another process, and an interrupted swap's folders, reported. */
function preflight(ctx: UpgradeContext, opts: ServerOpts, findings: Findings, ev: Record<string, unknown>): void {
  if (!ctx.layout.installExists) return;
  const found = findProjectServer(ctx.layout.installDir);
  if (found.status === "foreign") {
    findings.warn("SERVER_STATE_FOREIGN", `${path.basename(ctx.layout.serverStateFile)} names a process that is not this project's server: ${found.reason}`, "It will not be stopped; delete the stale state file if no server of this project runs");
  } else if (found.status === "invalid-state") {
    findings.warn("SERVER_STATE_INVALID", found.reason, "Delete the file; a running server writes it again when it starts");
  }
  const leftovers = fs.readdirSync(ctx.layout.installDir)
    .filter((n) => [...foldersOf(ctx, opts).map((f) => f.to), ...retiredOf(ctx, opts)].some((f) => n.startsWith(`${f}.staged-`) || n.startsWith(`${f}.old-`)));
  if (leftovers.length) {
    findings.warn("SERVER_SWAP_LEFTOVER", `Folders from an interrupted server swap: ${leftovers.join(", ")}`, `Run \`agent-os-upgrade rollback\` (or \`resume\`) for that session, or delete them once you have checked ${activeLayout(ctx).server.folder}/`);
  }
  ev.server_before = currentServer(ctx);
}

/** `planContent`, in a dry run: the plan gains the swap phase 3 would make. */
async function planSwap(plan: ContentPlan, ctx: UpgradeContext, opts: ServerOpts): Promise<ContentPlan> {
  if (!ctx.dryRun || !ctx.options.source || !ctx.layout.installExists) return plan;
  return { ...plan, server_swap: await swapPlan(ctx, opts) };
}

/** What phase 3's swap would change, per replaced folder: paths inside the installation. */
async function swapPlan(ctx: UpgradeContext, opts: ServerOpts): Promise<{ added: string[]; removed: string[]; changed: string[] }> {
  const out = { added: [] as string[], removed: [] as string[], changed: [] as string[] };
  for (const { from, to: f } of foldersOf(ctx, opts)) {
    const src = path.join(ctx.options.source!, from);
    if (!fs.existsSync(src)) continue;
    const live = path.join(ctx.layout.installDir, f);
    const [next, now] = await Promise.all([hashTree(src, opts.excludes), fs.existsSync(live) ? hashTree(live, opts.excludes) : Promise.resolve({} as Record<string, string>)]);
    for (const [rel, h] of Object.entries(next)) {
      if (!(rel in now)) out.added.push(`${f}/${rel}`);
      else if (now[rel] !== h) out.changed.push(`${f}/${rel}`);
    }
    for (const rel of Object.keys(now)) if (!(rel in next)) out.removed.push(`${f}/${rel}`);
  }
  for (const f of retiredOf(ctx, opts)) {
    const live = path.join(ctx.layout.installDir, f);
    if (fs.existsSync(live)) for (const rel of Object.keys(await hashTree(live, opts.excludes))) out.removed.push(`${f}/${rel}`);
  }
  for (const list of Object.values(out)) list.sort();
  return out;
}

/** `upgradeServer`: the server before journalled (once), then each folder swapped; the code's evidence. */
async function upgradeCode(ctx: UpgradeContext, opts: ServerOpts, ev: Record<string, unknown>): Promise<void> {
  const t0 = performance.now();
  const before = (journalled(ctx, STEP.before) as ServerBefore | undefined) ?? currentServer(ctx);
  if (!journalled(ctx, STEP.before)) await journal(ctx, STEP.before, { ...before });
  const folders = [];
  for (const folder of foldersOf(ctx, opts)) folders.push(await swapFolder(ctx, opts, folder));
  for (const folder of retiredOf(ctx, opts)) folders.push(await retireFolder(ctx, folder));
  const swapped = folders.some((f) => f.status === "swapped" || f.status === "retired");
  ev.code = {
    status: swapped ? "swapped" : "unchanged",
    hashes_verified: true,
    folders,
    duration_ms: Math.round(performance.now() - t0),
  };
  ctx.log.info(`server: ${folders.map((f) => `${f.folder} ${f.status}`).join(", ")}`);
}

/** One folder replaced by a verified staged copy; the old one moved into the backup (or beside the live one). */
async function swapFolder(ctx: UpgradeContext, opts: ServerOpts, { from, to: folder }: ReplacedFolder) {
  const source = path.join(ctx.options.source!, from);
  const live = path.join(ctx.layout.installDir, folder);
  const id = swapId(ctx);
  if (!fs.existsSync(source)) return { folder, status: "absent" as const };
  // The old folder goes into the backup when the backup plugin took it (the move is the backup).
  const old = oldFor(ctx, live);
  // An interrupted earlier attempt of this session: put the original back first.
  repairSwap(live, id, "back", old);
  const wanted = await hashTree(source, opts.excludes);
  const current = fs.existsSync(live) ? await hashTree(live, []) : null;
  const same = current !== null && JSON.stringify(current) === JSON.stringify(wanted);
  if (same) {
    // Already the source's files: unchanged, or swapped by an interrupted run of this session.
    return { folder, status: fs.existsSync(old) ? "swapped" as const : "unchanged" as const, files: Object.keys(wanted).length };
  }
  const staged = await stageCopy({ source, live, id, excludes: opts.excludes });
  if (fs.existsSync(old)) {
    // The original is already aside (resumed run): replace the live copy only.
    fs.rmSync(live, { recursive: true, force: true });
    fs.renameSync(stagedPath(live, id), live);
  } else {
    fs.mkdirSync(path.dirname(old), { recursive: true });
    swapStaged(live, id, old);
  }
  await journal(ctx, STEP.swapped, { folder });
  return { folder, status: "swapped" as const, files: Object.keys(staged.files).length, bytes: staged.bytes };
}

/** A folder the new layout does not have, moved whole into the backup (or beside the live one): one rename, undone by a rollback. */
async function retireFolder(ctx: UpgradeContext, folder: string) {
  const live = path.join(ctx.layout.installDir, folder);
  const old = oldFor(ctx, live);
  if (!fs.existsSync(live)) return { folder, status: fs.existsSync(old) ? "retired" as const : "absent" as const };
  fs.mkdirSync(path.dirname(old), { recursive: true });
  fs.renameSync(live, old);
  await journal(ctx, STEP.swapped, { folder });
  return { folder, status: "retired" as const };
}

/** `restartServer`: the restart's evidence, from the server as it was before phase 3. */
async function restartServer(ctx: UpgradeContext, opts: ServerOpts, ev: Record<string, unknown>): Promise<void> {
  const before = (journalled(ctx, STEP.before) as ServerBefore | undefined) ?? currentServer(ctx);
  ev.restart = await restart(ctx, opts, before);
}

/** A server that was not ours to restart: the IDE's (stopped only with `stopIdeServer`), or none running. */
async function notOursToRestart(ctx: UpgradeContext, opts: ServerOpts, before: ServerBefore, now: ServerBefore): Promise<Record<string, unknown>> {
  if (before.status === "running") {
    if (opts.stopIdeServer && now.status === "running") await stopServer(now.pid!, { timeoutMs: opts.stopTimeoutMs });
    ctx.log.warn(`The MCP server (pid ${before.pid}) belongs to your IDE: ${IDE_RELOAD}`);
    return { status: "ide_reload_required", pid: before.pid, stopped: opts.stopIdeServer, message: IDE_RELOAD };
  }
  const launch = launchFor(ctx, opts.launch);
  if (launch.source === "mcp.json") {
    ctx.log.warn(`No MCP server of this project is running in the background: ${IDE_RELOAD}`);
    return { status: "ide_reload_required", message: IDE_RELOAD };
  }
  return { status: "not_running" };
}

/** The launch command started detached, with the transport `transport` when the server takes one. */
async function startWithLaunch(ctx: UpgradeContext, opts: ServerOpts, transport: string) {
  const launch = launchFor(ctx, opts.launch);
  const args = detachedArgs(launch, installedServerDir(ctx), transport);
  const started = await startDetached({
    command: launch.command,
    args,
    env: serverEnv(launch.env),
    cwd: launch.cwd,
    installDir: ctx.layout.installDir,
    logFile: logFileOf(ctx, opts),
    timeoutMs: opts.startTimeoutMs,
  });
  return { started, command: [launch.command, ...args] };
}

/** Stops a detached server of ours and starts the new code with the (migrated) launch command; it must answer MCP over HTTP. */
async function restart(ctx: UpgradeContext, opts: ServerOpts, before: ServerBefore): Promise<Record<string, unknown>> {
  if (!serverRunOptions(ctx).restart) return { status: "skipped", reason: "--no-restart" };
  const now = currentServer(ctx);
  if (before.status !== "running" || !before.detached) return notOursToRestart(ctx, opts, before, now);
  const t0 = performance.now();
  let stopMs = 0;
  if (now.status === "running" && now.pid !== undefined) {
    const stop = await stopServer(now.pid, { timeoutMs: opts.stopTimeoutMs });
    stopMs = stop.durationMs;
    if (!stop.exited) throw serverError(`Cannot stop the MCP server (pid ${now.pid}): it survived SIGKILL`, "Stop it by hand, then run `agent-os-upgrade resume`");
    await journal(ctx, STEP.stopped, { pid: now.pid, signal: stop.signal });
  }
  const { started, command } = await startWithLaunch(ctx, opts, before.transport ?? opts.transport);
  if (!started.ok) {
    throw serverError(`Cannot restart the MCP server: ${started.error}`, `See ${started.logFile}; the upgrade is rolled back`, {
      log: started.logFile,
      probe: started.probe?.problems,
    });
  }
  const info = { pid: started.state!.pid, url: started.state!.url, logFile: started.logFile };
  ctx.channels.set(ServerStarted, info);
  await journal(ctx, STEP.started, info);
  const latency = Math.round(performance.now() - t0);
  ctx.log.info(`server: restarted (pid ${before.pid} → ${info.pid}, ${info.url}) in ${latency} ms`);
  return { status: "restarted", old_pid: before.pid, pid: info.pid, url: info.url, command, stop_ms: stopMs, latency_ms: latency };
}

/**
 * The folders a rollback puts right: this run's, and any layout's that holds a staged or old
 * copy of this session (a manual rollback after a migration to another layout judges the
 * layout without the source, and must still find `ouroboros.staged-<id>`).
 */
function rollbackFolders(ctx: UpgradeContext, opts: ServerOpts): string[] {
  const run = [...foldersOf(ctx, opts).map((f) => f.to), ...retiredOf(ctx, opts)];
  if (opts.folders) return run;
  const id = swapId(ctx);
  const others = everyReplacedFolder().filter((f) => {
    const live = path.join(ctx.layout.installDir, f);
    return !run.includes(f) && (fs.existsSync(stagedPath(live, id)) || fs.existsSync(oldPath(live, id)));
  });
  return [...run, ...others];
}

/** `rollback`, first: the new server we started stopped, each swap undone (or left to the backup when the old folder is in it). */
async function stopNewAndUndoSwaps(ctx: UpgradeContext, opts: ServerOpts, request: RollbackRequest): Promise<void> {
  const started = ctx.channels.get(ServerStarted) ?? (journalled(ctx, STEP.started) as StartedServer | undefined);
  const evidence: Record<string, unknown> = {};
  if (started && processAlive(started.pid) && identifyServer(started.pid, ctx.layout.installDir).ours) {
    evidence.stopped_new = await stopServer(started.pid, { timeoutMs: opts.stopTimeoutMs });
  }
  const id = swapId(ctx);
  evidence.folders = rollbackFolders(ctx, opts).map((folder) => {
    const live = path.join(ctx.layout.installDir, folder);
    if (backupScope(ctx).asideFor(live)) {
      // The old folder is in the backup: the backup plugin checks it and puts it back.
      fs.rmSync(stagedPath(live, id), { recursive: true, force: true });
      return { folder, action: "left to the backup" };
    }
    if (fs.existsSync(oldPath(live, id))) {
      undoSwap(live, id);
      fs.rmSync(stagedPath(live, id), { recursive: true, force: true });
      return { folder, action: "restored" };
    }
    return { folder, action: repairSwap(live, id, "back") };
  });
  request.evidence.server_code = evidence;
}

/** `rollback`, last (the backup restored): the old server started again if we had stopped it, else health-checked after a phase 3–4 failure. */
async function bringOldServerBack(ctx: UpgradeContext, opts: ServerOpts, request: RollbackRequest): Promise<void> {
  const before = journalled(ctx, STEP.before) as ServerBefore | undefined;
  const stopped = journalled(ctx, STEP.stopped);
  const evidence: Record<string, unknown> = {};
  if (before?.status === "running" && before.detached && stopped && serverRunOptions(ctx).restart) {
    const { started: r } = await startWithLaunch(ctx, opts, before.transport ?? opts.transport);
    evidence.restart = r.ok
      ? { status: "restarted", pid: r.state!.pid, url: r.state!.url, tools: r.probe!.tools }
      : { status: "failed", error: r.error };
    if (!r.ok) ctx.log.error(`The old MCP server did not come back after the rollback: ${r.error}`);
  } else if (request.phase === 3 || request.phase === 4) {
    evidence.health = await restoredHealth(ctx, opts);
    if (before?.status === "running") ctx.log.warn(`The upgrade was rolled back: ${IDE_RELOAD.replace("new", "restored")}`);
  }
  request.evidence.server_restart = evidence;
}

/** The restored server health-checked over stdio; it changes nothing (no byte-code written). */
async function restoredHealth(ctx: UpgradeContext, opts: ServerOpts): Promise<Record<string, unknown>> {
  const launch = launchFor(ctx, opts.launch);
  const serverDir = installedServerDir(ctx);
  const args = fs.existsSync(serverDir) && needsTransportArg(serverDir).needed ? withTransport(launch.args, "stdio") : launch.args;
  const probe = await probeStdio({
    command: launch.command,
    args,
    env: serverEnv({ ...launch.env, PYTHONDONTWRITEBYTECODE: "1" }),
    cwd: launch.cwd,
    timeoutMs: 15_000,
    failOnStderrErrors: false,
  });
  return { ok: probe.ok, tools: probe.tools, error: probe.error ?? null };
}

/** `cleanup`, after a completed upgrade: the old folders beside the live ones removed (one moved into the backup stays: it is that upgrade's backup, pruned with it). */
function removeOldFolders(ctx: UpgradeContext, opts: ServerOpts, outcome: Outcome): void {
  if (ctx.dryRun || outcome.status !== "completed") return;
  for (const folder of [...foldersOf(ctx, opts).map((f) => f.to), ...retiredOf(ctx, opts)]) {
    const live = path.join(ctx.layout.installDir, folder);
    if (!backupScope(ctx).asideFor(live)) removeOld(live, swapId(ctx));
  }
}
