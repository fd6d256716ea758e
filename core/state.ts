/**
 * Sessions on disk: `.agent-os/.cache/state/<uuid>.json`, written atomically after every
 * step. A file that is not valid JSON or does not match the schema is reported with its
 * path and never silently "repaired".
 */
import fs from "node:fs";
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { sweepTempFiles, writeJsonAtomic } from "./atomic.ts";
import { UpgradeError } from "./errors.ts";
import type { Phase } from "./phases.ts";
import { hostname } from "./proc.ts";
import { type Listed, listSessions, parseStateJson, readStateText, SCHEMA_HINT, SESSION_STATUSES, STATE_SCHEMA_VERSION, stateFile, WORKFLOW_TYPE } from "./state-read.ts";

export { STATE_SCHEMA_VERSION, WORKFLOW_TYPE } from "./state-read.ts";

export const SessionStatus = z.enum(SESSION_STATUSES);
export type SessionStatus = z.infer<typeof SessionStatus>;

const iso = z.string().min(1);
const phaseNo = z.number().int().min(0).max(5);

const PhaseRecord = z.object({
  status: z.enum(["running", "completed", "failed"]),
  started_at: iso,
  ended_at: iso.nullable(),
  duration_ms: z.number().nonnegative().nullable(),
  attempts: z.number().int().positive(),
  evidence: z.record(z.string(), z.unknown()),
});
export type PhaseRecord = z.infer<typeof PhaseRecord>;

const JournalEntry = z.object({
  at: iso,
  phase: phaseNo.nullable(),
  step: z.string().min(1),
  data: z.record(z.string(), z.unknown()).optional(),
});

export const SessionStateSchema = z.object({
  schema_version: z.literal(STATE_SCHEMA_VERSION),
  session_id: z.string().uuid(),
  workflow_type: z.literal(WORKFLOW_TYPE),
  status: SessionStatus,
  current_phase: phaseNo.nullable(),
  completed_phases: z.array(phaseNo),
  phases: z.record(z.string(), PhaseRecord),
  options: z.record(z.string(), z.unknown()),
  source: z.object({ path: z.string().nullable(), commit: z.string().nullable() }),
  target: z.object({ project: z.string(), install: z.string() }),
  started_at: iso,
  updated_at: iso,
  pid: z.number().int(),
  hostname: z.string(),
  journal: z.array(JournalEntry),
  rollback: z
    .object({
      reason: z.string(),
      started_at: iso,
      ended_at: iso.nullable(),
      duration_ms: z.number().nullable(),
      status: z.enum(["running", "completed", "failed"]),
      evidence: z.record(z.string(), z.unknown()),
    })
    .nullable(),
  error: z.record(z.string(), z.unknown()).nullable(),
});
export type SessionState = z.infer<typeof SessionStateSchema>;

export interface NewSession {
  options: Record<string, unknown>;
  source: { path: string | null; commit: string | null };
  target: { project: string; install: string };
}

const now = () => new Date().toISOString();

export class StateStore {
  constructor(readonly dir: string) {}

  fileOf(id: string): string {
    return stateFile(this.dir, id);
  }

  /** Creates the session file; `prepare` fills in what its first write must already hold. */
  create(init: NewSession, id: string = randomUUID(), prepare?: (state: SessionState) => void): SessionState {
    const t = now();
    const state: SessionState = {
      schema_version: STATE_SCHEMA_VERSION,
      session_id: id,
      workflow_type: WORKFLOW_TYPE,
      status: "in_progress",
      current_phase: null,
      completed_phases: [],
      phases: {},
      options: init.options,
      source: init.source,
      target: init.target,
      started_at: t,
      updated_at: t,
      pid: process.pid,
      hostname: hostname(),
      journal: [],
      rollback: null,
      error: null,
    };
    prepare?.(state);
    this.save(state);
    return state;
  }

  save(state: SessionState): void {
    state.updated_at = now();
    fs.mkdirSync(this.dir, { recursive: true });
    writeJsonAtomic(this.fileOf(state.session_id), state);
  }

  load(id: string): SessionState {
    return parseState(readStateText(this.dir, id), this.fileOf(id));
  }

  /** Every session, newest first. Corrupt files are returned as errors, not skipped silently. */
  list(): Array<Listed<SessionState>> {
    sweepTempFiles(this.dir);
    return listSessions(this.dir, parseState);
  }
}

export function parseState(raw: string, file: string): SessionState {
  const r = SessionStateSchema.safeParse(parseStateJson(raw, file));
  if (!r.success) {
    const first = r.error.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new UpgradeError("STATE_CORRUPT", `Cannot read session state ${file}: ${first}`, { hint: SCHEMA_HINT });
  }
  return r.data;
}

/** Marks a phase as started (or re-started after an interruption). */
export function beginPhase(state: SessionState, phase: Phase): void {
  const prev = state.phases[String(phase)];
  state.current_phase = phase;
  state.phases[String(phase)] = {
    status: "running",
    started_at: now(),
    ended_at: null,
    duration_ms: null,
    attempts: (prev?.attempts ?? 0) + 1,
    evidence: {},
  };
}

export function endPhase(state: SessionState, phase: Phase, status: "completed" | "failed", evidence: Record<string, unknown>, durationMs: number): void {
  const rec = state.phases[String(phase)];
  rec.status = status;
  rec.ended_at = now();
  rec.duration_ms = durationMs;
  rec.evidence = evidence;
  if (status === "completed" && !state.completed_phases.includes(phase)) {
    state.completed_phases.push(phase);
    state.completed_phases.sort();
  }
}
