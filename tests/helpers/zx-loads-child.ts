/**
 * Child for the "zx loads once" test (Node only: it watches ESM resolution with
 * module.register). Runs a command through pip's runCommand and through ctx.$, then prints
 * which zx files the ESM loader resolved and which zx files the CommonJS cache holds.
 * `--import-zx` also imports zx's ESM entry, to show the watch sees it when it happens.
 * Usage: zx-loads-child.ts <dir> [--import-zx]
 */
import { createRequire, register } from "node:module";
import { MessageChannel } from "node:worker_threads";

const [dir, flag] = process.argv.slice(2);
const SENTINEL = "data:text/javascript,export default 'sentinel'";
const HOOKS = `let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (r.url.includes("/node_modules/zx/") || r.url.startsWith("data:")) port.postMessage(r.url);
  return r;
}`;

const { port1, port2 } = new MessageChannel();
const esm: string[] = [];
let sentinelSeen!: () => void;
const seen = new Promise<void>((resolve) => (sentinelSeen = resolve));
// The hooks post from their own thread, in order: once the sentinel arrives, every earlier URL has.
port1.on("message", (url: string) => (url.startsWith("data:") ? sentinelSeen() : esm.push(url.split("/node_modules/zx/")[1])));
register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, { data: { port: port2 }, transferList: [port2] });

// Imported after the watch is in place, so that any import of zx they make passes through it.
const { runCommand } = await import("../../plugins/server/pip.ts");
const { createContext } = await import("../../core/context.ts");
const { resolveLayout } = await import("../../core/layout.ts");
const { createLogger } = await import("../../core/log.ts");

const pip = await runCommand(["echo", "pip"]);
const ctx = createContext({
  layout: resolveLayout(dir),
  options: { dryRun: true } as never, // the context reads only dryRun from the options
  log: createLogger(() => {}),
  signal: new AbortController().signal,
  session: () => null,
  evidence: () => undefined,
  plan: () => null,
});
const shell = await ctx.$`echo ctx`;
if (flag === "--import-zx") await import("zx");
await import(SENTINEL);
await seen;
port1.close();

const cjs = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes("/node_modules/zx/")).map((k) => k.split("/node_modules/zx/")[1]);
console.log(JSON.stringify({ esm, cjs, pip: { exitCode: pip.exitCode, stdout: pip.stdout }, ctx: shell.stdout }));
