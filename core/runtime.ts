/**
 * The one place that knows which runtime we are on. Everything else uses `node:` built-ins,
 * which Node and Deno both provide, except the few reads the start-up path needs (`host`).
 */
import type * as NodeFs from "node:fs";

/** The part of Deno's own API that `host` uses. */
interface DenoApi {
  version: { deno: string };
  args: string[];
  pid: number;
  cwd(): string;
  exit(code: number): never;
  hostname(): string;
  readTextFileSync(file: string): string;
  readDirSync(dir: string): Iterable<{ name: string }>;
  statSync(file: string): { isFile: boolean; isDirectory: boolean; mtime: Date | null };
  stdin: { isTerminal(): boolean };
  stdout: { writeSync(b: Uint8Array): number; isTerminal(): boolean };
  stderr: { writeSync(b: Uint8Array): number };
}
declare const Deno: DenoApi | undefined;

const deno = typeof Deno !== "undefined" && Deno?.version ? Deno : null;

export const runtime: { name: "node" | "deno"; version: string } = deno
  ? { name: "deno", version: deno.version.deno }
  : { name: "node", version: process.versions.node };

/**
 * What the process is and the synchronous reads of its start-up path: the arguments, the
 * output streams, whether a file or folder exists, a small file's text, a folder's names.
 * On Deno these use Deno's own API, because `node:fs` or the `process` global costs Deno
 * about 50 ms to set up, more than `--help` or `status` may take in all (issue 9). Errors
 * carry Node's `code` ("ENOENT") on both.
 */
export interface Host {
  argv(): string[];
  cwd(): string;
  pid(): number;
  hostname(): string;
  /** Writes text to stdout / stderr, completely, before returning (Deno) or in order (Node). */
  out(text: string): void;
  err(text: string): void;
  /**
   * Exits with the code once what was written has reached the pipe, running the `exit`
   * handlers of Node's process object (the demo removes its temp folders in one) unless
   * `startupOnly`: then Deno exits without setting that object up (~25 ms), as nothing but
   * the start-up path ran (`--help`, `status`), which registers none.
   */
  exit(code: number, opts?: { startupOnly?: boolean }): Promise<never>;
  /** Whether a person can answer prompts: both stdin and stdout are terminals. */
  interactive(): boolean;
  readText(file: string): string;
  isDir(p: string): boolean;
  isFile(p: string): boolean;
  exists(p: string): boolean;
  /** The names in a folder (throws ENOENT / ENOTDIR like readdir). */
  list(dir: string): string[];
  /** A path's modification time in ms, 0 when it is missing. */
  mtime(p: string): number;
}

const kindOf = (stat: () => { isFile: boolean; isDirectory: boolean }) => {
  try {
    return stat();
  } catch {
    return null;
  }
};

function denoHost(d: DenoApi): Host {
  const enc = new TextEncoder();
  const writeAll = (w: { writeSync(b: Uint8Array): number }, text: string) => {
    // writeSync may write part of the buffer (a full pipe): loop until it is all out.
    for (let b = enc.encode(text); b.length > 0;) b = b.subarray(w.writeSync(b));
  };
  return {
    argv: () => d.args,
    cwd: () => d.cwd(),
    pid: () => d.pid,
    hostname: () => d.hostname(),
    out: (text) => writeAll(d.stdout, text),
    err: (text) => writeAll(d.stderr, text),
    exit: async (code, opts) => (opts?.startupOnly ? d.exit(code) : process.exit(code)),
    interactive: () => d.stdin.isTerminal() && d.stdout.isTerminal(),
    readText: (file) => d.readTextFileSync(file),
    isDir: (p) => kindOf(() => d.statSync(p))?.isDirectory === true,
    isFile: (p) => kindOf(() => d.statSync(p))?.isFile === true,
    exists: (p) => kindOf(() => d.statSync(p)) !== null,
    list: (dir) => Array.from(d.readDirSync(dir), (e) => e.name),
    mtime: (p) => {
      try {
        return d.statSync(p).mtime?.getTime() ?? 0;
      } catch {
        return 0;
      }
    },
  };
}

function nodeHost(fs: typeof NodeFs, hostname: () => string): Host {
  const stat = (p: string) => {
    const s = fs.statSync(p);
    return { isFile: s.isFile(), isDirectory: s.isDirectory() };
  };
  const flushed = (s: NodeJS.WriteStream) => new Promise<void>((r) => s.write("", () => r()));
  return {
    argv: () => process.argv.slice(2),
    cwd: () => process.cwd(),
    pid: () => process.pid,
    hostname,
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    // A pipe is written asynchronously: exiting at once would cut the output off.
    exit: async (code) => {
      await flushed(process.stdout);
      await flushed(process.stderr);
      return process.exit(code);
    },
    interactive: () => Boolean(process.stdin.isTTY && process.stdout.isTTY),
    readText: (file) => fs.readFileSync(file, "utf8"),
    isDir: (p) => kindOf(() => stat(p))?.isDirectory === true,
    isFile: (p) => kindOf(() => stat(p))?.isFile === true,
    exists: (p) => fs.existsSync(p),
    list: (dir) => fs.readdirSync(dir),
    mtime: (p) => fs.statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? 0,
  };
}

export const host: Host = deno ? denoHost(deno) : nodeHost(await import("node:fs"), (await import("node:os")).hostname);

/** Whether a person can answer prompts: both ends are terminals. */
export const isInteractiveTerminal = (): boolean => host.interactive();

/**
 * The command line that runs one of this package's entry files (e.g. the CLI's bin) in a new
 * process on this runtime: `deno run -A <file>` on Deno; on Node the file itself, or, for a
 * `.ts` file of a source checkout, under the tsx loader this process was started with.
 */
export function entryCommand(file: string): { command: string; args: string[] } {
  if (runtime.name === "deno") return { command: process.execPath, args: ["run", "-A", file] };
  if (!file.endsWith(".ts")) return { command: process.execPath, args: [file] };
  return { command: process.execPath, args: ["--import", import.meta.resolve("tsx"), file] };
}
