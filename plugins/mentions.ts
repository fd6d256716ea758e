/**
 * A migration's mentions (issue 23): the agents' instruction files (`.cursorrules`,
 * `CLAUDE.md`, …) and the user's own specs and standards that name the old folder
 * (`.agent-os/…`) or old tool names (`aos_*`). Each is shown as a diff in the plan and
 * rewritten only on a decision, per file, never silently:
 *
 *   `--decisions` (or the MCP `decisions`) with the file's key as the plan lists it:
 *   `theirs` or `merge` rewrites it, `keep` or `skip` leaves it, `abort` stops the run;
 *   else `--yes` rewrites every one; else a person at a terminal is asked, file by file;
 *   else pre-flight refuses, naming the files (nothing written).
 *
 *   preflight   finds them (read-only) and claims their keys in `--decisions`
 *   planContent decides; the plan lists each with its diff
 *   migrate     phase 3: rewrites the decided ones (backed up in phase 1, restored on rollback)
 */
import fs from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "../core/atomic.ts";
import { defineChannel } from "../core/channel.ts";
import { UpgradeError } from "../core/errors.ts";
import { definePlugin } from "../core/plugin.ts";
import type { Findings, UpgradeContext } from "../core/types.ts";
import { backupScope } from "./backup/scope.ts";
import { claimDecisionKeys } from "./content/channel.ts";
import { contentRunOptions } from "./content/run-options.ts";
import { activeLayout, migratedFrom } from "./layouts/detect.ts";
import { findMentions, type Mention, type Rename } from "./mentions/scan.ts";
import { allowUserFileChange } from "./user-files.ts";

export const PLUGIN_NAME = "mentions";

export interface PlannedMention {
  file: string;
  lines: number;
  decision: "rewrite" | "keep" | null;
  by: string | null;
  diff: string;
}

/** This run's mentions: found in pre-flight (or on a resumed run's first use), decided in the plan. */
const Found = defineChannel<{ all: Mention[]; decided: Map<string, PlannedMention> }>("mentions.found");

/** The migration's renames, or null in an upgrade. */
function renameOf(ctx: UpgradeContext): Rename | null {
  const from = migratedFrom(ctx);
  if (!from) return null;
  const to = activeLayout(ctx);
  return { fromDir: from.installDir, toDir: path.basename(ctx.layout.relocation!.to), fromPrefix: from.toolPrefix, toPrefix: to.toolPrefix, tools: to.toolRenames };
}

function found(ctx: UpgradeContext): { all: Mention[]; decided: Map<string, PlannedMention> } | null {
  const rename = renameOf(ctx);
  if (!rename || !ctx.layout.installExists) return null;
  return ctx.channels.ensure(Found, () => ({ all: findMentions(ctx.layout.projectRoot, ctx.layout.installDir, rename), decided: new Map() }));
}

const DECIDES: Readonly<Record<string, "rewrite" | "keep" | "abort">> = { theirs: "rewrite", merge: "rewrite", keep: "keep", skip: "keep", abort: "abort" };

/** The decision for one file, before asking anyone. */
function staticDecision(ctx: UpgradeContext, key: string): { decision: "rewrite" | "keep" | "abort"; by: string } | null {
  const given = contentRunOptions(ctx).decisions?.[key];
  if (given) return { decision: DECIDES[given], by: "decision" };
  if (ctx.options.yes) return { decision: "rewrite", by: "--yes" };
  return null;
}

async function ask(m: Mention, diff: string): Promise<"rewrite" | "keep"> {
  process.stdout.write(`\n${diff}\n`);
  const { confirm } = await import("@inquirer/prompts");
  return await confirm({ message: `${m.key} names ${m.lines} line${m.lines === 1 ? "" : "s"} of the old installation: rewrite it as shown?`, default: true }) ? "rewrite" : "keep";
}

async function decideAll(ctx: UpgradeContext, findings: Findings): Promise<PlannedMention[]> {
  const f = found(ctx);
  if (!f) return [];
  const { createTwoFilesPatch } = await import("diff");
  const out: PlannedMention[] = [];
  for (const m of f.all) {
    const diff = createTwoFilesPatch(`a/${m.key}`, `b/${m.key}`, m.text, m.next, "now", "migrated");
    let d = staticDecision(ctx, m.key);
    if (d?.decision === "abort") throw new UpgradeError("CONFLICTS_UNRESOLVED", `Aborted by the decision for ${m.key}; nothing was changed`, { hint: "Run the migration again when ready" });
    if (!d && ctx.options.interactive && !ctx.dryRun) d = { decision: await ask(m, diff), by: "prompt" };
    const p: PlannedMention = { file: m.key, lines: m.lines, decision: (d?.decision as "rewrite" | "keep" | undefined) ?? null, by: d?.by ?? null, diff };
    f.decided.set(m.key, p);
    out.push(p);
  }
  const open = out.filter((p) => !p.decision).map((p) => p.file);
  if (open.length && !ctx.dryRun) {
    findings.error("MENTIONS_UNDECIDED", `Cannot migrate without a decision for ${open.length} file${open.length === 1 ? "" : "s"} that name the old installation: ${open.join(", ")}`, `Pass --yes to rewrite them as the plan shows (--dry-run), or --decisions <file> with {"<file>": "theirs"} to rewrite or "keep" to leave each one; nothing was written`);
  }
  return out;
}

