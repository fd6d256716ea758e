/**
 * `status [session]`: the lock and the sessions of this project. It reads only, and checks
 * of each session the fields it shows (resume and rollback check the whole file).
 */
import { EXIT } from "../../core/errors.ts";
import { resolveLayout } from "../../core/layout.ts";
import { describeLock, readLock } from "../../core/lock-status.ts";
import { pidAlive } from "../../core/proc.ts";
import { listSessions, parseBrief, readStateText, type SessionBrief, stateFile } from "../../core/state-read.ts";
import type { Sink } from "../render.ts";
import { mayHaveRuntime } from "../../plugins/deps/runtime-paths.ts";
import { host } from "../../core/runtime.ts";

const brief = (s: SessionBrief) => ({ id: s.session_id, status: s.status, current_phase: s.current_phase, completed_phases: s.completed_phases, started_at: s.started_at, updated_at: s.updated_at });

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === "object" ? v as Record<string, unknown> : {});
const str = (v: unknown): string | null => (typeof v === "string" && v ? v : null);
const short = (v: string | null) => (v && /^[0-9a-f]{40}$/.test(v) ? v.slice(0, 12) : v);

/** What a person acts on after the newest session: versions, the backup, files to finish by hand, a server left on old code. */
export function sessionLines(state: Record<string, unknown>): string[] {
  // Each built-in's own record (evidence is kept per plugin); read here without loading the plugins (start-up path).
  const ev = (p: number, owner: string) => obj(obj(obj(obj(state.phases)[String(p)]).evidence)[owner]);
  const [e0, e1, e2, e3] = [ev(0, "preflight"), ev(1, "backup"), ev(2, "content"), ev(3, "server")];
  const from = str(e0.from_commit) ?? str(obj(e2.base).ref);
  const to = str(e0.source_commit) ?? str(obj(state.source).commit);
  // A sync (app/commands/sync.ts keeps its plan in the options) installed no version: it moved this machine's runtime.
  const sync = obj(obj(state.options).plugin).runtimeSync !== undefined;
  const what = sync ? "a sync of this machine's runtime (venv, server) with the committed installation" : `${short(from) ?? "unknown"} → ${short(to) ?? "unknown"}`;
  const lines = [`Newest session ${state.session_id}: ${state.status}, ${what}`];
  const backup = str(e1.backup_id);
  if (backup) {
    lines.push(`  Backup: ${backup}${state.status === "completed" ? `; to undo this ${sync ? "sync" : "upgrade"}: agent-os-upgrade rollback` : state.status === "rolled_back" ? " (restored)" : `; to restore it: agent-os-upgrade rollback --to ${backup}`}`);
  }
  const attention = Array.isArray(e2.needs_attention) ? (e2.needs_attention as unknown[]).map(String) : [];
  if (state.status === "completed" && attention.length) {
    lines.push(`  To finish by hand (${attention.length}): ${attention.join(", ")} (conflict markers, or files a merge could not take)`);
  }
  const restart = str(obj(e3.restart).status);
  if (state.status === "completed" && restart && restart !== "restarted" && restart !== "not_running") {
    lines.push(`  The Agent OS MCP server was not restarted (${restart}): until your IDE reloads it, it runs the old code`);
  }
  return lines;
}

/** Whether this machine's runtime is behind the committed installation (read only; loaded when asked: it hashes the server and may ask the venv). */
async function runtimeBehind(layout: ReturnType<typeof resolveLayout>): Promise<{ behind: boolean; reasons: string[]; line: string | null }> {
  // Not a literal import: Deno would read the module graph when status.ts loads (see app/cli.ts).
  const spec = "../../plugins/deps/runtime-record.ts";
  const { behindLine, checkRuntime } = await import(spec) as typeof import("../../plugins/deps/runtime-record.ts");
  const check = checkRuntime(layout);
  return { behind: check.behind && !check.fresh, reasons: check.reasons, line: behindLine(check) };
}

export async function statusCommand(target: string, sessionId: string | null, json: boolean, sink: Sink): Promise<number> {
  const layout = resolveLayout(target);
  const lock = readLock(layout);
  if (sessionId) {
    const s = parseBrief(readStateText(layout.stateDir, sessionId), stateFile(layout.stateDir, sessionId));
    sink.out(json ? JSON.stringify({ type: "result", schema_version: 1, command: "status", lock, session: s }) : `${s.session_id} ${s.status} phase ${s.current_phase ?? "-"} completed [${s.completed_phases.join(",")}]`);
    return EXIT.ok;
  }
  const all = listSessions(layout.stateDir, parseBrief);
  const interrupted = all.filter((x) => x.state && (x.state.status === "in_progress" || x.state.status === "rolling_back") && !pidAlive(x.state.pid));
  // Mid-upgrade the tree is between two states: the runtime is judged once no upgrade holds the lock.
  const runtime = layout.installExists && lock.kind !== "held" && mayHaveRuntime(layout, host.exists) ? await runtimeBehind(layout) : null;
  if (json) {
    const sessions = all.map((x) => x.state ? brief(x.state) : { id: x.id, file: x.file, error: x.error?.toJSON() });
    sink.out(JSON.stringify({ type: "result", schema_version: 1, command: "status", lock, sessions, interrupted: interrupted.map((x) => x.id), runtime: runtime && { behind: runtime.behind, reasons: runtime.reasons } }));
  } else {
    sink.out(`Installation: ${layout.installDir}${layout.installExists ? "" : " (missing)"}`);
    sink.out(`Lock: ${lock.kind === "absent" ? "none" : `${lock.kind}: ${describeLock(lock)}`}`);
    if (!all.length) sink.out("Sessions: none");
    for (const x of all) {
      if (x.error) sink.out(`  ${x.id}  CORRUPT: ${x.error.message}`);
      else sink.out(`  ${x.id}  ${x.state!.status.padEnd(12)} phase ${x.state!.current_phase ?? "-"}  completed [${x.state!.completed_phases.join(",")}]  started ${x.state!.started_at}`);
    }
    const newest = all.find((x) => x.state);
    if (newest?.state) for (const l of sessionLines(newest.state as unknown as Record<string, unknown>)) sink.out(l);
    for (const x of interrupted) sink.out(`Session ${x.id} was interrupted: run \`agent-os-upgrade resume\` to finish it or \`agent-os-upgrade rollback\` to undo it`);
    if (runtime?.line) sink.out(runtime.line);
  }
  return all.some((x) => x.error) ? EXIT.state : EXIT.ok;
}
