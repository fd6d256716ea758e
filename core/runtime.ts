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
