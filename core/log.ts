/** Log events as a typed union; every renderer handles each kind (see render.ts). */
import type { Finding, UpgradeResult } from "./types.ts";
import type { Phase } from "./phases.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";

export type LogEvent =
  | { type: "log"; level: LogLevel; message: string; data?: Record<string, unknown> }
  | { type: "phase-start"; phase: Phase; name: string }
  | { type: "phase-end"; phase: Phase; name: string; status: "completed" | "failed" | "skipped" | "aborted"; duration_ms: number; reason?: string }
  | { type: "progress"; label: string; done: number; total: number }
  | { type: "finding"; finding: Finding }
  | { type: "result"; result: UpgradeResult };

export interface Logger {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
  progress(label: string, done: number, total: number): void;
  emit(event: LogEvent): void;
}

export function createLogger(emit: (event: LogEvent) => void): Logger {
  const at = (level: LogLevel) => (message: string, data?: Record<string, unknown>) =>
    emit({ type: "log", level, message, data });
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    progress: (label, done, total) => emit({ type: "progress", label, done, total }),
    emit,
  };
}
