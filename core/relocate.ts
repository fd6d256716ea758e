/**
 * A migration's folder move (`migrate`: `.agent-os/` → `.praxis-os/`), the engine's own step.
 * It is one rename, the first write of phase 1: the lock, the session file and every backup
 * live inside the folder and move with it, and every later path is derived from the new
 * folder (the layout object is updated in place, so the context, the lock and the plugins see
 * it). A rollback renames the folder back before the plugins restore anything, so their
 * records (all relative to the folder) apply unchanged, and the session ends where the next
 * command looks for it. A crash leaves the folder under one of its two names: that name is
 * the record of whether the rename happened.
 */
import fs from "node:fs";
import { fsyncDir } from "./atomic.ts";
import { UpgradeError } from "./errors.ts";
import { isDir, type Layout, layoutOf, relocationIn } from "./layout.ts";
import { type SessionState, StateStore } from "./state.ts";

/** What the move changes: the run's layout (shared by the context, the lock, the plugins) and its session store. */
export interface Relocatable {
  layout: Layout;
  store: StateStore;
}

/** The same project with its installation folder at `dir` (the relocation kept). */
function switchTo(e: Relocatable, dir: string): void {
  const relocation = e.layout.relocation;
  Object.assign(e.layout, layoutOf(e.layout.projectRoot, dir), { relocation });
  e.store = new StateStore(e.layout.stateDir);
}

/** Whether a session is a migration's (its options say so). */
export const isMigration = (state: SessionState | null | undefined): boolean =>
  (state?.options as { migrate?: unknown } | undefined)?.migrate === true;

/** Marks a migration's layout: where its folder comes from and goes to. */
export function planRelocation(layout: Layout): void {
  layout.relocation = relocationIn(layout.projectRoot);
}

/** Phase 1's first step in a migration: the rename, unless a resumed run already made it. */
export function moveInstall(e: Relocatable): boolean {
  const { layout } = e;
  const r = layout.relocation;
  if (!r || layout.installDir === r.to) return false;
  if (fs.existsSync(r.to)) {
    throw new UpgradeError("PREFLIGHT_FAILED", `Cannot move ${r.from} to ${r.to}: that folder appeared since pre-flight`, {
      hint: `Move ${r.to} aside, then run the migration again; nothing was changed`,
    });
  }
  fs.renameSync(r.from, r.to);
  fsyncDir(layout.projectRoot);
  switchTo(e, r.to);
  return true;
}

/**
 * Before a migration's rollback: the folder back at its old name (the plugins then restore
 * into it). Nothing to do when the rename never happened, or was already undone.
 */
export function moveBack(e: Relocatable, state: SessionState | null): boolean {
  const { layout } = e;
  if (!isMigration(state)) return false;
  const r = layout.relocation ?? relocationIn(layout.projectRoot);
  layout.relocation = r;
  if (layout.installDir !== r.to || !isDir(r.to)) return false;
  if (fs.existsSync(r.from)) {
    throw new UpgradeError("ROLLBACK_FAILED", `Cannot move ${r.to} back to ${r.from}: a folder of that name exists`, {
      hint: `Move ${r.from} aside, then run \`agent-os-upgrade rollback\` again`,
      details: { nothing_changed: true },
    });
  }
  fs.renameSync(r.to, r.from);
  fsyncDir(layout.projectRoot);
  switchTo(e, r.from);
  return true;
}
