/** The report plugin's run options: what the record says of the runtime. */
import { declareOptions, optionsReader } from "../../core/options.ts";

export const REPORT_RUN_OPTIONS = declareOptions({
  // No flag of its own: `upgrade --ci` sets it (app/options.ts), with the other CI presets.
  runtimePending: {
    kind: "boolean",
    default: false,
    describe: "record the runtime as pending (VERSION.txt runtime=pending): the venv and the running server were left as they were",
    resumable: true,
  },
});

export const reportRunOptions = optionsReader(REPORT_RUN_OPTIONS);
