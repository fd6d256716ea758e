/**
 * The progress line on a terminal: log-update rewrites it in place on stderr (stdout keeps
 * the lines a person or a script reads). Loaded only when a run renders for a person.
 */
import { createLogUpdate } from "log-update";
import type { ProgressView } from "./render.ts";

export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): ProgressView {
  // The cursor stays visible: a conflict prompt may follow.
  const line = createLogUpdate(stream, { showCursor: true });
  return {
    update: (text) => line(text),
    clear: () => line.clear(),
  };
}
