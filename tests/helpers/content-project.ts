/**
 * Real temp trees for the content tests: a source checkout that is a real git repository
 * (its history holds the old release, then the new one), a project with an installation
 * of the old release, and contexts made by core's own createContext.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { createContext } from "../../core/context.ts";
import { NEW_RELEASE, OLD_RELEASE, releaseUniversal } from "../../demo/kit/assets.ts";
import { createHooks } from "../../core/hooks.ts";
import { resolveLayout } from "../../core/layout.ts";
import { createLogger, type LogEvent } from "../../core/log.ts";
import { applyPlugins, type Plugin } from "../../core/plugin.ts";
import { type ContentPlan, Findings, type Outcome, type PlanEntry, type RunOptions, type SessionHandle, type UpgradeContext } from "../../core/types.ts";

export const OLD = OLD_RELEASE;
export const NEW = NEW_RELEASE;

import { removeTemps, tmpDir } from "./temp.ts";
import { toRunOptions, type FlatRunOptions } from "./run-options.ts";
import { evidenceOf } from "../../core/evidence.ts";

export { removeTemps, tmpDir };

/** The `universal/` folder of a fixture release, extracted once per process (read-only). */
export const release = (name: string): string => releaseUniversal(name);

export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", ...args], {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  }).trim();
}

export type Tree = Record<string, string | Uint8Array>;

export function writeTree(root: string, files: Tree): void {
  for (const [rel, data] of Object.entries(files)) {
    const abs = path.join(root, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, data);
  }
}

export function readTree(root: string): Tree {
  const out: Tree = {};
  const walk = (dir: string, rel: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(dir, e.name), r);
      else if (e.isFile()) out[r] = fs.readFileSync(path.join(dir, e.name));
    }
  };
  walk(root, "");
  return out;
}

/** One commit of a source: its `universal/` tree (a folder or files) plus a minimal server package. */
export interface SourceCommit {
  universal: string | Tree;
  extra?: Tree;
}

/** A git source repository with one commit per entry; returns the full commit ids, oldest first. */
export function makeSourceRepo(dir: string, commits: SourceCommit[]): string[] {
  fs.mkdirSync(dir, { recursive: true });
  git(dir, "init", "-q");
  const ids: string[] = [];
  for (const [i, c] of commits.entries()) {
    fs.rmSync(path.join(dir, "universal"), { recursive: true, force: true });
    if (typeof c.universal === "string") fs.cpSync(c.universal, path.join(dir, "universal"), { recursive: true });
    else writeTree(path.join(dir, "universal"), c.universal);
    writeTree(dir, { "mcp_server/__init__.py": `VERSION = ${i + 1}\n`, "mcp_server/requirements.txt": "", ...(c.extra ?? {}) });
    git(dir, "add", "-A");
    git(dir, "commit", "-q", "-m", `release ${i + 1}`);
    ids.push(git(dir, "rev-parse", "HEAD"));
  }
  return ids;
}

const MAP: Array<[string, string]> = [["standards", "standards/universal"], ["workflows", "workflows"], ["usage", "usage"]];

export interface InstallOptions {
  /** Write VERSION.txt with this commit=. */
  commit?: string;
  /** Also write an installed manifest (as our own previous upgrade would have). */
  manifest?: boolean;
}

/** Installs a `universal/` tree into `<project>/.agent-os/` as SPEC §2 maps it. */
export function installUniversal(project: string, universal: string | Tree, opts: InstallOptions = {}): string {
  const install = path.join(project, ".agent-os");
  const files = typeof universal === "string" ? readTree(universal) : universal;
  const manifestFiles: Record<string, string> = {};
  for (const [rel, data] of Object.entries(files)) {
    const m = MAP.find(([from]) => rel.startsWith(from + "/"));
    if (!m) continue;
    const target = m[1] + rel.slice(m[0].length);
    writeTree(install, { [target]: data });
    manifestFiles[target] = createHash("sha256").update(data).digest("hex");
  }
  writeTree(install, { "mcp_server/__init__.py": "VERSION = 1\n", "mcp_server/requirements.txt": "" });
  fs.mkdirSync(path.join(install, "standards"), { recursive: true });
  fs.mkdirSync(path.join(install, "workflows"), { recursive: true });
  if (opts.commit) fs.writeFileSync(path.join(install, "VERSION.txt"), `version=old\ncommit=${opts.commit}\n`);
  if (opts.manifest) {
    writeTree(install, {
      ".upgrade/installed-manifest.json": JSON.stringify({ schema_version: 1, source_commit: opts.commit ?? null, version: "old", installed_at: "2025-10-07T00:00:00.000Z", files: manifestFiles }, null, 2),
    });
  }
  return install;
}

export interface CtxOptions extends FlatRunOptions {
  source: string;
}

export interface TestCtx {
  ctx: UpgradeContext;
  events: LogEvent[];
  journal: Array<{ step: string; data?: Record<string, unknown> }>;
}

export function makeCtx(project: string, o: CtxOptions, withSession = true): TestCtx {
  const options = toRunOptions({
    target: project,
    dryRun: false,
    diff: false,
    onConflict: null,
    yes: false,
    json: false,
    restart: false,
    skipDeps: true,
    keepBackups: 3,
    from: null,
    interactive: false,
    ...o,
  });
  const events: LogEvent[] = [];
  const journal: TestCtx["journal"] = [];
  const session: SessionHandle = {
    id: "00000000-0000-4000-8000-000000000000",
    state: {} as SessionHandle["state"],
    journal: async (step, data) => {
      journal.push({ step, data });
    },
    hasStep: (step) => journal.some((j) => j.step === step),
  };
  const ctx = createContext({
    layout: resolveLayout(project),
    options,
    log: createLogger((e) => events.push(e)),
    signal: new AbortController().signal,
    session: () => (withSession && !options.dryRun ? session : null),
    evidence: () => undefined,
    plan: () => null,
  });
  return { ctx, events, journal };
}

