/**
 * Sources the tool can trust (issue 22): the source's layout is the installation's, its
 * history holds the installed commit, and it does not go back in time. Each refusal names
 * the fix, and the run writes nothing: a source that cannot explain the installation would
 * otherwise "upgrade" by keeping every file as a local edit, and record a commit whose
 * content it never installed.
 */
import fs from "node:fs";
import path from "node:path";
import type { EvidenceDraft } from "../../core/evidence.ts";
import type { Findings, UpgradeContext } from "../../core/types.ts";
import { ContentBase } from "../content/channel.ts";
import { runGit } from "../content/gitobj.ts";
import { runLayouts } from "../layouts/detect.ts";
import { LAYOUTS } from "../layouts.ts";
import { preflightRunOptions } from "./run-options.ts";

const short = (sha: string) => sha.slice(0, 12);

/** The source's layout against the installation's: a different one is a migration, not an upgrade. */
export function checkLayouts(ctx: UpgradeContext, f: Findings, ev: EvidenceDraft<0>): void {
  const { source, install, mismatch } = runLayouts(ctx);
  ev.source_layout = source?.layout.id ?? null;
  ev.install_layout = install?.layout.id ?? null;
  if (ctx.layout.relocation) return checkMigration(ctx, f);
  if (!mismatch) return;
  const from = install!.layout;
  const to = source!.layout;
  // Moving an installation between layouts is a migration (issue 23), not something an upgrade may half-do.
  const migrates = LAYOUTS.filter((l) => l.migratesFrom.includes(from.id)).map((l) => l.id);
  const way = to.migratesFrom.includes(from.id)
    ? `To move the installation to ${to.id}, run \`agent-os-upgrade migrate --source ${ctx.options.source}\` (--dry-run first shows every change); to upgrade it as it is, use a source of its layout (${from.id})`
    : `Use a source of the installation's layout (${from.id}), or keep the installation as it is${migrates.length ? `; \`agent-os-upgrade migrate\` moves it to ${migrates.join(", ")} only (not to ${to.id} yet)` : ""}`;
  f.error("LAYOUT_MISMATCH", `The source is ${to.id} (${source!.why}) but the installation ${ctx.layout.installDir} is ${from.id} (${install!.why}): an upgrade would leave a mixed install`, `${way}; nothing was written`);
}

/**
 * `migrate`: an `.agent-os/` installation of agent-os-enhanced, no `.praxis-os/` beside it,
 * and a source of a later layout of the same lineage (the history check then proves the
 * lineage: the installed commit must be in the source's history).
 */
function checkMigration(ctx: UpgradeContext, f: Findings): void {
  const { source, install } = runLayouts(ctx);
  const r = ctx.layout.relocation!;
  if (ctx.layout.installDir !== r.from) {
    f.error("MIGRATE_NOT_NEEDED", `Cannot migrate ${ctx.layout.installDir}: it is already a .praxis-os installation`, `Upgrade it instead: agent-os-upgrade --source ${ctx.options.source ?? "<praxis-os clone>"}; nothing was written`);
    return;
  }
  if (fs.existsSync(r.to)) {
    f.error("MIGRATE_BOTH_FOLDERS", `Cannot migrate: ${r.to} already exists beside ${r.from}`, `Move ${r.to} aside (or remove it if it is a stale copy), then run the migration again; nothing was written`);
  }
  if (!source || !install) return; // pre-flight's own checks name a missing source or installation
  if (source.layout.generation <= install.layout.generation || source.layout.installDir !== path.basename(r.to)) {
    f.error("MIGRATE_SOURCE", `Cannot migrate to the source ${ctx.options.source}: it is ${source.layout.id} (${source.why}), not a later layout than the installation's ${install.layout.id}`, "Use a clone of praxis-os (with its full history) as --source; nothing was written");
  } else if (!source.layout.migratesFrom.includes(install.layout.id)) {
    const to = LAYOUTS.filter((l) => l.migratesFrom.includes(install.layout.id)).map((l) => l.id).join(", ");
    f.error("MIGRATE_SOURCE", `Cannot migrate ${install.layout.id} to ${source.layout.id} (${source.why}): this version migrates it to ${to} only`, `In the praxis-os clone, check out a commit of that layout (before its dist/ rewrite: git -C "${ctx.options.source}" log -- mcp_server), then migrate; nothing was written`);
  }
}

