/**
 * Reading session files without the schema library: the files, their JSON, and the fields
 * `status` shows, checked. `status` must start at once, and zod alone costs Deno about
 * 40 ms (issue 9); what acts on a session (resume, rollback) checks the whole file against
 * the schema in state.ts.
 */
import path from "node:path";
import { UpgradeError } from "./errors.ts";
import { host } from "./runtime.ts";

export const WORKFLOW_TYPE = "agent_os_upgrade_v1";
export const STATE_SCHEMA_VERSION = 1;
export const SESSION_STATUSES = ["in_progress", "completed", "failed", "rolling_back", "rolled_back", "aborted"] as const;

/** The fields of a session that `status` shows. */
export interface SessionBrief {
  session_id: string;
  status: (typeof SESSION_STATUSES)[number];
  current_phase: number | null;
  completed_phases: number[];
  started_at: string;
  updated_at: string;
  pid: number;
}

/** One session file of a listing: what it holds, or why it cannot be read. */
export interface Listed<T> {
  id: string;
  file: string;
  state?: T;
  error?: UpgradeError;
}

export const SCHEMA_HINT = "The file does not match the session schema. Move it aside and run `agent-os-upgrade rollback` to restore the backup of that session";

/** The file of session `id` in the state folder. */
export const stateFile = (dir: string, id: string): string => path.join(dir, `${id}.json`);

/** The text of session `id`; NO_SESSION names the file when there is none. */
export function readStateText(dir: string, id: string): string {
  const file = stateFile(dir, id);
  try {
    return host.readText(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    throw new UpgradeError("NO_SESSION", `Cannot find session "${id}": ${file} does not exist`, {
      hint: "Run `agent-os-upgrade status` to list the sessions of this project",
    });
  }
}

export function parseStateJson(raw: string, file: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new UpgradeError("STATE_CORRUPT", `Cannot read session state ${file}: it is not valid JSON (${(err as Error).message})`, {
      hint: "The file was damaged outside this tool. Move it aside and run `agent-os-upgrade rollback` to restore the backup of that session",
    });
  }
}

/** Every session file of the folder (temp files of interrupted writes start with a dot). */
export function stateFiles(dir: string): Array<{ id: string; file: string }> {
  let names: string[];
  try {
    names = host.list(dir);
  } catch {
    return [];
  }
  return names.filter((n) => n.endsWith(".json") && !n.startsWith(".")).map((n) => ({ id: n.slice(0, -".json".length), file: path.join(dir, n) }));
}

/** Reads every session with `parse`, newest first; a file that fails is listed with its error. */
export function listSessions<T extends { started_at: string }>(dir: string, parse: (raw: string, file: string) => T): Array<Listed<T>> {
  const out = stateFiles(dir).map(({ id, file }): Listed<T> => {
    try {
      return { id, file, state: parse(host.readText(file), file) };
    } catch (err) {
      return { id, file, error: err as UpgradeError };
    }
  });
  return out.sort((x, y) => (y.state?.started_at ?? "").localeCompare(x.state?.started_at ?? ""));
}

const isPhase = (v: unknown) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 5;
const isText = (v: unknown) => typeof v === "string" && v.length > 0;

/** What each field of the brief must be, in the words of the error. */
const BRIEF: Record<keyof SessionBrief | "schema_version" | "workflow_type", [string, (v: unknown) => boolean]> = {
  schema_version: [`${STATE_SCHEMA_VERSION}`, (v) => v === STATE_SCHEMA_VERSION],
  workflow_type: [WORKFLOW_TYPE, (v) => v === WORKFLOW_TYPE],
  session_id: ["a session id", isText],
  status: [`one of ${SESSION_STATUSES.join(", ")}`, (v) => (SESSION_STATUSES as readonly unknown[]).includes(v)],
  current_phase: ["a phase (0 to 5) or null", (v) => v === null || isPhase(v)],
  completed_phases: ["a list of phases", (v) => Array.isArray(v) && v.every(isPhase)],
  started_at: ["a time", isText],
  updated_at: ["a time", isText],
  pid: ["a process id", Number.isInteger],
};

/** A session file's JSON with the fields `status` shows checked (STATE_CORRUPT names the first wrong one). */
export function parseBrief(raw: string, file: string): SessionBrief {
  const json = parseStateJson(raw, file) as Record<string, unknown> | null;
  for (const [field, [expected, ok]] of Object.entries(BRIEF)) {
    if (!ok(json?.[field])) throw new UpgradeError("STATE_CORRUPT", `Cannot read session state ${file}: ${field}: expected ${expected}`, { hint: SCHEMA_HINT });
  }
  return json as unknown as SessionBrief;
}
