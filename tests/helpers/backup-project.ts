/**
 * Real temp projects for the backup tests, a harness that drives the backup plugin's taps
 * through the core's own hooks, context and session state (as the upgrader does), and an
 * "upgrade" that changes the tree the ways a real one does.
 */
import fs from "node:fs";
import { Buffer } from "node:buffer";
import path from "node:path";
import { createHash } from "node:crypto";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { generateInstall, type GenOptions } from "../../bench/gen-install.ts";
import { createContext } from "../../core/context.ts";
import { checkGate, EvidenceBook, type EvidenceDraft, gateParts, type PhaseEvidence } from "../../core/evidence.ts";
import { builtinPlugins } from "../../plugins/mod.ts";
import { createHooks } from "../../core/hooks.ts";
import { type Layout, layoutOf } from "../../core/layout.ts";
import { createLogger, type LogEvent } from "../../core/log.ts";
import { applyPlugins, type Plugin } from "../../core/plugin.ts";
import { beginPhase, endPhase, type SessionState, StateStore } from "../../core/state.ts";
import type { Outcome, RollbackRequest, RunOptions, SessionHandle, UpgradeContext } from "../../core/types.ts";
import { backupPlugin, type BackupPluginOptions } from "../../plugins/backup.ts";
import { DEFAULT_INSTALL_PATHS, DEFAULT_PROJECT_PATHS } from "../../plugins/backup/roots.ts";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

import { tmpDir } from "./temp.ts";
import { toRunOptions, type FlatRunOptions } from "./run-options.ts";

export { tmpDir };

/** Our own records, which an upgrade or a rollback writes on purpose (SPEC §2 "records we own"): leave them out of tree comparisons. */
export function ownRecords(rel: string): boolean {
  return /^\.agent-os\/(\.backups|\.cache\/state|\.upgrade-lock|\.cache\/upgrade-(summary|validation)-)/.test(rel) || rel === ".agent-os/.cache/state";
}

export interface Project {
  root: string;
  layout: Layout;
}

/** A realistic project (fixture content, server, records, user files, a small venv with links). */
export function makeProject(opts: GenOptions = {}): Project {
  const root = tmpDir("backup");
  generateInstall(root, { files: 700, bytes: 3 << 20, ...opts });
  return { root, layout: layoutOf(root, path.join(root, ".agent-os")) };
}

export function runOptions(layout: Layout, over: FlatRunOptions = {}): RunOptions {
  return toRunOptions({
    source: null,
    target: layout.projectRoot,
    dryRun: false,
    diff: false,
    onConflict: null,
    yes: true,
    json: false,
    restart: false,
    skipDeps: true,
    keepBackups: 3,
    from: null,
    interactive: false,
    ...over,
  });
}

/**
 * The fake upgrades of these tests change the whole install (simulateUpgrade); the built-in
 * plugins that would declare those paths are absent, so the tests declare them through the
 * backup plugin's `include` options: the old whole-install scope, on purpose.
 */
export const WIDE = { include: [...DEFAULT_INSTALL_PATHS], includeProject: [...DEFAULT_PROJECT_PATHS] };

export interface Harness {
  ctx: UpgradeContext;
  state: SessionState;
  store: StateStore;
  events: LogEvent[];
  abort: AbortController;
  /** Phase 1 as the upgrader runs it: state, the tap, the gate. Returns the evidence. */
  backup(): Promise<EvidenceDraft<1>>;
  /** Marks phase 2 as started (the upgrade has begun changing things). */
  beginPhase2(): void;
  rollback(req?: Partial<RollbackRequest>): Promise<RollbackRequest>;
  cleanup(outcome: Outcome): Promise<Record<string, unknown>>;
}

export interface HarnessOptions {
  plugin?: BackupPluginOptions;
  plugins?: Plugin[];
  /** Open this existing session instead of creating one (a later command on the same project). */
  sessionId?: string;
  /** No session at all (a manual rollback with no session to mark). */
  noSession?: boolean;
  onEvent?: (e: LogEvent) => void;
  keepBackups?: number;
}

