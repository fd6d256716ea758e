/** The content plugin's run options: how conflicts are decided, the base's commit, the dry run's diffs. */
import { declareOptions, optionsReader } from "../../core/options.ts";
import { CONFLICT_POLICIES } from "../../core/types.ts";

export const CONTENT_RUN_OPTIONS = declareOptions({
  onConflict: {
    kind: "choice",
    choices: CONFLICT_POLICIES,
    default: null,
    describe: "how to resolve conflicts",
    flag: "--on-conflict <policy>",
    mcp: "on_conflict",
    config: true,
  },
  decisions: {
    kind: "decisions",
    default: undefined,
    describe: "JSON file: a conflict decision per path of the plan ({\"path\": \"merge\"})",
    flag: "--decisions <file>",
    mcp: "decisions",
  },
  from: {
    kind: "string",
    default: null,
    describe: "the installed source commit, when the install does not record it",
    flag: "--from <ref>",
    mcp: "from",
  },
  diff: {
    kind: "boolean",
    default: false,
    describe: "with --dry-run: print unified diffs",
    flag: "--diff",
    mcp: "diff",
    dryRunOnly: true,
  },
});

/** The content options of this run (other plugins read `from` through this too). */
export const contentRunOptions = optionsReader(CONTENT_RUN_OPTIONS);
