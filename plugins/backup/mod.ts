/**
 * Backups as a library: what the `backups list | verify | prune` commands call, and the
 * building blocks of the backup plugin (`plugins/backup.ts`).
 */
export { backupDirOf, listBackups, type BackupInfo, pruneBackups, type PruneResult, readManifestHead, sweepBackups, verifyBackup } from "./retention.ts";
export { createSnapshot, type SnapshotOptions, type SnapshotResult } from "./snapshot.ts";
export { planRestore, restoreSnapshot, type RestoreOptions, type RestoreReport } from "./restore.ts";
export { describeProblems, type VerifyMode, type VerifyProblem, type VerifyReport, verifySnapshot } from "./verify.ts";
export { backupState, type BackupState, type Entry, type Manifest, MANIFEST, readManifest } from "./manifest.ts";
export { DEFAULT_INSTALL_PATHS, DEFAULT_PROJECT_PATHS, PROTECTED_PATHS, resolveRoots, type Root } from "./roots.ts";
export { claimBackupDir, compareIdsDesc, isBackupId, stampOf } from "./names.ts";
