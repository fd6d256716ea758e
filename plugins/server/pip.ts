/**
 * Python dependencies of the server, installed into the installation's own venv with the
 * venv's own interpreter (`<venv>/bin/python -m pip install -r …`, never a `pip` from PATH),
 * with a timeout, retries for network errors only, and `pip check` afterwards (pip exits 0
 * on dependency conflicts). Post-install steps are detected from the requirements by rules.
 */
import { tiedToUs } from "../../core/children.ts";
import { loadZx } from "../../core/zx.ts";
import { spawn } from "node:child_process";
import net from "node:net";

export interface CommandOutcome {
  command: string[];
  /** null when the command was killed (timeout) or could not start. */
  exitCode: number | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  durationMs: number;
}

interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** Runs one command without a shell; a failure is a value, never a throw. */
export async function runCommand(command: readonly string[], options: RunOptions = {}): Promise<CommandOutcome> {
  const started = Date.now();
  // pip keeps writing into the venv: if we are killed, it must not outlive us.
  const [bin, ...args] = tiedToUs(command);
  // Loaded here, not at the top: most commands (and upgrades with --skip-deps) never run pip.
  const shell = loadZx().$({
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    quiet: true,
    nothrow: true,
    ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
  });
  try {
    const out = await shell`${bin} ${args}`;
    return {
      command: [...command],
      exitCode: out.exitCode,
      timedOut: out.exitCode === null && out.signal !== null,
      stdout: out.stdout,
      stderr: out.stderr,
      durationMs: Date.now() - started,
    };
  } catch (err) {
    return {
      command: [...command],
      exitCode: null,
      timedOut: false,
      stdout: "",
      stderr: (err as Error).message,
      durationMs: Date.now() - started,
    };
  }
}

export interface StreamOptions extends RunOptions {
  /** Each line of output as it comes (stdout and stderr; a `\r`-updated progress bar gives one line per update). */
  onLine?: (line: string) => void;
}

/** Like runCommand, but hands over each line while the command runs (pip can be slow; the user should see it move). */
export function runStreaming(command: readonly string[], options: StreamOptions = {}): Promise<CommandOutcome> {
  const started = Date.now();
  // Tied to our life (see runCommand); a timeout stops the guard with SIGTERM so it takes pip's group along.
  const [bin, ...args] = tiedToUs(command);
  return new Promise((resolve) => {
    const out = { stdout: "", stderr: "" };
    let timedOut = false;
    const child = spawn(bin, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] });
    const timer = options.timeoutMs ? setTimeout(() => { timedOut = true; child.kill("SIGTERM"); }, options.timeoutMs) : undefined;
    const lines = (key: "stdout" | "stderr") => {
      let partial = "";
      return (chunk: Buffer) => {
        const text = chunk.toString();
        out[key] += text;
        const parts = (partial + text).split(/\r\n|\r|\n/);
        partial = parts.pop() ?? "";
        for (const line of parts) if (line.trim()) options.onLine?.(line);
      };
    };
    child.stdout!.on("data", lines("stdout"));
    child.stderr!.on("data", lines("stderr"));
    const finish = (exitCode: number | null, error?: Error) => {
      clearTimeout(timer);
      resolve({
        command: [...command],
        exitCode,
        timedOut,
        stdout: out.stdout,
        stderr: error ? `${out.stderr}${error.message}` : out.stderr,
        durationMs: Date.now() - started,
      });
    };
    child.on("error", (err) => finish(null, err));
    child.on("close", (code) => finish(timedOut ? null : code));
  });
}

/** pip output that says the network failed (worth a retry), as opposed to a resolution or build error. */
export const NETWORK_ERROR =
  /NewConnectionError|Failed to establish a new connection|Connection (?:refused|reset|aborted)|ConnectionError|ConnectTimeoutError|Read timed out|ReadTimeoutError|Temporary failure in name resolution|Name or service not known|Network is unreachable|RemoteDisconnected|ProxyError|SSLError|IncompleteRead|HTTP error 5\d\d/i;

/** Why a pip attempt failed, in the words a retry message uses. */
export type PipFailure = "network" | "timeout" | "resolver" | "other";

