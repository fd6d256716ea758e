/**
 * Health probes that speak real MCP to a server with the official SDK client: `initialize`,
 * `tools/list`, then optional smoke `tools/call`s, over stdio (spawning the launch command)
 * or streamable HTTP (the url from the server's state file). A probe never throws: failures
 * are values (`ok: false` plus `problems`), so validation can report all of them at once.
 */
import fs from "node:fs";
import path from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client";
// Deep imports: the SDK's "./*" export maps types to "*.js.d.ts", which do not exist; tsc
// falls back to the sibling .d.ts, `deno check` needs to be told where it is.
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.d.ts"
import type { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { tiedToUs } from "../../core/children.ts";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/client/streamableHttp.d.ts"
import type { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

/**
 * The SDK (with zod-to-json-schema and ajv) is loaded by the first probe: a run that does
 * not validate (a dry run, --no-validate, a rollback) never pays its load time.
 */
async function sdk() {
  const [{ Client }, { StdioClientTransport }, { StreamableHTTPClientTransport }] = await Promise.all([
    import("@modelcontextprotocol/sdk/client"),
    import("@modelcontextprotocol/sdk/client/stdio.js"),
    import("@modelcontextprotocol/sdk/client/streamableHttp.js"),
  ]);
  return { Client, StdioClientTransport, StreamableHTTPClientTransport };
}

/** A smoke `tools/call`: the call must not be an error result, and its text must contain what `expect` lists. */
export interface SmokeCall {
  tool: string;
  args?: Record<string, unknown>;
  expect?: { contains?: string; containsAll?: string[] };
  /** Skip (and pass) the call when the server does not register the tool. Default false: a missing tool fails it. */
  ifRegistered?: boolean;
}

export interface SmokeCallResult {
  tool: string;
  ok: boolean;
  /** The tool is not registered and the call said `ifRegistered`. */
  skipped?: boolean;
  /** The text content items of the result, joined by newlines. */
  text: string;
  isError: boolean;
  durationMs: number;
  error?: string;
}

export interface ProbeResult {
  /** Handshake done, every expected tool listed, every smoke call passed, no error lines in stderr. */
  ok: boolean;
  transport: "stdio" | "http";
  serverInfo?: { name: string; version: string };
  /** Tool names as listed by the server, sorted. */
  tools: string[];
  missingTools: string[];
  calls: SmokeCallResult[];
  /** What the server wrote to stderr during the probe (stdio), or to its log file (http, when given). */
  stderr: string;
  /** The lines of `stderr` that look like errors (see STDERR_ERROR_LINE). */
  stderrErrors: string[];
  /** Connection attempts (http polls until the deadline; stdio spawns once). */
  attempts: number;
  durationMs: number;
  /** One line per failed check; empty when ok. */
  problems: string[];
  /** The first problem, for one-line reports. */
  error?: string;
}

export interface ProbeOptions {
  /** The whole probe's deadline, connection included. Default 15 000 ms. */
  timeoutMs?: number;
  calls?: SmokeCall[];
  /** Tools that must be listed. */
  expectTools?: string[];
  /** Whether error lines in stderr fail the probe. Default true (SPEC §5.5). */
  failOnStderrErrors?: boolean;
}

export interface StdioProbeOptions extends ProbeOptions {
  command: string;
  args?: string[];
  /**
   * The server's environment. The SDK adds only HOME, LOGNAME, PATH, SHELL, TERM and USER,
   * so pass everything the server needs (PYTHONPATH, …) here.
   */
  env?: Record<string, string>;
  cwd?: string;
}

export interface HttpProbeOptions extends ProbeOptions {
  url: string;
  /** Pause between connection attempts while the server is not up yet. Default 100 ms. */
  retryIntervalMs?: number;
  /** The server's log file: what it appends during the probe is scanned like stderr. */
  logFile?: string;
}

/** A stderr line that counts as an error: a Python traceback header or an ERROR/CRITICAL/FATAL log level. */
export const STDERR_ERROR_LINE = /Traceback \(most recent call last\)|\b(?:ERROR|CRITICAL|FATAL)\b/;

const CLIENT_INFO = { name: "agent-os-upgrade", version: "0.1.0" };
const STDERR_LIMIT = 256 * 1024;

/** The lines of a server's stderr that look like errors. */
export function scanStderr(text: string): string[] {
  return text.split(/\r?\n/).filter((line) => STDERR_ERROR_LINE.test(line)).map((line) => line.trim());
}

/** Why `command` cannot be executed (a path that does not exist, a name not on PATH), or null. */
function missingProgram(command: string, cwd: string | undefined, pathVar: string): string | null {
  if (command.includes("/")) {
    const abs = path.resolve(cwd ?? process.cwd(), command);
    return fs.existsSync(abs) ? null : `${abs} does not exist`;
  }
  const found = pathVar.split(path.delimiter).some((dir) => dir && fs.existsSync(path.join(dir, command)));
  return found ? null : `${command} is not on PATH`;
}

/** Spawns the server, performs the handshake, lists tools, runs the smoke calls, and closes it. */
export async function probeStdio(options: StdioProbeOptions): Promise<ProbeResult> {
  const started = Date.now();
  const deadline = started + (options.timeoutMs ?? 15_000);
  // Tied to us: a server still starting (not yet reading stdin, so blind to our death) must
  // not outlive a killed upgrade.
  // Checked here: behind the guard a missing program would only be the guard's "failed to execute".
  const missing = missingProgram(options.command, options.cwd, options.env?.PATH ?? process.env.PATH ?? "");
  if (missing) return finish("stdio", started, 1, { ...EMPTY_SESSION, connected: false, error: `Cannot start the server: ${missing} (ENOENT)` }, "", options);
  const [command, ...args] = tiedToUs([options.command, ...(options.args ?? [])]);
  const { Client, StdioClientTransport } = await sdk();
  const transport: StdioClientTransport = new StdioClientTransport({
    command,
    args,
    env: { ...options.env },
    cwd: options.cwd,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Uint8Array | string) => {
    if (stderr.length < STDERR_LIMIT) stderr += chunk.toString();
  });
  const client = new Client(CLIENT_INFO, { capabilities: {} });
  let outcome: SessionOutcome;
  try {
    await client.connect(transport, { timeout: remaining(deadline) });
    outcome = await runSession(client, deadline, options);
  } catch (err) {
    outcome = { ...EMPTY_SESSION, connected: false, error: describeError(err) };
  } finally {
    await client.close().catch(() => {});
    // The stderr pipe may deliver its last chunk after the process has closed.
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (!outcome.connected && outcome.error && /Connection closed/i.test(outcome.error)) {
    const last = stderr.trim().split(/\r?\n/).pop();
    outcome.error = `The server exited before answering${last ? `: ${last.trim()}` : ""}`;
  }
  return finish("stdio", started, 1, outcome, stderr, options);
}

/** Connects to a streamable HTTP endpoint, polling until it answers or the deadline passes. */
export async function probeHttp(options: HttpProbeOptions): Promise<ProbeResult> {
  const started = Date.now();
  const deadline = started + (options.timeoutMs ?? 15_000);
  const logStart = fileSize(options.logFile);
  let attempts = 0;
  let outcome: SessionOutcome = { ...EMPTY_SESSION, connected: false, error: "Cannot connect: no attempt made" };
  const { Client, StreamableHTTPClientTransport } = await sdk();
  while (Date.now() < deadline) {
    attempts++;
    const transport: StreamableHTTPClientTransport = new StreamableHTTPClientTransport(new URL(options.url));
    const client = new Client(CLIENT_INFO, { capabilities: {} });
    try {
      await client.connect(transport, { timeout: remaining(deadline) });
    } catch (err) {
      outcome = { ...EMPTY_SESSION, connected: false, error: `Cannot connect to ${options.url}: ${describeError(err)}` };
      await client.close().catch(() => {});
      const pause = Math.min(options.retryIntervalMs ?? 100, deadline - Date.now());
      if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
      continue;
    }
    try {
      outcome = await runSession(client, deadline, options);
    } catch (err) {
      outcome = { ...EMPTY_SESSION, connected: true, error: describeError(err) };
    } finally {
      await transport.terminateSession().catch(() => {});
      await client.close().catch(() => {});
    }
    break;
  }
  return finish("http", started, attempts, outcome, readFrom(options.logFile, logStart), options);
}

interface SessionOutcome {
  connected: boolean;
  serverInfo?: { name: string; version: string };
  tools: string[];
  calls: SmokeCallResult[];
  error?: string;
}

const EMPTY_SESSION: SessionOutcome = { connected: false, tools: [], calls: [] };

async function runSession(client: Client, deadline: number, options: ProbeOptions): Promise<SessionOutcome> {
  const info = client.getServerVersion();
  const outcome: SessionOutcome = {
    connected: true,
    serverInfo: info ? { name: info.name, version: info.version } : undefined,
    tools: [],
    calls: [],
  };
  try {
    const listed = await client.listTools(undefined, { timeout: remaining(deadline) });
    outcome.tools = listed.tools.map((tool) => tool.name).sort();
  } catch (err) {
    outcome.error = `tools/list failed: ${describeError(err)}`;
    return outcome;
  }
  for (const call of options.calls ?? []) {
    outcome.calls.push(await smokeCall(client, call, outcome.tools, deadline));
  }
  return outcome;
}

async function smokeCall(client: Client, call: SmokeCall, tools: string[], deadline: number): Promise<SmokeCallResult> {
  const started = Date.now();
  const result = (ok: boolean, text: string, isError: boolean, error?: string): SmokeCallResult => ({
    tool: call.tool,
    ok,
    text,
    isError,
    durationMs: Date.now() - started,
    ...(error === undefined ? {} : { error }),
  });
  if (!tools.includes(call.tool)) {
    if (call.ifRegistered) return { ...result(true, "", false), skipped: true };
    return result(false, "", false, `Tool "${call.tool}" is not registered`);
  }
  try {
    const answer = await client.callTool({ name: call.tool, arguments: call.args ?? {} }, undefined, {
      timeout: remaining(deadline),
    });
    const content = Array.isArray(answer.content) ? answer.content : [];
    const text = content
      .filter((item): item is { type: "text"; text: string } => item?.type === "text" && typeof item.text === "string")
      .map((item) => item.text)
      .join("\n");
    const isError = answer.isError === true;
    if (isError) return result(false, text, true, `Tool "${call.tool}" returned an error: ${firstLine(text)}`);
    const wanted = [...(call.expect?.contains === undefined ? [] : [call.expect.contains]), ...(call.expect?.containsAll ?? [])];
    const absent = wanted.filter((want) => !text.includes(want));
    if (absent.length > 0) {
      const list = absent.map((want) => `"${want}"`).join(", ");
      return result(false, text, false, `Tool "${call.tool}" answered without ${list}: ${firstLine(text)}`);
    }
    return result(true, text, false);
  } catch (err) {
    return result(false, "", false, `Tool "${call.tool}" failed: ${describeError(err)}`);
  }
}

function finish(
  transport: "stdio" | "http",
  started: number,
  attempts: number,
  outcome: SessionOutcome,
  stderr: string,
  options: ProbeOptions,
): ProbeResult {
  const stderrErrors = scanStderr(stderr);
  const missingTools = outcome.connected && !outcome.error
    ? (options.expectTools ?? []).filter((name) => !outcome.tools.includes(name)).sort()
    : [];
  const problems: string[] = [];
  if (outcome.error) problems.push(outcome.error);
  if (missingTools.length > 0) problems.push(`Missing tools: ${missingTools.join(", ")}`);
  for (const call of outcome.calls) if (!call.ok && call.error) problems.push(call.error);
  if (stderrErrors.length > 0 && options.failOnStderrErrors !== false) {
    problems.push(`The server logged ${stderrErrors.length} error line(s): ${stderrErrors[0]}`);
  }
  return {
    ok: outcome.connected && problems.length === 0,
    transport,
    serverInfo: outcome.serverInfo,
    tools: outcome.tools,
    missingTools,
    calls: outcome.calls,
    stderr,
    stderrErrors,
    attempts,
    durationMs: Date.now() - started,
    problems,
    ...(problems.length > 0 ? { error: problems[0] } : {}),
  };
}

function remaining(deadline: number): number {
  return Math.max(1, deadline - Date.now());
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    const detail = cause instanceof Error && cause.message && !err.message.includes(cause.message) ? ` (${cause.message})` : "";
    return `${err.message}${detail}`;
  }
  return String(err);
}

function firstLine(text: string): string {
  const line = text.split("\n")[0] ?? "";
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

function fileSize(file?: string): number {
  if (!file) return 0;
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function readFrom(file: string | undefined, offset: number): string {
  if (!file) return "";
  try {
    const data = fs.readFileSync(file);
    return data.subarray(Math.min(offset, data.length)).toString("utf8");
  } catch {
    return "";
  }
}
