/** The backup plugin's run options: retention. */
import { declareOptions, optionsReader } from "../../core/options.ts";

export const BACKUP_RUN_OPTIONS = declareOptions({
  keepBackups: {
    kind: "count",
    default: 3,
    describe: "backups to keep",
    flag: "--keep-backups <n>",
    mcp: "keep_backups",
    config: true,
  },
});

export const backupRunOptions = optionsReader(BACKUP_RUN_OPTIONS);
