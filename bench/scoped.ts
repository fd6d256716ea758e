/**
 * Issue 9's figures, each as a ratio to a baseline measured in the same run, on the same tree:
 *
 *   real       the real CLI with every built-in plugin (`--skip-deps --no-restart
 *              --no-validate`): the fixture releases' upgrade (their content changes, the
 *              server swapped) of the same installation from a real git source, and its
 *              manual rollback, vs one `cp -a` + `sha256sum` of the installation
 *   upgrade    a whole upgrade (real upgrader and backup plugin, one process from start to
 *              exit) where ~100 content files change and mcp_server/ is swapped, vs the same
 *   rollback   `rollback` of that upgrade by hand (one process), vs the same baseline
 *   growth     bytes the backups folder grew by, vs the installation's bytes
 *   flat       rollback at 1k / 10k (/ 100k) installed files, 100 changed: vs the 1k one
 *   startup    `--help`, `--version`, `status`, `backups list` of the built package
 *              (`npm run build`; else through tsx), vs `node -e 0`; on Deno from the sources,
 *              vs `deno run` of an empty file
 *
 * The upgrade's work (content edits, the swap) is done by a bench plugin declaring its scope
 * on the backup's scope channel, as the built-in plugins do; no source checkout is needed.
 *
 *     npm run bench                                   # 17.5k-file install; rollback at 1k, 10k, 100k
 *     AOU_BENCH_FILES=20000 AOU_BENCH_FLAT=1000,10000 AOU_BENCH_ROUNDS=5 node --import tsx bench/scoped.ts
 *     AOU_BENCH_ONLY=startup node --import tsx bench/scoped.ts   # the start-up rows alone (build first)
 * Trees go under $TMPDIR/aou-bench-scoped-*, removed at the end.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { generateInstall } from "./gen-install.ts";
import { extractRelease, NEW_RELEASE, OLD_RELEASE } from "../demo/kit/assets.ts";
import { fixtureScriptsDir, writeFixtureServer } from "../demo/kit/fixture-server.ts";
import { copyTree } from "../demo/kit/tree.ts";
import { resolvedWith } from "../tests/helpers/run-options.ts";

const HERE = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(HERE), "..");
const CHANGED = 100;

// ---- child side: one upgrade or one rollback, as the CLI would run it ----------------------
async function child(op: string, root: string): Promise<void> {
  const { layoutOf } = await import("../core/layout.ts");
  const { definePlugin } = await import("../core/plugin.ts");
  const { runLifecycle, runManualRollback } = await import("../core/upgrader.ts");
  const { backupPlugin } = await import("../plugins/backup.ts");
  const { backupScope } = await import("../plugins/backup/scope.ts");
  const layout = layoutOf(root, path.join(root, ".agent-os"));
  const I = (r: string) => path.join(layout.installDir, r);
  const targets = changedFiles(layout.installDir);
  const work = definePlugin({
    name: "bench-upgrade",
    apply(hooks) {
      hooks.start.tap((ctx) => backupScope(ctx).add("bench-upgrade", () => ({ paths: [...targets.map(I), I("standards/universal/bench-new"), layout.updateLog], moveAside: [I("mcp_server")] })));
      hooks.preflight.tap((_c, _f, ev) => void Object.assign(ev, { source_path: "/src", source_commit: "0".repeat(40), source_branch: "main", source_git_clean: true, target_structure_valid: true, disk_space_available: 2e9, disk_space_required: 1e6, no_concurrent_workflows: true, from_version: "a", to_version: "b" }));
      hooks.applyContent.tap((_p, _c, ev) => {
        for (const t of targets) fs.appendFileSync(I(t), "\nupgraded\n");
        fs.mkdirSync(I("standards/universal/bench-new"), { recursive: true });
        fs.writeFileSync(I("standards/universal/bench-new/added.md"), "# new\n");
        Object.assign(ev, { plan_counts: { new: 1, updated: targets.length, unchanged: 0, kept_local: 0, conflicts: 0, deleted: 0, errors: 0 }, files_written: targets.length + 1, written_hashes_verified: true, needs_attention: [] });
      });
      hooks.upgradeServer.tap((ctx, ev) => {
        const live = I("mcp_server");
        fs.mkdirSync(`${live}.staged`);
        for (let k = 0; k < 40; k++) fs.writeFileSync(path.join(`${live}.staged`, `m${k}.py`), "x = 1\n".repeat(200));
        const old = backupScope(ctx).asideFor(live)!;
        fs.renameSync(live, old);
        fs.renameSync(`${live}.staged`, live);
        fs.appendFileSync(layout.updateLog, "bench upgrade\n");
        Object.assign(ev, { code: { status: "swapped", hashes_verified: true }, deps: { status: "unchanged", pip_check_ok: null }, restart: { status: "skipped" } });
      });
      hooks.validate.tap((_c, _f, ev) => void Object.assign(ev, { tools_expected: [], tools_registered: [], smoke_tests: [], stderr_errors: [], user_files_unchanged: true, validation_report: "/dev/null" }));
      hooks.cleanup.tap((_c, _o, ev) => void (ev.report_path = "/dev/null"));
    },
  });
  const resolved = resolvedWith([work, backupPlugin()]);
  const options = { source: "/src", target: root, dryRun: false, diff: false, onConflict: null, yes: true, json: true, restart: false, skipDeps: true, keepBackups: 3, from: null, interactive: false } as never;
  if (op === "upgrade") {
    const r = await runLifecycle({ resolved, options }, { handleSignals: false });
    if (r.status !== "completed") throw new Error(JSON.stringify(r.error));
  } else {
    const r = await runManualRollback({ resolved, options, backupId: null });
    if (r.exitCode !== 0) throw new Error(JSON.stringify(r.outcome.rollbackError));
  }
}

/** The first CHANGED content files, in a stable order. */
function changedFiles(installDir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(installDir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (out.length >= CHANGED) return;
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else if (e.isFile() && r !== "standards/universal/bench-new/added.md") out.push(r);
    }
  };
  for (const top of ["standards/universal", "workflows"]) if (fs.existsSync(path.join(installDir, top))) walk(top);
  return out;
}