function absOf(ctx: UpgradeContext, m: Mention): string {
  return m.where === "project" ? path.join(ctx.layout.projectRoot, m.rel) : path.join(ctx.layout.installDir, m.rel);
}

/**
 * A file's decision: this run's (made in pre-flight, asked or given), else the one pre-flight
 * recorded for a resumed session (phase 0's evidence), else what the options say.
 */
function decisionOf(ctx: UpgradeContext, key: string): "rewrite" | "keep" | null {
  const mine = ctx.channels.get(Found)?.decided.get(key);
  if (mine) return mine.decision;
  const recorded = (ctx.evidence(0, PLUGIN_NAME)?.mention_decisions as Record<string, "rewrite" | "keep" | null> | undefined)?.[key];
  if (recorded !== undefined) return recorded;
  const d = staticDecision(ctx, key)?.decision;
  return d === "abort" ? null : d ?? null;
}

/** The files phase 3 will rewrite: decided `rewrite`. */
function toRewrite(ctx: UpgradeContext): Mention[] {
  return (found(ctx)?.all ?? []).filter((m) => decisionOf(ctx, m.key) === "rewrite");
}

function rewrite(ctx: UpgradeContext, m: Mention): void {
  const abs = absOf(ctx, m);
  const now = fs.readFileSync(abs, "utf8");
  if (now === m.next) return; // a resumed run: already rewritten
  if (now !== m.text) {
    throw new UpgradeError("CONTENT_FAILED", `Cannot rewrite ${m.key}: it changed during the migration`, { hint: "The migration is rolled back; run it again" });
  }
  writeFileAtomic(abs, m.next, fs.statSync(abs).mode & 0o7777);
  ctx.log.info(`mentions: ${m.key} now names the new installation (${m.lines} line${m.lines === 1 ? "" : "s"})`);
}

export function mentionsPlugin() {
  return definePlugin({
    name: PLUGIN_NAME,
    // The files it rewrites are restored by the backup plugin.
    requires: ["backup"],
    apply(hooks) {
      hooks.start.tap((ctx) => {
        backupScope(ctx).add(PLUGIN_NAME, (c) => ({ paths: toRewrite(c).map((m) => absOf(c, m)) }));
      });
      hooks.preflight.tap((ctx) => {
        const f = found(ctx);
        if (f) claimDecisionKeys(ctx, f.all.map((m) => m.key));
      });
      hooks.planContent.tap(async (plan, ctx, findings) => {
        const mentions = await decideAll(ctx, findings);
        return mentions.length ? { ...plan, mentions: ctx.dryRun ? mentions : mentions.map(({ diff: _d, ...m }) => m) } : plan;
      });
      // Recorded with the session: a resumed run rewrites what the person decided here.
      hooks.checkPlan.tap((ctx, _findings, ev) => {
        const f = ctx.channels.get(Found);
        if (f?.decided.size) ev.mention_decisions = Object.fromEntries([...f.decided].map(([k, p]) => [k, p.decision]));
      });
      // Before the user-files check: the rewrites decided in pre-flight (recorded with the session, so a resumed run has them too) are the user's, not a plugin's mistake.
      hooks.validate.tap({ before: "user-files" }, (ctx) => {
        const from = ctx.layout.relocation ? `${path.basename(ctx.layout.relocation.from)}/` : null;
        const recorded = ctx.evidence(0, PLUGIN_NAME)?.mention_decisions as Record<string, string | null> | undefined;
        for (const [key, d] of Object.entries(recorded ?? {})) if (from && d === "rewrite" && key.startsWith(from)) allowUserFileChange(ctx, key.slice(from.length));
      });
      hooks.migrate.tap((ctx, ev) => {
        const f = found(ctx);
        if (!f) return;
        const record = f.all.map((m) => {
          const d = decisionOf(ctx, m.key);
          if (d === "rewrite") rewrite(ctx, m);
          return { file: m.key, where: m.where, rel: m.rel, status: d === "rewrite" ? "rewritten" : "kept" };
        });
        (ev as Record<string, unknown>).mentions = record;
      });
    },
  });
}
