/**
 * Runs the real CLI in a child process on the runtime under test (AOU_TEST_RUNTIME: node
 * or deno), as a user would: `agent-os-upgrade <args>` in a project folder.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const BIN = path.join(REPO, "app/bin.ts");
export const RUNTIME = (process.env.AOU_TEST_RUNTIME ?? "node") as "node" | "deno";

/** The command line that runs a TypeScript entry file on the runtime under test. */
export function tsCommand(file: string, args: string[] = []): [string, string[]] {
  if (RUNTIME === "deno") return [path.join(REPO, "node_modules/.bin/deno"), ["run", "-A", file, ...args]];
  return [process.execPath.includes("deno") ? "node" : process.execPath, ["--import", path.join(REPO, "node_modules/tsx/dist/esm/index.mjs"), file, ...args]];
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

export function startCli(args: string[], opts: CliOptions): { child: ChildProcess; done: Promise<CliResult> } {
  const [cmd, argv] = tsCommand(BIN, args);
  const child = spawn(cmd, argv, {
    cwd: opts.cwd,
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
  const done = new Promise<CliResult>((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

export function runCli(args: string[], opts: CliOptions): Promise<CliResult> {
  return startCli(args, opts).done;
}

/** The last JSON line of `--json` output: the result object. */
export function resultOf(r: CliResult): Record<string, any> {
  const lines = r.stdout.trim().split("\n").filter((l) => l.startsWith("{"));
  const last = lines[lines.length - 1];
  if (!last) throw new Error(`no JSON result in output:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(last);
}