// ---- parent side ----------------------------------------------------------------------------
/** A git source whose two commits are the fixture releases (with the fixture server), as the demo builds it. */
function makeSource(dir: string): { old: string; now: string } {
  fs.mkdirSync(dir, { recursive: true });
  const git = (...a: string[]) => execFileSync("git", ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid", ...a], { cwd: dir, encoding: "utf8" }).trim();
  git("init", "-q", "-b", "main");
  const commit = (release: string, server: "v1" | "v2") => {
    extractRelease(release, dir);
    for (const d of ["mcp_server", "scripts"]) fs.rmSync(path.join(dir, d), { recursive: true, force: true });
    writeFixtureServer(server, path.join(dir, "mcp_server"));
    copyTree(fixtureScriptsDir(server), path.join(dir, "scripts"));
    git("add", "-A");
    git("commit", "-qm", release);
    return git("rev-parse", "HEAD");
  };
  return { old: commit(OLD_RELEASE, "v1"), now: commit(NEW_RELEASE, "v2") };
}

/** The CLI as a user runs it: the built package when there is one, else the sources through tsx. */
function cliCommand(): { args: string[]; floor: () => number; floorName: string; label: string } {
  const built = path.join(ROOT, "dist/app/bin.js");
  if (fs.existsSync(built)) return { args: [built], floor: () => timed(process.execPath, ["-e", "0"]), floorName: "node -e 0", label: "node, built" };
  return { args: ["--import", TSX, path.join(ROOT, "app/bin.ts")], floor: () => tsxNode(["-e", "0"]), floorName: "node --import tsx -e 0", label: "node, tsx loader" };
}
function timed(cmd: string, args: string[], cwd = ROOT): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" } });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return ms;
}

// By path: the real-CLI rows run in the generated project, where `tsx` does not resolve.
const TSX = path.join(ROOT, "node_modules/tsx/dist/esm/index.mjs");
const tsxNode = (args: string[]) => timed(process.execPath, ["--import", TSX, ...args]);
const runOp = (op: string, root: string) => tsxNode([HERE, "--op", op, root]);

