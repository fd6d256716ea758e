/** The deps plugin's run options. */
import { declareOptions, optionsReader } from "../../core/options.ts";

export const DEPS_RUN_OPTIONS = declareOptions({
  skipDeps: {
    kind: "boolean",
    default: false,
    describe: "do not install Python dependencies",
    flag: "--skip-deps",
    mcp: "skip_deps",
    config: true,
    resumable: true,
  },
});

export const depsRunOptions = optionsReader(DEPS_RUN_OPTIONS);
