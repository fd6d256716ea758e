/** The pre-flight plugin's run options. */
import { declareOptions, optionsReader } from "../../core/options.ts";

export const PREFLIGHT_RUN_OPTIONS = declareOptions({
  allowDowngrade: {
    kind: "boolean",
    default: false,
    describe: "install a source commit older than (or not after) the installed one; the plan shows it as a downgrade",
    flag: "--allow-downgrade",
    mcp: "allow_downgrade",
    config: true,
    resumable: true,
  },
});

export const preflightRunOptions = optionsReader(PREFLIGHT_RUN_OPTIONS);
