/**
 * The IDEs start the server with their own launch entries, not with the line the validate
 * plugin probes: after the upgrade, each agent's entry (server/entries.ts) must be able to
 * start the new server. Each distinct line is started as that agent would — its command,
 * args, environment and working folder — and must answer an MCP handshake. One thing is
 * changed on purpose: `--transport` is set to `stdio`, since a `dual` server would publish
 * its own state file and port beside the IDE's running server.
 */
import path from "node:path";
import type { Findings, UpgradeContext } from "../../core/types.ts";
import { activeLayout, installedServerDir } from "../layouts/detect.ts";
import { findLaunchEntries, type LaunchEntry } from "../server/entries.ts";
import { expandVars, needsTransportArg, serverEnv, transportOf, withTransport } from "../server/launch.ts";
import { probeStdio } from "../server/mcp-client.ts";
import fs from "node:fs";

export interface EntryCheck {
  agent: string;
  file: string;
  server: string;
  ok: boolean;
  error?: string;
}

/** Whether the installed server refuses to start without `--transport`. */
function serverNeedsTransport(ctx: UpgradeContext): boolean {
  if (activeLayout(ctx).server.requiredArgs.includes("--transport")) return true;
  const dir = installedServerDir(ctx);
  return fs.existsSync(dir) && needsTransportArg(dir).needed;
}

const rel = (ctx: UpgradeContext, file: string) => path.relative(ctx.layout.projectRoot, file);

/** Entries that lack an argument the new server requires: the IDE cannot start it, however healthy the probe. Read from the files only. */
export function checkStaleEntries(ctx: UpgradeContext, findings: Findings): void {
  if (!serverNeedsTransport(ctx)) return;
  for (const e of findLaunchEntries(ctx.layout.projectRoot, ctx.layout.installDir).entries) {
    if (transportOf(e.entry.args ?? [])) continue;
    findings.error(
      "LAUNCH_ENTRY_STALE",
      `The IDE cannot start the new MCP server: ${e.agent}'s launch entry "${e.name}" in ${rel(ctx, e.file)} has no --transport, which the new server requires`,
      `Add "--transport", "dual" to that entry's args (the migrate plugin does it when enabled with policy "apply"); the upgrade is rolled back`,
    );
  }
}

/** An entry's line as its agent runs it (variables expanded), with the transport made stdio. */
function lineOf(ctx: UpgradeContext, e: LaunchEntry) {
  const vars = { workspaceFolder: ctx.layout.projectRoot };
  const args = (e.entry.args ?? []).map((a) => expandVars(String(a), vars));
  const env = Object.fromEntries(Object.entries(e.entry.env ?? {}).map(([k, v]) => [k, expandVars(String(v), vars)]));
  return {
    command: expandVars(String(e.entry.command), vars),
    args: transportOf(args) ? withTransport(args, "stdio") : args,
    env,
    cwd: e.entry.cwd ? path.resolve(ctx.layout.projectRoot, expandVars(e.entry.cwd, vars)) : ctx.layout.projectRoot,
  };
}

/** Starts each distinct entry line once and records whether it answered; a line that does not is an error naming the agent. */
export async function probeEntries(ctx: UpgradeContext, findings: Findings, timeoutMs: number): Promise<EntryCheck[]> {
  const tried = new Map<string, Promise<{ ok: boolean; error?: string }>>();
  const out: EntryCheck[] = [];
  for (const e of findLaunchEntries(ctx.layout.projectRoot, ctx.layout.installDir).entries) {
    const line = lineOf(ctx, e);
    const key = JSON.stringify(line);
    if (!tried.has(key)) {
      tried.set(key, probeStdio({ ...line, env: serverEnv({ ...line.env, PYTHONDONTWRITEBYTECODE: "1" }), timeoutMs, failOnStderrErrors: false })
        .then((p) => ({ ok: p.serverInfo !== undefined, error: p.serverInfo !== undefined ? undefined : `${p.error ?? "no answer"}${p.stderr.trim() ? ` (stderr: ${p.stderr.trim().split("\n").at(-1)!.slice(0, 200)})` : ""}` })));
    }
    const r = await tried.get(key)!;
    out.push({ agent: e.agent, file: rel(ctx, e.file), server: e.name, ok: r.ok, ...(r.error ? { error: r.error } : {}) });
    if (!r.ok) {
      findings.error("LAUNCH_ENTRY_BROKEN", `${e.agent} cannot start the new MCP server with its launch entry "${e.name}" in ${rel(ctx, e.file)}: ${r.error}`, `Fix that entry's command, args or env (${line.command} ${line.args.join(" ")}); the upgrade is rolled back`);
    }
  }
  return out;
}
