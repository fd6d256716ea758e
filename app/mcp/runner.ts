/**
 * Runs the mutating commands (upgrade, resume, rollback) as a detached child process of the
 * CLI itself, so that an upgrade survives the MCP server that started it: an IDE that reloads
 * MCP servers after phase 3 may kill ours, and the upgrade must still end properly.
 *
 * The child gets its own process group (a signal to ours does not reach it), no stdin, and
 * writes its NDJSON events to a file rather than to a pipe: a pipe whose reader died would
 * fail the child's next write. We tail that file for progress and the final `result` line.
 * The file lives in a private temp folder (never in the installation: a refused upgrade
 * must leave the project untouched) that is removed once the child has ended.
 */
import { Buffer } from "node:buffer";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { StringDecoder } from "node:string_decoder";
import { fileURLToPath } from "node:url";
import { pidAlive } from "../../core/proc.ts";
import { entryCommand } from "../../core/runtime.ts";

/** One line of the CLI's `--json` output (an event, or the final result with `type: "result"`). */
export type CliEvent = Record<string, unknown> & { type?: string };

export interface CliRun {
  /** The final `result` line, or null when the child ended without one (killed, crashed). */
  result: Record<string, unknown> | null;
  exitCode: number | null;
  signal: string | null;
  /** The end of the child's stderr, for a failure without a result. */
  stderr: string;
  /** True when we stopped waiting (the request was cancelled) while the child went on. */
  detached: boolean;
}

export interface RunCliOptions {
  onEvent?: (event: CliEvent) => void;
  /** Stop waiting (the child keeps running). */
  signal?: AbortSignal;
  /** Extra files for the child, written into its private folder: name → content; their paths replace `{name}` in args. */
  files?: Record<string, string>;
  /** How often the event file is read. */
  pollMs?: number;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
const EXT = import.meta.url.endsWith(".ts") ? ".ts" : ".js";

/** The CLI's executable, beside this module in a checkout (`.ts`) or in `dist/` (`.js`). */
export const CLI_BIN = path.resolve(HERE, "../bin" + EXT);

/** The package root: the child's working folder (where its runtime finds its config and node_modules). */
const PACKAGE_ROOT = path.resolve(HERE, EXT === ".ts" ? "../.." : "../../..");

/** Starts `agent-os-upgrade <args>` detached and waits for it to end, reporting its events. */
const PREFIX = "agent-os-upgrade-mcp-";

/** Who made a run folder: the sweep of another server removes only its own user's, for its own project. */
const OWNER = "owner.json";

interface Owner {
  uid: number | null;
  project: string | null;
}

const myUid = (): number | null => process.getuid?.() ?? null;

/** The project a command line is about (its `--target`), resolved. */
function projectOf(args: readonly string[]): string | null {
  const i = args.indexOf("--target");
  return i >= 0 && args[i + 1] ? path.resolve(args[i + 1]) : null;
}

export async function runCliDetached(args: string[], opts: RunCliOptions = {}): Promise<CliRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), PREFIX));
  fs.writeFileSync(path.join(dir, OWNER), JSON.stringify({ uid: myUid(), project: projectOf(args) } satisfies Owner));
  const eventsFile = path.join(dir, "events.ndjson");
  const stderrFile = path.join(dir, "stderr.log");
  const finalArgs = args.map((a) => a.replace(/^\{([\w.-]+)\}$/, (m, name: string) => {
    if (!opts.files || !(name in opts.files)) return m;
    const file = path.join(dir, name);
    fs.writeFileSync(file, opts.files[name]);
    return file;
  }));
  const out = fs.openSync(eventsFile, "a");
  const err = fs.openSync(stderrFile, "a");
  const { command, args: pre } = entryCommand(CLI_BIN);
  let child;
  try {
    child = spawn(command, [...pre, ...finalArgs], {
      cwd: PACKAGE_ROOT,
      detached: true,
      stdio: ["ignore", out, err],
      env: { ...process.env, NO_COLOR: "1" },
    });
  } finally {
    fs.closeSync(out);
    fs.closeSync(err);
  }
  // Our event loop must not wait for the child: when the client goes away we exit, it goes on.
  child.unref();
  if (child.pid) fs.writeFileSync(path.join(dir, "pid"), String(child.pid));

  const tail = lineTail(eventsFile);
  let result: Record<string, unknown> | null = null;
  const drain = () => {
    for (const line of tail.read()) {
      let event: CliEvent;
      try {
        event = JSON.parse(line);
      } catch {
        continue; // not ours (a stray print of a plugin)
      }
      if (event.type === "result") result = event;
      else opts.onEvent?.(event);
    }
  };
  const ended = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal }));
    child.on("error", () => resolve({ code: null, signal: null }));
  });
  const stopped = new Promise<"stopped">((resolve) => {
    if (opts.signal?.aborted) resolve("stopped");
    opts.signal?.addEventListener("abort", () => resolve("stopped"), { once: true });
  });
  const timer = setInterval(drain, opts.pollMs ?? 200);
  try {
    const end = await Promise.race([ended, stopped]);
    drain();
    if (end === "stopped") return { result, exitCode: null, signal: null, stderr: "", detached: true };
    return { result, exitCode: end.code, signal: end.signal, stderr: tailOf(stderrFile), detached: false };
  } finally {
    clearInterval(timer);
    tail.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Reads a growing file line by line: each call returns the complete lines written since the last. */
function lineTail(file: string): { read(): string[]; close(): void } {
  const fd = fs.openSync(file, "r");
  const buf = Buffer.alloc(1 << 16);
  const utf8 = new StringDecoder("utf8");
  let pos = 0;
  let rest = "";
  return {
    read() {
      for (;;) {
        const n = fs.readSync(fd, buf, 0, buf.length, pos);
        if (n <= 0) break;
        pos += n;
        rest += utf8.write(buf.subarray(0, n));
      }
      const lines = rest.split("\n");
      rest = lines.pop() ?? "";
      return lines.filter((l) => l.trim());
    },
    close: () => fs.closeSync(fd),
  };
}

function tailOf(file: string, max = 2000): string {
  try {
    const text = fs.readFileSync(file, "utf8");
    return text.length > max ? text.slice(-max) : text;
  } catch {
    return "";
  }
}

/** True when `dir` is a real folder of this user whose owner record names `project`. */
function ownRunFolder(dir: string, project: string): boolean {
  const uid = myUid();
  try {
    const st = fs.lstatSync(dir);
    if (!st.isDirectory() || (uid !== null && st.uid !== uid)) return false;
    const owner = JSON.parse(fs.readFileSync(path.join(dir, OWNER), "utf8")) as Owner;
    return owner.uid === uid && owner.project === path.resolve(project);
  } catch {
    return false; // no record (another tool's, or an older version's): not ours to judge
  }
}

/**
 * Removes the folders of this project's runs whose waiting server was killed (its `finally`
 * never ran): those whose child has ended. The temp dir is shared: a folder of another user
 * or another project is never touched. A folder without a pid file is left for a minute (its
 * server may be starting the child right now).
 */
export function sweepRunFolders(project: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(PREFIX));
  } catch {
    return removed;
  }
  for (const name of names) {
    const dir = path.join(os.tmpdir(), name);
    if (!ownRunFolder(dir, project)) continue;
    try {
      const pid = Number(fs.readFileSync(path.join(dir, "pid"), "utf8"));
      if (pid > 0 && pidAlive(pid)) continue;
    } catch {
      try {
        if (Date.now() - fs.statSync(dir).mtimeMs < 60_000) continue;
      } catch {
        continue;
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}
