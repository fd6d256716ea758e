/**
 * What the server-side plugins (deps, server, migrate, validate) share: option schemas for
 * a launch command and a smoke call, the typed channels on which they hand values to each other, and journal look-ups that let a resumed session find what an interrupted
 * run already did.
 */
import { z } from "zod";
import { activeLayout } from "../layouts/detect.ts";
import { defineChannel } from "../../core/channel.ts";
import type { UpgradeContext } from "../../core/types.ts";
import { type LaunchCommand, resolveLaunch } from "./launch.ts";

export const LaunchSpecSchema = z.strictObject({
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.string().min(1).optional(),
});

export const SmokeCallSchema = z.strictObject({
  tool: z.string().min(1),
  args: z.record(z.string(), z.unknown()).optional(),
  expect: z.strictObject({ contains: z.string().optional(), containsAll: z.array(z.string()).optional() }).optional(),
  ifRegistered: z.boolean().optional(),
});

/** The launch command from the server plugin's options, for every server-side plugin. */
export const ServerLaunch = defineChannel<z.input<typeof LaunchSpecSchema>>("server.launch");

/** The server the server plugin started in phase 3 (validate probes it, rollback stops it). */
export interface StartedServer {
  pid: number;
  url?: string;
  logFile?: string;
}
export const ServerStarted = defineChannel<StartedServer>("server.started");

/** Set (at `start`) by the plugin that swaps the server code in this run: the new server's requirements matter only then. */
export const ServerSwap = defineChannel<true>("server.swap");

/** Journal steps (the session's durable record of what was done). */
export const STEP = Object.freeze({
  /** The project's server as found before phase 3 changed anything: ServerBefore. */
  before: "server:before",
  swapped: "server:swapped",
  stopped: "server:stopped",
  started: "server:started",
  depsPlanned: "deps:planned",
  depsInstalled: "deps:installed",
});

/** The project's server before the upgrade touched it. */
export interface ServerBefore {
  /** From findProjectServer: running, none, stale, foreign, invalid-state. */
  status: string;
  pid?: number;
  url?: string;
  transport?: string;
  /** Leads its own session (started in the background), so we may restart it ourselves. */
  detached: boolean;
}

/** The launch command: the server plugin's option, else the project's mcp.json, else the default. */
export function launchFor(ctx: UpgradeContext, explicit?: z.input<typeof LaunchSpecSchema>): LaunchCommand {
  return resolveLaunch({
    projectRoot: ctx.layout.projectRoot,
    installDir: ctx.layout.installDir,
    explicit: explicit ?? ctx.channels.get(ServerLaunch),
    mcpJsonPath: ctx.layout.mcpJson,
    module: activeLayout(ctx).server.module,
  });
}

/** The data of the newest journal entry with this step (and, if given, matching `where`), from this or an interrupted run. */
export function journalled(ctx: UpgradeContext, step: string, where: Record<string, unknown> = {}): Record<string, unknown> | undefined {
  const entries = ctx.session?.state.journal ?? [];
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i];
    if (e.step === step && Object.entries(where).every(([k, v]) => e.data?.[k] === v)) return e.data ?? {};
  }
  return undefined;
}

/** Records a step when there is a session (never in a dry run, which has none). */
export async function journal(ctx: UpgradeContext, step: string, data?: Record<string, unknown>): Promise<void> {
  await ctx.session?.journal(step, data);
}