async function git(src: string, args: string[], signal?: AbortSignal): Promise<{ ok: boolean; out: string }> {
  const r = await runGit(["-C", src, ...args], { signal });
  return { ok: r.code === 0, out: r.stdout.toString("utf8").trim() };
}

/**
 * The installed commit (from the record, VERSION.txt or --from, as pre-flight read it) must
 * be in the source's history, and before the source's commit unless a downgrade is allowed.
 * A shallow clone is refused whatever the record says: it cannot hold the installed commit
 * (nor, without one, the history base inference needs).
 */
export async function checkHistory(ctx: UpgradeContext, f: Findings, ev: EvidenceDraft<0>): Promise<void> {
  const src = ctx.options.source!;
  const target = ev.source_commit as string | undefined;
  const installed = typeof ev.from_commit === "string" ? ev.from_commit : null;
  const shallow = await git(src, ["rev-parse", "--is-shallow-repository"], ctx.signal);
  if (shallow.out === "true") {
    f.error("SOURCE_SHALLOW", `Source ${src} is a shallow clone: its history cannot show what was installed, so every file would look edited and be kept`, `Fetch its whole history (git -C "${src}" fetch --unshallow), then run again; nothing was written`);
    return;
  }
  if (!installed || !target) return;
  const known = await git(src, ["rev-parse", "--verify", "--quiet", `${installed}^{commit}`], ctx.signal);
  if (!known.ok) {
    f.error("SOURCE_HISTORY", `The installed commit ${installed} is not in the history of source ${src} (another repository, or a fork that lacks it)`, "Use a clone of the repository that commit came from (with its full history), or pass --from <the source commit that was installed>; nothing was written");
    return;
  }
  if (known.out === target) return;
  await checkDirection(ctx, f, ev, known.out, target);
}

async function checkDirection(ctx: UpgradeContext, f: Findings, ev: EvidenceDraft<0>, installed: string, target: string): Promise<void> {
  const src = ctx.options.source!;
  const forward = await git(src, ["merge-base", "--is-ancestor", installed, target], ctx.signal);
  if (forward.ok) return;
  const back = await git(src, ["merge-base", "--is-ancestor", target, installed], ctx.signal);
  const what = back.ok
    ? `older than the installed commit ${short(installed)}: this is a downgrade`
    : `not a later commit of the installed ${short(installed)} (their histories diverged)`;
  ev.downgrade = true;
  if (preflightRunOptions(ctx).allowDowngrade) {
    f.warn("DOWNGRADE", `The source commit ${short(target)} is ${what}; --allow-downgrade: the plan installs it`, "Check the plan (--dry-run) before running it");
    return;
  }
  f.error("DOWNGRADE", `The source commit ${short(target)} is ${what}`, "Check out a later commit in the source, or pass --allow-downgrade to install it anyway (the plan shows what goes back); nothing was written");
}

/** Below this share of installed files matching any upstream version, an inferred base is a guess. */
const WEAK_SHARE = 0.5;
/** Fewer files than this cannot tell a weak history from a small install of mostly the user's own files. */
const WEAK_MIN_FILES = 10;

/**
 * An installed commit inferred from a history that explains few of the installed files is a
 * guess (a fork, another repository, a history cut short): every file it cannot explain would
 * be kept as a local edit. Refused, with the two ways out; `--from` skips inference.
 */
export function checkInferredBase(ctx: UpgradeContext, f: Findings): void {
  const base = ctx.channels.get(ContentBase);
  // A migration moves an installation along its own lineage: a source whose history explains none of it is another project.
  if (ctx.layout.relocation && base?.kind === "none") {
    f.error("MIGRATE_SOURCE", `Cannot migrate to the source ${ctx.options.source}: its history holds no version of the installed files, so it is not a later release of the installation's lineage`, "Use a clone of praxis-os with its full history (it shares agent-os-enhanced's up to its rename) as --source, or pass --from <the installed commit> if that clone has it; nothing was written");
    return;
  }
  const inf = base?.via === "inferred" ? base.inference : undefined;
  if (!inf || inf.total < WEAK_MIN_FILES || inf.unedited / inf.total >= WEAK_SHARE) return;
  f.error(
    "BASE_WEAK",
    `The source's history explains only ${inf.unedited} of the ${inf.total} installed files (no other upstream version matches the rest): the installed commit would be a guess (${String(base!.commit ?? base!.ref).slice(0, 12)})`,
    "Pass --from <the source commit that was installed>, or use a clone of the repository the installation came from, with its full history; nothing was written",
  );
}