/** pip's resolver could not satisfy the requirements (no such version, conflicting pins). */
export const RESOLVER_ERROR = /ResolutionImpossible|Could not find a version that satisfies|No matching distribution found|conflicting dependencies/i;

export function failureOf(out: Pick<CommandOutcome, "exitCode" | "timedOut" | "stdout" | "stderr">): PipFailure | null {
  if (out.exitCode === 0) return null;
  if (out.timedOut) return "timeout";
  const text = `${out.stderr}\n${out.stdout}`;
  // pip says "Could not find a version" after its own retries on a dead index too: the network reason wins.
  if (NETWORK_ERROR.test(text)) return "network";
  if (RESOLVER_ERROR.test(text)) return "resolver";
  return "other";
}

export interface PipAttempt {
  exitCode: number | null;
  timedOut: boolean;
  networkError: boolean;
  /** null when the attempt succeeded. */
  failure: PipFailure | null;
  durationMs: number;
  /** The last lines of pip's stderr (or stdout when stderr is empty). */
  output: string;
}

export interface PipCheckResult {
  ok: boolean;
  /** pip's report: "No broken requirements found." or one line per conflict. */
  output: string;
}

export interface PipInstallOptions {
  /** The venv's interpreter, `<venv>/bin/python`. */
  python: string;
  /** Path of the requirements file. */
  requirements: string;
  /** From the config, e.g. `["--no-index", "--find-links", "/wheels"]`. */
  extraArgs?: string[];
  /** Per attempt. Default 600 000 ms. */
  timeoutMs?: number;
  /** Extra attempts after a network error. Default 2. */
  retries?: number;
  /** Pause before a retry, doubled each time. Default 2 000 ms. */
  retryDelayMs?: number;
  cwd?: string;
  env?: Record<string, string>;
  /** Each line pip prints, as it prints it. */
  onLine?: (line: string) => void;
  /** Before each retry: the failed attempt (1-based), why it failed, and the pause. */
  onRetry?: (info: { attempt: number; of: number; failure: PipFailure; error: string; delayMs: number }) => void;
  /** Check that the package index answers before running pip (one TCP connect); default true. */
  probeIndex?: boolean;
  /** The probe's deadline. Default 5 000 ms. */
  probeTimeoutMs?: number;
  /** Run `pip check` after a successful install (default true); false when the caller runs it itself, beside other pip reads. */
  check?: boolean;
}

export interface PipInstallResult {
  ok: boolean;
  command: string[];
  attempts: PipAttempt[];
  /** Present when the install succeeded. */
  check?: PipCheckResult;
  durationMs: number;
  error?: string;
  /** Set when the index probe failed: pip was not run. */
  unreachableIndex?: { url: string; error: string };
}

/** The index pip would use: `--index-url`/`-i` in the arguments, else PIP_INDEX_URL, else PyPI; null with `--no-index`. */
export function indexUrlOf(args: readonly string[], env: Record<string, string | undefined> = process.env): string | null {
  let url: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--no-index") return null;
    if (a === "--index-url" || a === "-i") url = args[i + 1];
    else if (a.startsWith("--index-url=")) url = a.slice("--index-url=".length);
  }
  return url ?? (args.includes("--isolated") ? undefined : env.PIP_INDEX_URL) ?? "https://pypi.org/simple";
}

/** Where pip connects to reach `url`: the proxy when one is set (pip honours them), else the index's host. */
export function connectTarget(url: string, args: readonly string[], env: Record<string, string | undefined> = process.env): { host: string; port: number } {
  const u = new URL(url);
  const proxyArg = args.indexOf("--proxy");
  const proxy = (proxyArg >= 0 ? args[proxyArg + 1] : undefined) ??
    (u.protocol === "https:" ? env.HTTPS_PROXY ?? env.https_proxy : env.HTTP_PROXY ?? env.http_proxy);
  const noProxy = (env.NO_PROXY ?? env.no_proxy ?? "").split(",").map((h) => h.trim()).filter(Boolean);
  const target = proxy && !noProxy.some((h) => h === "*" || u.hostname === h.replace(/^\./, "") || u.hostname.endsWith(`.${h.replace(/^\./, "")}`)) ? new URL(proxy.includes("://") ? proxy : `http://${proxy}`) : u;
  return { host: target.hostname.replace(/^\[|\]$/g, ""), port: Number(target.port) || (target.protocol === "https:" ? 443 : 80) };
}

