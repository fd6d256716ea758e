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

const brief = (s: SessionBrief) => ({ id: s.session_id, status: s.status, current_phase: s.current_phase, completed_phases: s.completed_phases, started_at: s.started_at, updated_at: s.updated_at });

export function statusCommand(target: string, sessionId: string | null, json: boolean, sink: Sink): number {
  const layout = resolveLayout(target);
  const lock = readLock(layout);
  if (sessionId) {
    const s = parseBrief(readStateText(layout.stateDir, sessionId), stateFile(layout.stateDir, sessionId));
    sink.out(json ? JSON.stringify({ type: "result", schema_version: 1, command: "status", lock, session: s }) : `${s.session_id} ${s.status} phase ${s.current_phase ?? "-"} completed [${s.completed_phases.join(",")}]`);
    return EXIT.ok;
  }
  const all = listSessions(layout.stateDir, parseBrief);
  const interrupted = all.filter((x) => x.state && (x.state.status === "in_progress" || x.state.status === "rolling_back") && !pidAlive(x.state.pid));
  if (json) {
    const sessions = all.map((x) => x.state ? brief(x.state) : { id: x.id, file: x.file, error: x.error?.toJSON() });
    sink.out(JSON.stringify({ type: "result", schema_version: 1, command: "status", lock, sessions, interrupted: interrupted.map((x) => x.id) }));
  } else {
    sink.out(`Installation: ${layout.installDir}${layout.installExists ? "" : " (missing)"}`);
    sink.out(`Lock: ${lock.kind === "absent" ? "none" : `${lock.kind}: ${describeLock(lock)}`}`);
    if (!all.length) sink.out("Sessions: none");
    for (const x of all) {
      if (x.error) sink.out(`  ${x.id}  CORRUPT: ${x.error.message}`);
      else sink.out(`  ${x.id}  ${x.state!.status.padEnd(12)} phase ${x.state!.current_phase ?? "-"}  completed [${x.state!.completed_phases.join(",")}]  started ${x.state!.started_at}`);
    }
    for (const x of interrupted) sink.out(`Session ${x.id} was interrupted: run \`agent-os-upgrade resume\` to finish it or \`agent-os-upgrade rollback\` to undo it`);
  }
  return all.some((x) => x.error) ? EXIT.state : EXIT.ok;
}
