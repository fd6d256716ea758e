/**
 * `agent-os-upgrade mcp [--target <dir>] [--read-only]`: the upgrade as MCP tools over stdio,
 * built on the SDK's McpServer. Stdout is the protocol: everything else goes to stderr.
 * `--read-only` registers only the tools that read (plan, status, backups).
 */
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/server/mcp.d.ts"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/server/stdio.d.ts"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { resolveLayout } from "../../core/layout.ts";
import { PROMPT_NAME, promptArgs, promptText, readOnlyPromptText } from "./prompt.ts";
import { sweepRunFolders } from "./runner.ts";
import { errorText, type ToolContext, TOOLS } from "./tools.ts";

export interface McpServerOptions {
  /** The project root (or its `.agent-os` folder). */
  target: string;
  readOnly: boolean;
  version: string;
}

/** The part of the SDK's request context a tool call uses. */
interface CallExtra {
  _meta?: { progressToken?: string | number };
  signal: AbortSignal;
  sendNotification(n: { method: "notifications/progress"; params: { progressToken: string | number; progress: number; message?: string } }): Promise<void>;
}

const log = (line: string) => process.stderr.write(`[agent-os-upgrade mcp] ${line}\n`);

/** Builds the server with its tools and prompt (not connected). */
export function buildMcpServer(opts: McpServerOptions): McpServer {
  const server = new McpServer(
    { name: "agent-os-upgrade", version: opts.version },
    { instructions: "Upgrades this project's Agent OS installation safely (plan, backup, three-way content upgrade, server upgrade, validation, automatic rollback). Start with the upgrade-agent-os prompt or upgrade_status." },
  );
  // Resolved at each use: a migration renames the installation folder between two calls.
  const ctx: ToolContext = {
    get layout() {
      return resolveLayout(opts.target);
    },
    target: opts.target,
    log,
  };
  for (const tool of TOOLS) {
    if (opts.readOnly && !tool.readOnly) continue;
    server.registerTool(tool.name, {
      title: tool.title,
      description: tool.description,
      inputSchema: tool.input,
      outputSchema: tool.output,
      annotations: { readOnlyHint: tool.readOnly, destructiveHint: !tool.readOnly, openWorldHint: false },
    }, async (args: Record<string, unknown>, extra: CallExtra) => {
      const token = extra._meta?.progressToken;
      let step = 0;
      const progress = (message: string) => {
        log(`${tool.name}: ${message}`);
        if (token === undefined) return;
        step++;
        extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: step, message } }).catch(() => {});
      };
      try {
        const { data, text } = await tool.handle(args, ctx, { progress, signal: extra.signal });
        // The JSON in text as well, as the MCP spec advises: a client may show the model only the text.
        return { content: [{ type: "text" as const, text }, { type: "text" as const, text: JSON.stringify(data) }], structuredContent: data as Record<string, unknown> };
      } catch (err) {
        const text = errorText(err);
        log(`${tool.name} failed: ${text.split("\n")[0]}`);
        return { content: [{ type: "text" as const, text }], isError: true };
      }
    });
  }
  server.registerPrompt(PROMPT_NAME, {
    title: "Upgrade Agent OS",
    description: opts.readOnly
      ? "How to show what an Agent OS upgrade would do with this read-only server's tools: status, plan (with three-way views of conflicts), backups"
      : "How to run an Agent OS upgrade with these tools: plan, show the conflicts, ask, start with decisions, report, offer rollback",
    argsSchema: promptArgs,
  }, ({ source }) => ({
    messages: [{ role: "user" as const, content: { type: "text" as const, text: opts.readOnly ? readOnlyPromptText(source) : promptText(source) } }],
  }));
  return server;
}

/** Serves over stdio until the client closes stdin; returns the exit code. */
export async function runMcpServer(opts: McpServerOptions): Promise<number> {
  // A plugin's stray console.log would corrupt the protocol on stdout.
  console.log = console.error;
  console.info = console.error;
  for (const dir of sweepRunFolders(opts.target)) log(`removed the folder of an ended run: ${dir}`);
  const server = buildMcpServer(opts);
  const closed = new Promise<void>((resolve) => {
    server.server.onclose = () => resolve();
  });
  const transport = new StdioServerTransport();
  await server.connect(transport);
  log(`serving ${opts.target}${opts.readOnly ? " (read-only)" : ""}`);
  // The SDK's transport does not notice the end of stdin; the client closing it means goodbye.
  process.stdin.once("end", () => void server.close());
  await closed;
  return 0;
}
