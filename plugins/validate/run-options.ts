/** The validate plugin's run options. */
import { declareOptions, optionsReader } from "../../core/options.ts";

export const VALIDATE_RUN_OPTIONS = declareOptions({
  noValidate: {
    kind: "boolean",
    default: false,
    describe: "do not check the new MCP server (the result says \"not validated\")",
    flag: "--no-validate",
    mcp: "no_validate",
    config: true,
    resumable: true,
  },
});

export const validateRunOptions = optionsReader(VALIDATE_RUN_OPTIONS);