export function harness(layout: Layout, o: HarnessOptions = {}): Harness {
  const hooks = createHooks();
  applyPlugins(hooks, o.plugins ?? [backupPlugin({ batchSize: 16, sync: false, ...WIDE, ...o.plugin })]);
  const store = new StateStore(layout.stateDir);
  const state = o.sessionId ? store.load(o.sessionId) : store.create({ options: {}, source: { path: null, commit: null }, target: { project: layout.projectRoot, install: layout.installDir } });
  const events: LogEvent[] = [];
  const log = createLogger((e) => {
    events.push(e);
    o.onEvent?.(e);
  });
  const abort = new AbortController();
  const handle: SessionHandle = {
    id: state.session_id,
    get state() {
      return state;
    },
    journal: async (step, data) => {
      state.journal.push({ at: new Date().toISOString(), phase: state.current_phase, step, data });
      store.save(state);
    },
    hasStep: (step) => state.journal.some((j) => j.step === step),
  };
  const ctx = createContext({
    layout,
    options: runOptions(layout, { keepBackups: o.keepBackups ?? 3 }),
    log,
    signal: abort.signal,
    session: () => (o.noSession ? null : handle),
    evidence: (p) => (state.completed_phases.includes(p) ? state.phases[String(p)]?.evidence as PhaseEvidence : undefined),
    plan: () => null,
  });
  return {
    ctx,
    state,
    store,
    events,
    abort,
    async backup() {
      beginPhase(state, 1);
      store.save(state);
      // As the engine runs phase 1: the book holds each party's record, every tap sees its own.
      const book = new EvidenceBook();
      book.of("engine").lock_acquired = true;
      const t0 = performance.now();
      try {
        await hooks.backup.promise(ctx, book as unknown as EvidenceDraft<1>);
      } catch (err) {
        endPhase(state, 1, "failed", book.records, 0);
        store.save(state);
        throw err;
      }
      const gate = checkGate(gateParts(1, builtinPlugins()), book.records);
      if (!gate.ok) throw new Error(`phase 1 gate: ${gate.problems.join("; ")}`);
      endPhase(state, 1, "completed", book.records, Math.round(performance.now() - t0));
      store.save(state);
      return book.of("backup");
    },
    beginPhase2() {
      beginPhase(state, 2);
      store.save(state);
    },
    async rollback(req = {}) {
      const request: RollbackRequest = { reason: "test", phase: req.manual ? null : 2, manual: false, evidence: {}, ...req };
      state.status = "rolling_back";
      store.save(state);
      await hooks.rollback.promise(ctx, request);
      state.status = "rolled_back";
      store.save(state);
      return request;
    },
    async cleanup(outcome) {
      const ev: Record<string, unknown> = {};
      await hooks.cleanup.promise(ctx, outcome, ev);
      return ev;
    },
  };
}

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
export const sha256File = (p: string) => sha(fs.readFileSync(p));

/**
 * Changes a project the ways an upgrade does: files edited in place and replaced by rename,
 * added and deleted (content), the server folders swapped, modes changed, venv packages
 * replaced and added with new links, project files edited, a missing folder created, and a
 * file turned into a folder. User-owned paths get changes too, which rollback must keep.
 */
export function simulateUpgrade(layout: Layout): void {
  simulateContent(layout);
  simulateServer(layout);
}

/** Phase 2's share: content edits, adds, deletes; user-owned paths change meanwhile too. */
export function simulateContent(layout: Layout): void {
  const I = (p: string) => path.join(layout.installDir, p);
  const std = I("standards/universal");
  const mdFiles = fs.readdirSync(path.join(std, "ai-safety")).map((n) => path.join(std, "ai-safety", n));
  fs.appendFileSync(mdFiles[0], "\nedited in place by the upgrade\n"); // same inode, new bytes
  fs.writeFileSync(mdFiles[1] + ".tmp", "replaced by rename\n");
  fs.renameSync(mdFiles[1] + ".tmp", mdFiles[1]);
  fs.rmSync(mdFiles[2]);
  fs.mkdirSync(path.join(std, "new-topic", "deep"), { recursive: true });
  fs.writeFileSync(path.join(std, "new-topic", "deep", "added.md"), "# new\n");
  fs.rmSync(I("workflows"), { recursive: true }); // a whole system folder replaced
  fs.mkdirSync(I("workflows/spec_creation_v1"), { recursive: true });
  fs.writeFileSync(I("workflows/spec_creation_v1/metadata.json"), "{}\n");
  fs.appendFileSync(layout.gitignore, ".agent-os/.backups/\n");
  // User-owned paths change during the upgrade too; rollback must leave them as they are now.
  fs.writeFileSync(I("specs/2025-10-01-feature/srd.md"), "# Spec, edited by the user meanwhile\n");
  fs.writeFileSync(I("workspace/new-note.md"), "new\n");
  fs.writeFileSync(I("standards/development/added.md"), "ours\n");
}