/** One TCP connect, with a deadline: resolves null when it connects, else the reason. */
export function probeConnect(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (why: string | null) => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    socket.once("connect", () => done(null));
    socket.once("error", (err: NodeJS.ErrnoException) => done(err.code === "ENOTFOUND" || err.code === "EAI_AGAIN" ? `cannot resolve ${host} (${err.code})` : err.message));
  });
}

/**
 * `<python> -m pip install -r <requirements>`, retried on network errors only, then `pip check`.
 * pip names a network failure only in its own retry warnings: with `--retries 0` an
 * unreachable index reads like a missing package ("Could not find a version") and is not retried.
 */
export async function pipInstall(options: PipInstallOptions): Promise<PipInstallResult> {
  const started = Date.now();
  const command = [
    options.python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
    "-r", options.requirements, ...(options.extraArgs ?? []),
  ];
  const run = { cwd: options.cwd, env: options.env, timeoutMs: options.timeoutMs ?? 600_000 };
  const retries = options.retries ?? 2;
  const attempts: PipAttempt[] = [];
  const done = (ok: boolean, extra: Partial<PipInstallResult>): PipInstallResult => ({
    ok,
    command,
    attempts,
    durationMs: Date.now() - started,
    ...extra,
  });
  const index = options.probeIndex === false ? null : indexUrlOf(options.extraArgs ?? [], { ...process.env, ...options.env });
  if (index) {
    const { host, port } = connectTarget(index, options.extraArgs ?? [], { ...process.env, ...options.env });
    const why = await probeConnect(host, port, options.probeTimeoutMs ?? 5_000);
    if (why) {
      return done(false, { error: `the package index ${index} is unreachable (${why})`, unreachableIndex: { url: index, error: why } });
    }
  }
  const of = retries + 1;
  for (let attempt = 0; ; attempt++) {
    const out = await runStreaming(command, { ...run, onLine: options.onLine });
    const text = `${out.stderr}\n${out.stdout}`;
    const failure = failureOf(out);
    const networkError = failure === "network";
    attempts.push({
      exitCode: out.exitCode,
      timedOut: out.timedOut,
      networkError,
      failure,
      durationMs: out.durationMs,
      output: lastLines(out.stderr.trim() ? out.stderr : out.stdout),
    });
    if (failure === null) break;
    // A resolver error or a broken build fails the same way again: only the network and timeouts are retried.
    const retryable = failure === "network" || failure === "timeout";
    const why = failure === "timeout" ? `timed out after ${run.timeoutMs} ms` : `exit ${out.exitCode}, ${failure} error`;
    if (!retryable || attempt >= retries) {
      return done(false, { error: `pip install -r "${options.requirements}" failed (${why}${attempt > 0 ? `, ${attempt + 1} attempts` : ""}): ${firstError(text)}` });
    }
    const delayMs = (options.retryDelayMs ?? 2_000) * 2 ** attempt;
    options.onRetry?.({ attempt: attempt + 1, of, failure, error: firstError(text), delayMs });
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
  if (options.check === false) return done(true, {});
  const check = await pipCheck(options.python, run);
  if (!check.ok) return done(false, { check, error: `pip check found broken requirements: ${firstLineOf(check.output)}` });
  return done(true, { check });
}

/** `<python> -m pip check`: pip installs conflicting versions with exit 0, this finds them. */
export async function pipCheck(python: string, options: RunOptions = {}): Promise<PipCheckResult> {
  const out = await runCommand([python, "-m", "pip", "check", "--disable-pip-version-check"], options);
  return { ok: out.exitCode === 0, output: (out.stdout + out.stderr).trim() };
}

/** `<python> -m pip freeze` as sorted lines; `all` includes pip and setuptools themselves. */
export async function pipFreeze(python: string, options: RunOptions & { all?: boolean } = {}): Promise<string[]> {
  const out = await runCommand([python, "-m", "pip", "freeze", "--disable-pip-version-check", ...(options.all ? ["--all"] : [])], options);
  if (out.exitCode !== 0) throw new Error(`Cannot list the packages of ${python}: ${firstLineOf(out.stderr) || `exit ${out.exitCode}`}`);
  return out.stdout.split(/\r?\n/).map((l) => l.trim()).filter(Boolean).sort();
}

export interface PostInstallRule {
  /** Names the step in evidence and reports. */
  name: string;
  /** The requirement (distribution name) whose active line triggers the step. */
  requirement: string;
  /** The command; `{python}` stands for the venv's interpreter. */
  command: string[];
  timeoutMs?: number;
}

export interface PostInstallStep {
  rule: string;
  /** The requirements line that triggered it. */
  line: string;
  command: string[];
  timeoutMs?: number;
}

export const DEFAULT_POST_INSTALL_RULES: readonly PostInstallRule[] = Object.freeze([
  { name: "playwright-chromium", requirement: "playwright", command: ["{python}", "-m", "playwright", "install", "chromium"] },
]);

/** PEP 503 name normalisation: case-insensitive, runs of `-`, `_`, `.` are equal. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

/** The active requirements of a requirements file: `{ name, line }`, comments and pip options left out. */
export function activeRequirements(text: string): { name: string; line: string }[] {
  const out: { name: string; line: string }[] = [];
  for (const raw of text.split(/\r?\n/)) {
    // pip: a comment starts at a '#' at the line start or after whitespace.
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    if (!line || line.startsWith("-")) continue;
    const name = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?/.exec(line)?.[0];
    if (name) out.push({ name: normalizeName(name), line });
  }
  return out;
}

/** The post-install steps the requirements call for (default rule: an active `playwright` line → install chromium). */
export function detectPostInstall(
  requirementsText: string,
  options: { rules?: readonly PostInstallRule[]; python?: string } = {},
): PostInstallStep[] {
  const active = activeRequirements(requirementsText);
  const steps: PostInstallStep[] = [];
  for (const rule of options.rules ?? DEFAULT_POST_INSTALL_RULES) {
    const hit = active.find((req) => req.name === normalizeName(rule.requirement));
    if (!hit) continue;
    steps.push({
      rule: rule.name,
      line: hit.line,
      command: rule.command.map((word) => word.replaceAll("{python}", options.python ?? "python")),
      ...(rule.timeoutMs === undefined ? {} : { timeoutMs: rule.timeoutMs }),
    });
  }
  return steps;
}

export interface PostInstallOutcome extends PostInstallStep {
  ok: boolean;
  exitCode: number | null;
  timedOut: boolean;
  durationMs: number;
  output: string;
}

/** Runs the steps in order and records each outcome; stops at the first failure. */
export async function runPostInstall(steps: readonly PostInstallStep[], options: RunOptions = {}): Promise<PostInstallOutcome[]> {
  const outcomes: PostInstallOutcome[] = [];
  for (const step of steps) {
    const out = await runCommand(step.command, { ...options, timeoutMs: step.timeoutMs ?? options.timeoutMs ?? 600_000 });
    const ok = out.exitCode === 0;
    outcomes.push({ ...step, ok, exitCode: out.exitCode, timedOut: out.timedOut, durationMs: out.durationMs, output: lastLines(out.stderr || out.stdout) });
    if (!ok) break;
  }
  return outcomes;
}

function lastLines(text: string, n = 15): string {
  return text.trim().split(/\r?\n/).slice(-n).join("\n");
}

function firstLineOf(text: string): string {
  return text.trim().split(/\r?\n/)[0] ?? "";
}

/** pip's first `ERROR:` line, else its last line. */
function firstError(text: string): string {
  const lines = text.trim().split(/\r?\n/);
  return (lines.find((l) => l.startsWith("ERROR:")) ?? lines.at(-1) ?? "").trim();
}
