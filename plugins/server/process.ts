/**
 * This project's running MCP server, found and handled by pid — never by a process-name
 * match (upstream's `pkill -f "python -m mcp_server"` stopped every project's server).
 * The pid comes from `<install>/.mcp_server_state.json` and is trusted only when the live
 * process's command line runs `mcp_server` and names this installation (in its argv, its
 * PYTHONPATH or its working directory).
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { pidAlive } from "../../core/proc.ts";
import { isInside, runsMcpServer } from "./launch.ts";
import { type HttpProbeOptions, probeHttp, type ProbeResult } from "./mcp-client.ts";

export const STATE_FILE_NAME = ".mcp_server_state.json";

const ServerStateSchema = z.looseObject({
  pid: z.number().int().positive(),
  url: z.string().optional(),
  transport: z.string().optional(),
  started_at: z.string().optional(),
});

export type ServerState = z.infer<typeof ServerStateSchema>;

export type ServerStateRead =
  | { status: "absent"; path: string }
  | { status: "invalid"; path: string; error: string }
  | { status: "ok"; path: string; state: ServerState; mtimeMs: number };

/** Reads `<install>/.mcp_server_state.json`: absent, invalid (with why), or the validated state. */
export function readServerState(installDir: string): ServerStateRead {
  const file = path.join(installDir, STATE_FILE_NAME);
  let text: string;
  let mtimeMs: number;
  try {
    text = fs.readFileSync(file, "utf8");
    mtimeMs = fs.statSync(file).mtimeMs;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { status: "absent", path: file };
    return { status: "invalid", path: file, error: (err as Error).message };
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { status: "invalid", path: file, error: `not JSON: ${(err as Error).message}` };
  }
  const parsed = ServerStateSchema.safeParse(data);
  if (!parsed.success) return { status: "invalid", path: file, error: z.prettifyError(parsed.error) };
  return { status: "ok", path: file, state: parsed.data, mtimeMs };
}

/** True when the pid names a running process (zombies count as dead): core's check. */
export const processAlive = (pid: number): boolean => pidAlive(pid);

export interface ServerIdentity {
  pid: number;
  alive: boolean;
  /** True only when the process runs `mcp_server` and names this installation. */
  ours: boolean;
  /** Why `ours` is what it is, for logs and refusals. */
  reason: string;
  cmdline: string[];
}

/** Decides whether a pid is this installation's MCP server, from /proc (cmdline, environ, cwd). */
export function identifyServer(pid: number, installDir: string): ServerIdentity {
  const base = { pid, cmdline: [] as string[] };
  if (!processAlive(pid)) return { ...base, alive: false, ours: false, reason: `pid ${pid} is not running` };
  let cmdline: string[];
  try {
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((a) => a !== "");
  } catch (err) {
    return { ...base, alive: true, ours: false, reason: `Cannot read the command line of pid ${pid}: ${(err as Error).message}` };
  }
  const shown = JSON.stringify(cmdline.join(" "));
  if (!runsMcpServer({ command: cmdline[0], args: cmdline.slice(1) })) {
    return { pid, cmdline, alive: true, ours: false, reason: `pid ${pid} does not run mcp_server (${shown})` };
  }
  const install = realpath(installDir);
  const cwd = readLink(`/proc/${pid}/cwd`);
  const cwdInInstall = cwd !== undefined && realpath(cwd) === install;
  // `<install>/venv/bin/python` is a symlink out of the install: resolve the folder, not the file.
  const argNamesInstall = cmdline.some((arg) => path.isAbsolute(arg) && isInside(realParent(arg), install));
  const pythonPath = readEnviron(pid).PYTHONPATH ?? "";
  const envNamesInstall = pythonPath.split(path.delimiter).some((p) => p !== "" && realpath(p) === install);
  const evidence = [argNamesInstall && "its command line", envNamesInstall && "its PYTHONPATH", cwdInInstall && "its working directory"]
    .filter(Boolean);
  if (evidence.length === 0) {
    return { pid, cmdline, alive: true, ours: false, reason: `pid ${pid} runs another installation's mcp_server (${shown})` };
  }
  return { pid, cmdline, alive: true, ours: true, reason: `pid ${pid} runs this installation's server (${evidence.join(", ")})` };
}