/** Phase 3's share: the server swap, pip's changes to the venv, records, mcp.json. */
export function simulateServer(layout: Layout): void {
  const I = (p: string) => path.join(layout.installDir, p);
  // The server swap: a new folder renamed into place, the old one gone.
  fs.mkdirSync(I("mcp_server.new"));
  fs.writeFileSync(I("mcp_server.new/__init__.py"), "__version__ = '2.0'\n");
  fs.writeFileSync(I("mcp_server.new/__main__.py"), "print('v2')\n");
  fs.renameSync(I("mcp_server"), I("mcp_server.old"));
  fs.renameSync(I("mcp_server.new"), I("mcp_server"));
  fs.rmSync(I("mcp_server.old"), { recursive: true });
  fs.chmodSync(I("scripts/update.sh"), 0o644);
  fs.chmodSync(I("scripts"), 0o700);
  fs.appendFileSync(I("UPDATE_LOG.txt"), "2025-10-11 upgraded\n");
  fs.writeFileSync(I("VERSION.txt"), "version=2.0\n");
  fs.rmSync(I("INSTALLATION_SUMMARY.md"));
  fs.mkdirSync(I("INSTALLATION_SUMMARY.md")); // a file turned into a folder
  fs.writeFileSync(I(".upgrade/installed-manifest.json"), JSON.stringify({ commit: "new" }));
  // The venv: pip replaces a package, adds one, rewrites a link, changes a mode.
  const site = I("venv/lib/python3.11/site-packages");
  fs.rmSync(path.join(site, "pkg0"), { recursive: true });
  fs.mkdirSync(path.join(site, "pkg0"));
  fs.writeFileSync(path.join(site, "pkg0", "__init__.py"), "# v2\n");
  fs.mkdirSync(path.join(site, "newpkg", "__pycache__"), { recursive: true });
  fs.writeFileSync(path.join(site, "newpkg", "__init__.py"), "x = 1\n");
  fs.writeFileSync(path.join(site, "newpkg", "__pycache__", "__init__.cpython-311.pyc"), Buffer.from([1, 2, 3]));
  fs.rmSync(I("venv/bin/python"));
  fs.symlinkSync("python3.11", I("venv/bin/python"));
  fs.chmodSync(I("venv/bin/pip"), 0o600);
  fs.rmSync(I("venv/lib64"));
  fs.mkdirSync(I("venv/lib64")); // a link turned into a folder
  fs.symlinkSync("/etc/passwd", I("venv/bin/new-link"));
  fs.writeFileSync(layout.mcpJson, "{}\n");
}

/** A child process on the runtime under test (AOU_TEST_RUNTIME), for kill tests. */
export function spawnChild(script: string, args: string[], env: Record<string, string> = {}) {
  const runtime = process.env.AOU_TEST_RUNTIME ?? (typeof (globalThis as { Deno?: unknown }).Deno === "object" ? "deno" : "node");
  const cmd = runtime === "deno" ? path.join(ROOT, "node_modules/.bin/deno") : process.execPath;
  const argv = runtime === "deno" ? ["run", "-A", script, ...args] : ["--import", "tsx", script, ...args];
  return spawn(cmd, argv, { cwd: ROOT, env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
}

export async function waitFor(pred: () => boolean, timeoutMs = 30000, what = "condition"): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