function baseline(root: string, dest: string): number {
  const t0 = performance.now();
  const r = spawnSync("bash", ["-c", `cp -a ${JSON.stringify(path.join(root, ".agent-os"))} ${JSON.stringify(dest)} && cd ${JSON.stringify(dest)} && find . -type f -print0 | xargs -0 sha256sum > /dev/null`]);
  if (r.status !== 0) throw new Error(`baseline: ${r.stderr}`);
  const ms = performance.now() - t0;
  fs.rmSync(dest, { recursive: true, force: true });
  return ms;
}

function du(p: string): number {
  const r = spawnSync("du", ["-sb", p], { encoding: "utf8" });
  return r.status === 0 ? Number(r.stdout.split(/\s/)[0]) : 0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const ms = (x: number) => (x >= 10000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`);
const row = (name: string, ours: number, base: number, baseName: string, limit: number) =>
  console.log(`| ${name} | ${ms(ours)} | ${baseName} ${ms(base)} | ${(ours / base).toFixed(2)}x | ≤ ${limit}x ${ours / base <= limit ? "ok" : "OVER"} |`);

/** The real CLI's upgrade and rollback of the generated install, from the fixture releases' source. */
function realUpgrade(work: string, root: string, rounds: number): { upgrade: number; rollback: number; changed: number; label: string; upgradeMem: number } {
  const source = path.join(work, "source");
  const c = makeSource(source);
  const install = path.join(root, ".agent-os");
  // Installed by upstream's installer: VERSION.txt names the commit, no manifest of ours.
  fs.writeFileSync(path.join(install, "VERSION.txt"), `version=1.3.0\ncommit=${c.old}\n`);
  fs.rmSync(path.join(install, ".upgrade"), { recursive: true, force: true });
  const changed = execFileSync("git", ["diff", "--name-only", c.old, c.now, "--", "universal"], { cwd: source, encoding: "utf8" }).trim().split("\n").length;
  const cli = cliCommand();
  const up: number[] = [];
  const rb: number[] = [];
  for (let round = 0; round < rounds; round++) {
    up.push(timed(process.execPath, [...cli.args, "--source", source, "--on-conflict", "theirs", "--yes", "--skip-deps", "--no-restart", "--no-validate"], root));
    rb.push(timed(process.execPath, [...cli.args, "rollback", "--yes"], root));
  }
  const upgradeMem = peakKb(process.execPath, [...cli.args, "--source", source, "--on-conflict", "theirs", "--yes", "--skip-deps", "--no-restart", "--no-validate"], root);
  timed(process.execPath, [...cli.args, "rollback", "--yes"], root);
  return { upgrade: median(up), rollback: median(rb), changed, label: cli.label, upgradeMem };
}

/** Peak resident memory (KB) of a command and the children it waited for (GNU time's %M). */
function peakKb(cmd: string, args: string[], cwd: string): number {
  const r = spawnSync("/usr/bin/time", ["-f", "%M", cmd, ...args], { cwd, encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
  if (r.status !== 0) throw new Error(`${cmd} exited ${r.status}: ${r.stderr}`);
  return Number(r.stderr.trim().split("\n").pop());
}

async function main(): Promise<void> {
  const files = Number(process.env.AOU_BENCH_FILES ?? 17500);
  const flat = (process.env.AOU_BENCH_FLAT ?? "1000,10000,100000").split(",").map(Number);
  const rounds = Number(process.env.AOU_BENCH_ROUNDS ?? 3);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "aou-bench-scoped-"));
  try {
    console.log(`node ${process.version}, ${os.cpus().length} cores, ${rounds} rounds (medians), A/B alternated`);
    console.log("| figure | ours | baseline | ratio | must |\n|---|---|---|---|---|");
    if (process.env.AOU_BENCH_ONLY === "startup") return startupRows(work);
    const root = path.join(work, "p");
    const g = generateInstall(root, { files, bytes: files * 10 * 1024 });
    const installBytes = du(path.join(root, ".agent-os"));
    const up: number[] = [];
    const rb: number[] = [];
    const base: number[] = [];
    let grew = 0;
    for (let round = 0; round < rounds; round++) {
      const b0 = du(path.join(root, ".agent-os/.backups"));
      const steps = [() => base.push(baseline(root, path.join(work, `cp-${round}`))), () => up.push(runOp("upgrade", root))];
      if (round % 2) steps.reverse();
      for (const s of steps) s();
      grew = Math.max(grew, du(path.join(root, ".agent-os/.backups")) - b0);
      rb.push(runOp("rollback", root));
    }
    const bm = median(base);
    const real = realUpgrade(work, root, rounds);
    row(`real CLI upgrade, ${g.files} files, ${real.changed} content files changed upstream + server swapped (${real.label})`, real.upgrade, bm, "cp -a + sha256sum", 0.3);
    row(`real CLI rollback of it (${real.label})`, real.rollback, bm, "cp -a + sha256sum", 0.3);
    const baseMem = peakKb("bash", ["-c", `cp -a .agent-os ${JSON.stringify(path.join(work, "cp-mem"))} && cd ${JSON.stringify(path.join(work, "cp-mem"))} && find . -type f -print0 | xargs -0 sha256sum > /dev/null`], root);
    fs.rmSync(path.join(work, "cp-mem"), { recursive: true, force: true });
    console.log(`| peak memory of the real CLI upgrade | ${(real.upgradeMem / 1024).toFixed(0)} MiB | cp -a + sha256sum ${(baseMem / 1024).toFixed(1)} MiB | ${(real.upgradeMem / baseMem).toFixed(1)}x | (reported) |`);
    row(`whole upgrade, ${g.files} files, ${CHANGED + 1} changed + mcp_server swapped`, median(up), bm, "cp -a + sha256sum", 0.3);
    row("manual rollback, same install", median(rb), bm, "cp -a + sha256sum", 0.3);
    console.log(`| backups folder growth per upgrade | ${(grew / 1048576).toFixed(2)} MB | install ${(installBytes / 1048576).toFixed(1)} MB | ${(grew / installBytes).toFixed(3)}x | ≤ 0.1x ${grew / installBytes <= 0.1 ? "ok" : "OVER"} |`);
    fs.rmSync(root, { recursive: true, force: true });

    const flatMs: number[] = [];
    for (const n of flat) {
      const r = path.join(work, `f${n}`);
      generateInstall(r, { files: n, bytes: n * 4096 });
      const xs: number[] = [];
      for (let round = 0; round < rounds; round++) {
        runOp("upgrade", r);
        xs.push(runOp("rollback", r));
      }
      flatMs.push(median(xs));
      fs.rmSync(r, { recursive: true, force: true });
    }
    flat.forEach((n, i) => row(`rollback at ${n} files (${CHANGED} changed)`, flatMs[i], flatMs[0], `rollback at ${flat[0]}`, 1.5));

    startupRows(work);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Start-up of the four read-only commands, each alternated with its floor (the runtime doing
 * nothing) so that a busy machine slows both alike: medians of STARTUP_RUNS.
 */
function startupRows(work: string): void {
  const empty = path.join(work, "empty.ts");
  fs.writeFileSync(empty, "");
  const proj = path.join(work, "proj");
  fs.mkdirSync(path.join(proj, ".agent-os/standards"), { recursive: true });
  const commands = [["--help"], ["--version"], ["status", "--target", proj], ["backups", "list", "--target", proj]];
  const name = (args: string[]) => args.slice(0, 2).filter((a) => a !== "--target").join(" ");
  const pair = (floor: () => number, run: () => number) => {
    const f: number[] = [];
    const t: number[] = [];
    for (let i = 0; i < STARTUP_RUNS; i++) {
      f.push(floor());
      t.push(run());
    }
    return { floor: median(f), t: median(t) };
  };
  const cli = cliCommand();
  for (const args of commands) {
    const m = pair(cli.floor, () => timed(process.execPath, [...cli.args, ...args]));
    row(`\`${name(args)}\` (${cli.label})`, m.t, m.floor, cli.floorName, 2.5);
  }
  const deno = path.join(ROOT, "node_modules/.bin/deno");
  if (!fs.existsSync(deno)) return;
  for (const args of commands) {
    const m = pair(() => timed(deno, ["run", "-A", empty]), () => timed(deno, ["run", "-A", path.join(ROOT, "app/bin.ts"), ...args]));
    row(`\`${name(args)}\` (deno, sources)`, m.t, m.floor, "deno run empty.ts", 2.5);
  }
}
const STARTUP_RUNS = 9;

const argv = process.argv.slice(2);
if (argv[0] === "--op") await child(argv[1], argv[2]);
else await main();