function realpath(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

function realParent(p: string): string {
  return path.join(realpath(path.dirname(p)), path.basename(p));
}

function readLink(p: string): string | undefined {
  try {
    return fs.readlinkSync(p);
  } catch {
    return undefined;
  }
}

function readEnviron(pid: number): Record<string, string> {
  try {
    const env: Record<string, string> = {};
    for (const entry of fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")) {
      const eq = entry.indexOf("=");
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return env;
  } catch {
    return {};
  }
}

export type ProjectServer =
  | { status: "none"; reason: string }
  | { status: "invalid-state"; reason: string }
  | { status: "stale"; state: ServerState; reason: string }
  | { status: "foreign"; state: ServerState; identity: ServerIdentity; reason: string }
  | { status: "running"; state: ServerState; identity: ServerIdentity; reason: string };

/** This installation's running server according to its state file, checked against /proc. */
export function findProjectServer(installDir: string): ProjectServer {
  const read = readServerState(installDir);
  if (read.status === "absent") return { status: "none", reason: `No ${STATE_FILE_NAME}: no http/dual server is running` };
  if (read.status === "invalid") return { status: "invalid-state", reason: `Cannot read "${read.path}": ${read.error}` };
  const identity = identifyServer(read.state.pid, installDir);
  if (!identity.alive) return { status: "stale", state: read.state, reason: `The state file names pid ${read.state.pid}, which is not running` };
  if (!identity.ours) return { status: "foreign", state: read.state, identity, reason: identity.reason };
  return { status: "running", state: read.state, identity, reason: identity.reason };
}

export interface StopResult {
  pid: number;
  /** The process is gone (or a zombie). */
  exited: boolean;
  /** The last signal sent, null when the process was already gone. */
  signal: "SIGTERM" | "SIGKILL" | null;
  durationMs: number;
}

/**
 * Stops one process: SIGTERM, then SIGKILL after `timeoutMs`. When the process leads its
 * own process group (as a server we started detached does), the group gets the signal, so
 * helpers it spawned go too. The caller must have checked that the pid is ours.
 */
export async function stopServer(pid: number, options: { timeoutMs?: number; killWaitMs?: number } = {}): Promise<StopResult> {
  const started = Date.now();
  const result = (exited: boolean, signal: StopResult["signal"]): StopResult => ({
    pid,
    exited,
    signal,
    durationMs: Date.now() - started,
  });
  if (!processAlive(pid)) return result(true, null);
  const group = leadsOwnGroup(pid);
  send(pid, "SIGTERM", group);
  if (await waitForExit(pid, options.timeoutMs ?? 5_000)) return result(true, "SIGTERM");
  send(pid, "SIGKILL", group);
  return result(await waitForExit(pid, options.killWaitMs ?? 2_000), "SIGKILL");
}

/** Stops this installation's server if its state file names a live process that is really ours; refuses anything else. */
export async function stopProjectServer(
  installDir: string,
  options: { timeoutMs?: number } = {},
): Promise<{ found: ProjectServer; stop?: StopResult }> {
  const found = findProjectServer(installDir);
  if (found.status !== "running") return { found };
  return { found, stop: await stopServer(found.state.pid, options) };
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid: number): string[] | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

function leadsOwnGroup(pid: number): boolean {
  return Number(statFields(pid)?.[2]) === pid; // stat field 5: the process group id
}

/**
 * True when the process leads its own session, as a server started detached does (ours via
 * `startDetached`, or a shell's `setsid`). A server an IDE spawned over stdio lives in the
 * IDE's session: stopping it takes the user's tools away until they reload it there.
 */
export function ownsSession(pid: number): boolean {
  return Number(statFields(pid)?.[3]) === pid; // stat field 6: the session id
}

function send(pid: number, signal: NodeJS.Signals, group: boolean): void {
  try {
    process.kill(group ? -pid : pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(20);
  }
  return true;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface StartDetachedOptions {
  command: string;
  args?: string[];
  /** The full environment of the server (see `serverEnv` in launch.ts). */
  env: Record<string, string>;
  cwd: string;
  /** Where the server writes its state file. */
  installDir: string;
  /** The server's stdout and stderr are appended here. */
  logFile: string;
  /** Until the state file names the new server and it answers over HTTP. Default 15 000 ms. */
  timeoutMs?: number;
  /** Extra checks for the HTTP health probe (expected tools, smoke calls). */
  probe?: Omit<HttpProbeOptions, "url" | "timeoutMs" | "logFile">;
  /** Stop what we started when it does not become healthy. Default true. */
  stopOnFailure?: boolean;
}

export interface StartResult {
  ok: boolean;
  /** The process we spawned. */
  spawnedPid?: number;
  /** The server's state file once it named the new server. */
  state?: ServerState;
  probe?: ProbeResult;
  durationMs: number;
  logFile: string;
  error?: string;
}

/**
 * Starts the server in the background (its own session, stdin from /dev/null, output to
 * `logFile`), waits until the state file names a new server, then probes its URL with
 * the MCP client. Outlives this process: it is not our child in any way that matters.
 */
export async function startDetached(options: StartDetachedOptions): Promise<StartResult> {
  const started = Date.now();
  const deadline = started + (options.timeoutMs ?? 15_000);
  const before = readServerState(options.installDir);
  const previousPid = before.status === "ok" ? before.state.pid : undefined;
  fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
  const fd = fs.openSync(options.logFile, "a");
  const logStart = fs.fstatSync(fd).size;
  const fail = (error: string, extra: Partial<StartResult> = {}): StartResult => ({
    ok: false,
    durationMs: Date.now() - started,
    logFile: options.logFile,
    error,
    ...extra,
  });

  let exit: { code: number | null; signal: string | null } | undefined;
  let child: ChildProcess;
  try {
    child = spawn(options.command, options.args ?? [], {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ["ignore", fd, fd],
    });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    });
  } catch (err) {
    return fail(`Cannot start ${JSON.stringify(options.command)}: ${(err as Error).message}`);
  } finally {
    fs.closeSync(fd);
  }
  child.on("exit", (code, signal) => (exit = { code, signal }));
  child.unref();
  const spawnedPid = child.pid!;
  const logTail = () => tail(readFrom(options.logFile, logStart));
  const giveUp = async (error: string, extra: Partial<StartResult> = {}) => {
    if (options.stopOnFailure !== false && processAlive(spawnedPid)) await stopServer(spawnedPid, { timeoutMs: 2_000 });
    return fail(error, { spawnedPid, ...extra });
  };

  let state: ServerState | undefined;
  while (!state) {
    const read = readServerState(options.installDir);
    if (read.status === "ok" && (read.state.pid !== previousPid || read.mtimeMs >= started) && read.state.url && processAlive(read.state.pid)) {
      state = read.state;
      break;
    }
    if (exit || !processAlive(spawnedPid)) {
      // /proc can show the exit before Node has reaped the child and emitted "exit".
      for (let i = 0; !exit && i < 50; i++) await sleep(10);
      const how = exit ? (exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`) : "unknown status";
      return fail(`The server exited (${how}) before writing its state file${logTail()}`, { spawnedPid });
    }
    if (Date.now() >= deadline) {
      return giveUp(`The server did not write ${STATE_FILE_NAME} within ${options.timeoutMs ?? 15_000} ms${logTail()}`);
    }
    await sleep(25);
  }
  const probe = await probeHttp({
    ...options.probe,
    url: state.url!,
    timeoutMs: Math.max(1, deadline - Date.now()),
    logFile: options.logFile,
  });
  if (!probe.ok) return giveUp(`The new server at ${state.url} is not healthy: ${probe.error}`, { state, probe });
  return { ok: true, spawnedPid, state, probe, durationMs: Date.now() - started, logFile: options.logFile };
}

function readFrom(file: string, offset: number): string {
  try {
    return fs.readFileSync(file).subarray(offset).toString("utf8");
  } catch {
    return "";
  }
}

function tail(text: string, lines = 5): string {
  const last = text.trim().split(/\r?\n/).slice(-lines).join("\n");
  return last ? `:\n${last}` : "";
}
