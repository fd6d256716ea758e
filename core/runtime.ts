/**
 * The one place that knows which runtime we are on. Everything else uses `node:` built-ins,
 * which Node and Deno both provide.
 */
declare const Deno: { version: { deno: string } } | undefined;

export const runtime: { name: "node" | "deno"; version: string } = typeof Deno !== "undefined" && Deno?.version
  ? { name: "deno", version: Deno.version.deno }
  : { name: "node", version: process.versions.node };

/** Whether a person can answer prompts: both ends are terminals. */
export function isInteractiveTerminal(): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY);
}

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
