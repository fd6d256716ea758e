/**
 * One error family for the whole tool. Every failure a user can meet has a code from this
 * sorted union, a message in the form "Cannot <action>: <state>" where it fits, and a hint
 * that says what to do. Errors thrown inside a plugin tap carry the plugin and hook names.
 */

/** The error codes, sorted. Adding one forces an entry in EXIT_CODE_OF below. */
export type ErrorCode =
  | "BACKUP_FAILED"
  | "BACKUP_INVALID"
  | "CONFIG_INVALID"
  | "CONFIG_LOAD_FAILED"
  | "CONFIRMATION_NEEDED"
  | "CONFLICTS_UNRESOLVED"
  | "CONTENT_FAILED"
  | "DRY_RUN_WRITE"
  | "GATE_FAILED"
  | "INTERNAL"
  | "INTERRUPTED"
  | "LOCK_HELD"
  | "LOCK_NOT_OWNER"
  | "NO_SESSION"
  | "PLUGIN_DUPLICATE"
  | "PLUGIN_ERROR"
  | "PREFLIGHT_FAILED"
  | "ROLLBACK_FAILED"
  | "SERVER_FAILED"
  | "SESSION_STATE"
  | "STATE_CORRUPT"
  | "STATE_WRITE_FAILED"
  | "USAGE"
  | "VALIDATION_FAILED";

/** Documented process exit codes (README "Exit codes"). */
export const EXIT = Object.freeze({
  /** The command did what it was asked. */
  ok: 0,
  /** An unexpected failure outside phases 2–4 (nothing to roll back, or nothing changed); a dry run that wrote (DRY_RUN_WRITE). */
  failed: 1,
  /** Unknown command, unknown flag or bad flag value. */
  usage: 2,
  /** The config file cannot be loaded or is invalid. */
  config: 3,
  /** Pre-flight refused the upgrade; nothing was written. */
  preflight: 4,
  /** Another live upgrade holds the lock (or a foreign lock is present). */
  lockHeld: 5,
  /** Conflicts need a decision (pass --on-conflict or run on a terminal); nothing was written. */
  conflicts: 6,
  /** The upgrade failed in phase 2, 3 or 4 and was rolled back exactly. */
  rolledBack: 7,
  /** The rollback itself could not finish; the message says what remains. */
  rollbackFailed: 8,
  /** A state file is corrupt, or the named session cannot be resumed. */
  state: 9,
  /** A manual rollback would discard changes made since the upgrade: confirm with --yes (or on a terminal). */
  confirm: 10,
});

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const EXIT_CODE_OF: Record<ErrorCode, ExitCode> = {
  BACKUP_FAILED: EXIT.failed,
  BACKUP_INVALID: EXIT.failed,
  CONFIG_INVALID: EXIT.config,
  CONFIG_LOAD_FAILED: EXIT.config,
  CONFIRMATION_NEEDED: EXIT.confirm,
  CONFLICTS_UNRESOLVED: EXIT.conflicts,
  CONTENT_FAILED: EXIT.failed,
  DRY_RUN_WRITE: EXIT.failed,
  GATE_FAILED: EXIT.failed,
  INTERNAL: EXIT.failed,
  INTERRUPTED: EXIT.failed,
  LOCK_HELD: EXIT.lockHeld,
  LOCK_NOT_OWNER: EXIT.lockHeld,
  NO_SESSION: EXIT.state,
  PLUGIN_DUPLICATE: EXIT.config,
  PLUGIN_ERROR: EXIT.failed,
  PREFLIGHT_FAILED: EXIT.preflight,
  ROLLBACK_FAILED: EXIT.rollbackFailed,
  SERVER_FAILED: EXIT.failed,
  SESSION_STATE: EXIT.state,
  STATE_CORRUPT: EXIT.state,
  STATE_WRITE_FAILED: EXIT.failed,
  USAGE: EXIT.usage,
  VALIDATION_FAILED: EXIT.failed,
};

export interface UpgradeErrorOptions {
  hint?: string;
  plugin?: string;
  hook?: string;
  details?: unknown;
  cause?: unknown;
}

const BRAND = Symbol.for("agent-os-upgrade.UpgradeError");

export class UpgradeError extends Error {
  readonly code: ErrorCode;
  /** A brand, not instanceof: a config loaded through jiti gets its own copy of this class. */
  readonly [BRAND] = true;
  hint?: string;
  plugin?: string;
  hook?: string;
  details?: unknown;

  constructor(code: ErrorCode, message: string, options: UpgradeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "UpgradeError";
    this.code = code;
    this.hint = options.hint;
    this.plugin = options.plugin;
    this.hook = options.hook;
    this.details = options.details;
  }

  get exitCode(): ExitCode {
    return EXIT_CODE_OF[this.code];
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      hint: this.hint,
      plugin: this.plugin,
      hook: this.hook,
      details: this.details,
    };
  }
}

/** Turns anything thrown (tapable passes non-Error rejections through as-is) into an UpgradeError. */
export function isUpgradeError(err: unknown): err is UpgradeError {
  return typeof err === "object" && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
}

export function toUpgradeError(err: unknown, fallback: ErrorCode = "INTERNAL"): UpgradeError {
  if (isUpgradeError(err)) return err;
  if (err instanceof Error) {
    const e = new UpgradeError(fallback, err.message, { cause: err });
    e.stack = err.stack;
    return e;
  }
  return new UpgradeError(fallback, typeof err === "string" ? err : JSON.stringify(err) ?? String(err));
}

/** Tags an error from a plugin tap with its plugin and hook, keeping a code it already had. */
export function tagPluginError(err: unknown, plugin: string, hook: string): UpgradeError {
  const e = toUpgradeError(err, "PLUGIN_ERROR");
  if (e.plugin === undefined) {
    e.plugin = plugin;
    e.hook = hook;
    e.message = `Plugin "${plugin}" failed in hook "${hook}": ${e.message}`;
  }
  return e;
}
