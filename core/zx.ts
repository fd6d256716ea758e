/**
 * zx, loaded once, on first use, through its CommonJS build: the one way the project loads
 * it at run time (`ctx.$`, and pip in plugins/server/pip.ts). Loading costs ~0.15 s, so a
 * command that never shells out (rollback, a resume past phase 0) does not pay it; the
 * CommonJS build loads synchronously, so `ctx.$` stays a plain property read. zx's ESM entry
 * wraps the same CommonJS build, so an `import("zx")` next to this would load no second copy,
 * but it would pay its own wrapper and export scan again (~40 ms on Node).
 */
import { createRequire } from "node:module";

type Zx = typeof import("zx");

let zx: Zx | undefined;

export function loadZx(): Zx {
  zx ??= createRequire(import.meta.url)("zx") as Zx;
  return zx;
}