export interface TapRun {
  findings: Findings;
  preflight: Record<string, unknown>;
  plan?: ContentPlan;
  evidence?: Record<string, unknown>;
  cleanup?: Record<string, unknown>;
  error?: unknown;
}

/**
 * Runs the plugins' taps in lifecycle order, as the upgrader does for phases 0, 2 and 5:
 * pre-flight (stop on errors), then the plan, then (unless a dry run) apply and cleanup.
 */
export async function runTaps(plugins: Plugin[], ctx: UpgradeContext, stopAt: "preflight" | "plan" | "apply" | "cleanup" = "cleanup"): Promise<TapRun> {
  const hooks = createHooks();
  applyPlugins(hooks, plugins);
  const run: TapRun = { findings: new Findings(), preflight: {} };
  await hooks.preflight.promise(ctx, run.findings, run.preflight);
  // As the engine does: the plan is built once, in pre-flight, and its problems are pre-flight findings.
  const plan = await hooks.planContent.promise({ base: { kind: "none" }, entries: [] }, ctx, run.findings);
  if (run.findings.errors.length || stopAt === "preflight") return run;
  run.plan = plan;
  if (ctx.dryRun || stopAt === "plan") return run;
  run.evidence = {};
  let outcome: Outcome = { status: "completed" };
  try {
    await hooks.applyContent.promise(run.plan, ctx, run.evidence);
  } catch (err) {
    run.error = err;
    outcome = { status: "rolled_back" };
  }
  if (stopAt === "apply") return run;
  run.cleanup = {};
  await hooks.cleanup.promise(ctx, outcome, run.cleanup);
  return run;
}

export const read = (p: string) => fs.readFileSync(p, "utf8");
export const sha = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");

/** `git merge-file -p` on three byte strings, with the labels the plugin uses. */
export function gitMergeFile(local: Uint8Array, base: Uint8Array, theirs: Uint8Array): Buffer {
  const d = tmpDir("merge");
  const files = ["L", "B", "N"].map((n) => path.join(d, n));
  fs.writeFileSync(files[0], local);
  fs.writeFileSync(files[1], base);
  fs.writeFileSync(files[2], theirs);
  try {
    return execFileSync("git", ["merge-file", "-p", "-L", "local", "-L", "base", "-L", "upstream", ...files]);
  } catch (err) {
    // Exit status = number of conflicts: the merged text is still on stdout.
    return (err as { stdout: Buffer }).stdout;
  }
}

/**
 * Stand-ins for the phases this plugin does not own (backup, server, validation), so the
 * content plugin can run through the real upgrader end to end. They report evidence that
 * passes the gates and touch nothing; the content plugin's own evidence is real.
 */
export function otherPhasesDouble(o: { backup?: boolean } = {}): Plugin {
  return {
    name: "other-phases-double",
    apply(hooks) {
      if (o.backup !== false) {
        hooks.backup.tap((ctx, ev) => {
          Object.assign(ev, { backup_path: `${ctx.layout.backupsDir}/double`, backup_id: "double", files_backed_up: 1, backup_size_bytes: 0, integrity_verified: true });
        });
        hooks.rollback.tap((_ctx, req) => {
          req.evidence.double = true;
        });
      }
      hooks.upgradeServer.tap((_ctx, ev) => {
        Object.assign(ev, { code: { status: "unchanged", hashes_verified: true }, deps: { status: "skipped", pip_check_ok: null }, restart: { status: "skipped" } });
      });
      hooks.validate.tap((_ctx, _f, ev) => {
        Object.assign(ev, { tools_expected: [], tools_registered: [], smoke_tests: [], stderr_errors: [], user_files_unchanged: true, validation_report: "double" });
      });
      // As the plugins it stands in for: its parts of the summary, from its own records.
      hooks.summarize.tap((ctx, _outcome, result) => {
        const state = ctx.session?.state;
        if (!state) return;
        const report = evidenceOf(state, 4, "other-phases-double")?.validation_report;
        if (typeof report === "string") result.summary.validation_report = report;
        const backup = evidenceOf(state, 1, "other-phases-double")?.backup_id;
        if (typeof backup === "string") result.summary.backup_id = backup;
      });
    },
  };
}

/**
 * An exact plan's entries (an inferred or a manifest base: every local file read) as a first
 * upgrade from a named commit gives them (VERSION.txt, `--from`): the paths `first` left
 * unread (`not_checked`) must be ones the exact plan keeps (`unchanged`, `keep_local`) with
 * the same upstream content; they read as `first` says them, local hash unknown.
 */
export function asFirstUpgrade(exact: readonly PlanEntry[], first: readonly PlanEntry[]): PlanEntry[] {
  const unread = new Map(first.filter((e) => e.action === "not_checked").map((e) => [e.target, e]));
  return exact.map((e) => {
    const u = unread.get(e.target);
    if (!u) return e;
    if (e.action !== "unchanged" && e.action !== "keep_local") throw new Error(`${e.target}: not read, but the exact plan ${e.action}s it`);
    if (e.hashes.new !== u.hashes.new || e.hashes.base !== u.hashes.base) throw new Error(`${e.target}: not read, and upstream's content differs from the exact plan's`);
    const { base_note: _note, ...rest } = e as PlanEntry & { base_note?: string };
    return { ...rest, action: "not_checked", hashes: { ...e.hashes, local: null }, reason: u.reason };
  });
}
