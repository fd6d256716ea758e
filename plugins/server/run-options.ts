/** The server plugin's run options. */
import { declareOptions, optionsReader } from "../../core/options.ts";

export const SERVER_RUN_OPTIONS = declareOptions({
  restart: {
    kind: "boolean",
    default: true,
    describe: "restart (or ask the IDE to reload) the MCP server after the upgrade",
    flag: "--no-restart",
    flagHelp: "do not restart the MCP server",
    mcp: "restart",
    config: true,
    resumable: true,
  },
});

export const serverRunOptions = optionsReader(SERVER_RUN_OPTIONS);
