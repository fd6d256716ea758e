/** `unlock`, `init` and `demo`: small commands that need neither the engine nor the plugins. */
import fs from "node:fs";
import path from "node:path";
import { UpgradeError } from "../../core/errors.ts";
import { resolveLayout } from "../../core/layout.ts";
import { describeLock, forceUnlock, readLock } from "../../core/lock.ts";
import type { Sink } from "../render.ts";
import { STARTER_CONFIG } from "../starter-config.ts";

export function unlockCommand(target: string, force: boolean, json: boolean, sink: Sink): void {
  const layout = resolveLayout(target);
  const st = readLock(layout);
  if (st.kind === "absent") {
    sink.out(json ? JSON.stringify({ type: "result", schema_version: 1, command: "unlock", lock: st, removed: false }) : "No lock: nothing to do");
    return;
  }
  if (!force) {
    throw new UpgradeError("LOCK_HELD", `The lock is held: ${describeLock(st)}`, {
      hint: st.kind === "held" && st.proven
        ? `Wait for that upgrade to finish, or stop it (\`kill ${st.info.pid}\`: it rolls back)`
        : st.kind === "held"
        ? `Wait for that upgrade to finish; if pid ${st.info.pid} is not an upgrade, \`agent-os-upgrade unlock --force\` removes the lock`
        : "Run `agent-os-upgrade unlock --force` to remove it (or resume / rollback the session)",
    });
  }
  const removed = forceUnlock(layout);
  sink.out(json ? JSON.stringify({ type: "result", schema_version: 1, command: "unlock", lock: removed, removed: true }) : `Removed the lock: ${describeLock(removed)}`);
}

export function initCommand(target: string, force: boolean, sink: Sink): void {
  const layout = resolveLayout(target);
  const file = path.join(layout.projectRoot, "upgrade.config.ts");
  if (fs.existsSync(file) && !force) {
    throw new UpgradeError("USAGE", `Cannot write ${file}: it already exists`, { hint: "Pass --force to overwrite it" });
  }
  fs.writeFileSync(file, STARTER_CONFIG);
  sink.out(`Wrote ${file}`);
}

export async function demoCommand(keep: boolean, sink: Sink, layout?: "agent-os-enhanced" | "praxis-os-dist"): Promise<number> {
  // Loaded on demand: only the demo needs its kit (fixture server, wheels, venv). Not a
  // literal specifier, so that Deno does not read the demo's modules for `unlock` (see cli.ts).
  const spec = "../../demo/run.ts";
  const { runDemo } = (await import(spec)) as typeof import("../../demo/run.ts");
  return await runDemo({ sink, keep, layout });
}
