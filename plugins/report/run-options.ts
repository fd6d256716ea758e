/** The report plugin's run options: what the record says of the runtime. */
import { declareOptions, optionsReader } from "../../core/options.ts";

export const REPORT_RUN_OPTIONS = declareOptions({
  // `upgrade --ci` sets it (app/options.ts), with the other options of its preset.
  runtimePending: {
    kind: "boolean",
    default: false,
    describe: "record the runtime as pending (VERSION.txt runtime=pending): the venv and the running server are left for each teammate to bring up to date (set by --ci)",
    flag: "--runtime-pending",
    mcp: "runtime_pending",
    resumable: true,
  },
});

export const reportRunOptions = optionsReader(REPORT_RUN_OPTIONS);
