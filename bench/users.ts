/**
 * A bench of what users run (issue 24): the built CLI (`node dist/app/bin.js`) with default
 * flags — validation against the real fixture MCP server, pip into a real venv from a local
 * wheel folder — on projects installed as upstream's installer leaves them. Every row is
 * alternated with its baseline in the same run (order swapped each round; medians), prints
 * the ratio, peak memory of both, and whether it met its goal. Rows (bench/README.md says
 * what each measures):
 *
 *   real      first upgrade of a ~17.5k-file content-heavy install (81 files changed upstream,
 *             server v1 → v2 with a new dependency) and its rollback, vs cp -a + sha256sum
 *   first     first upgrade (VERSION.txt / no record) at 1k, 10k (100k) content files, and
 *             rollback, vs cp -a + sha256sum
 *   dryrun    `--dry-run` first upgrade, 10k content files, vs `git diff --stat`;
 *             MCP `upgrade_plan` there through the official client, vs the same
 *   second    a second upgrade (our record), 10k content files, 100 changed, vs cp -a + sha256sum
 *   changed   10 / 100 / 1k / 10k changed files vs the physical work (copy old + write new + hash both + sync)
 *   prune     an upgrade whose retention drops a large old backup, vs the same upgrade keeping it
 *   sessions  `status` / `backups list` of a project with 50 sessions, vs `node -e 0`
 *   startup   `--help` / `--version`, node (built) vs `node -e 0`, deno (sources) vs `deno run` of an empty file
 *
 *     npm run bench                                    # every row, 1k and 10k (and the rest of bench/)
 *     AOU_BENCH_ONLY=first,dryrun node --import tsx bench/users.ts
 *     AOU_BENCH_100K=1 node --import tsx bench/users.ts  # adds the 100k rows (several minutes more)
 *     AOU_BENCH_ROUNDS=5 AOU_BENCH_SCALE=0.1 …           # more rounds; SCALE shrinks every size (smoke runs)
 * Trees go under $TMPDIR/aou-bench-users-*, removed at the end. Build first (`npm run bench` does).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { Client } from "@modelcontextprotocol/sdk/client";
// @ts-types="../node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.d.ts"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { BIN, bulkPath, cli, copyAndHash, fmt, makeProject, makeSource, median, mib, NEW_RELEASE, OLD_RELEASE, q, ROOT, settle, sh, sourceAt, type Timed, timed } from "./kit.ts";

const ROUNDS = Number(process.env.AOU_BENCH_ROUNDS ?? 3);
const SCALE = Number(process.env.AOU_BENCH_SCALE ?? 1);
const BIG = process.env.AOU_BENCH_100K === "1";
const ONLY = process.env.AOU_BENCH_ONLY ? process.env.AOU_BENCH_ONLY.split(",") : null;
const n = (x: number) => Math.max(1, Math.round(x * SCALE));

interface Goal {
  /** Largest ratio ours / baseline allowed. */
  ratio?: number;
  /** Largest wall time allowed (ms). */
  ms?: number;
  /** Largest peak memory allowed (MiB). */
  mib?: number;
  /** Where the goal comes from. */
  why?: string;
}

interface Sample {
  ours: Timed[];
  base: Timed[];
}

const table: string[] = [];
function row(name: string, s: Sample, baseName: string, goal: Goal = {}): void {
  const o = median(s.ours.map((t) => t.ms));
  const b = median(s.base.map((t) => t.ms));
  const peak = Math.max(...s.ours.map((t) => t.peakKib));
  const basePeak = Math.max(...s.base.map((t) => t.peakKib));
  const ratio = o / b;
  const checks: string[] = [];
  if (goal.ratio !== undefined) checks.push(`≤ ${goal.ratio}x ${ratio <= goal.ratio ? "met" : "NOT met"}`);
  if (goal.ms !== undefined) checks.push(`≤ ${fmt(goal.ms)} ${o <= goal.ms ? "met" : "NOT met"}`);
  if (goal.mib !== undefined) checks.push(`peak ≤ ${goal.mib} MiB ${peak / 1024 <= goal.mib ? "met" : "NOT met"}`);
  const line = `| ${name} | ${fmt(o)} (${mib(peak)}) | ${baseName} ${fmt(b)} (${mib(basePeak)}) | ${ratio.toFixed(2)}x | ${checks.join("; ") || "(reported)"}${goal.why ? ` [${goal.why}]` : ""} |`;
  table.push(line);
  console.log(line);
}

/**
 * ROUNDS rounds: `prepare` (not timed) builds what the round needs, then the timed steps run
 * in an order that alternates each round, each after a flush and a pause. Nothing is deleted
 * between timed steps (a delete just before a step makes that step pay for it).
 */
async function alternate<C>(prepare: (round: number) => Promise<C> | C, steps: Array<(c: C) => void>, rounds = ROUNDS): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const c = await prepare(round);
    const order = round % 2 ? [...steps].reverse() : steps;
    for (const step of order) {
      settle();
      step(c);
    }
  }
}

/** For upgrades that only build a row's starting point (the server is the same, so these skip only validation). */
const SETUP_FLAGS = ["--no-validate", "--skip-deps", "--no-restart"];
const upgrade = (project: string, source: string, extra: string[] = []) => cli(["--source", source, "--yes", ...extra], project);
const rollback = (project: string) => cli(["rollback", "--yes"], project);

// ---- rows -----------------------------------------------------------------------------------

/** Files of a pristine venv with the fixture packages (to size the install to its total). */
async function installFilesBesidesBulk(work: string): Promise<number> {
  const src = path.join(work, "probe-src");
  const [c] = makeSource(src, [{ release: OLD_RELEASE, server: "v1", bulk: 0 }]);
  const p = await makeProject(path.join(work, "probe"), src, c, "version");
  const files = Number(sh("find .agent-os -type f | wc -l", p.dir).stdout.trim());
  fs.rmSync(p.dir, { recursive: true, force: true });
  fs.rmSync(src, { recursive: true, force: true });
  return files;
}

async function realRow(work: string): Promise<void> {
  const total = n(17500);
  const bulk = Math.max(0, total - (await installFilesBesidesBulk(work)));
  const src = path.join(work, "real-src");
  const [c1, c2] = makeSource(src, [{ release: OLD_RELEASE, server: "v1", bulk }, { release: NEW_RELEASE, server: "v2", bulk }]);
  const changed = sh(`git diff --name-only ${c1} ${c2} -- universal/standards universal/workflows universal/usage | wc -l`, src).stdout.trim();
  const up: Sample = { ours: [], base: [] };
  const rb: Sample = { ours: [], base: up.base };
  let files = 0;
  await alternate(async (r) => {
    const p = await makeProject(path.join(work, `real-${r}`), src, c1, "version");
    files = Number(sh("find .agent-os -type f | wc -l", p.dir).stdout.trim());
    return { ...p, r };
  }, [
    (p) => up.base.push(copyAndHash(p.install, path.join(work, `real-cp-${p.r}`))),
    (p) => {
      up.ours.push(upgrade(p.dir, src));
      settle();
      rb.ours.push(rollback(p.dir));
    },
  ]);
  row(`first upgrade, ${files}-file install (VERSION.txt), ${changed} content files changed upstream, server v1 → v2 + pip`, up, "cp -a + sha256sum", { ratio: 0.3, why: "issue 24" });
  row(`its rollback`, rb, "cp -a + sha256sum", { ratio: 0.3, why: "issue 24" });
  said(up);
}

async function firstRows(work: string): Promise<void> {
  for (const [k, size] of [n(1000), n(10000), ...(BIG ? [n(100000)] : [])].entries()) {
    const src = path.join(work, `first-src-${size}`);
    const [c1] = makeSource(src, [{ release: OLD_RELEASE, server: "v1", bulk: Math.max(0, size - 92) }, { release: NEW_RELEASE, server: "v2", bulk: Math.max(0, size - 92) }]);
    const withVersion: Sample = { ours: [], base: [] };
    const without: Sample = { ours: [], base: withVersion.base };
    const rb: Sample = { ours: [], base: withVersion.base };
    let files = 0;
    await alternate(async (r) => {
      const v = await makeProject(path.join(work, `first-${size}-v-${r}`), src, c1, "version");
      const none = await makeProject(path.join(work, `first-${size}-n-${r}`), src, c1, "none");
      files = v.contentFiles;
      return { v, none, r };
    }, [
      (c) => withVersion.base.push(copyAndHash(c.v.install, path.join(work, `first-${size}-cp-${c.r}`))),
      (c) => {
        withVersion.ours.push(upgrade(c.v.dir, src));
        settle();
        rb.ours.push(rollback(c.v.dir));
      },
      (c) => without.ours.push(upgrade(c.none.dir, src)),
    ]);
    const mem = k === 2 ? { mib: 150, why: "issue 24, at 100k" } : {};
    row(`first upgrade, ${files} content files, VERSION.txt`, withVersion, "cp -a + sha256sum", mem);
    row(`first upgrade, ${files} content files, no record`, without, "cp -a + sha256sum", mem);
    row(`rollback of it, ${files} content files`, rb, "cp -a + sha256sum", { ratio: 0.3, why: "issue 24's, as at 17.5k" });
    said(withVersion);
    fs.rmSync(src, { recursive: true, force: true });
  }
}

async function dryRunRows(work: string): Promise<void> {
  const size = n(10000);
  const src = path.join(work, "dry-src");
  const [c1, c2] = makeSource(src, [{ release: OLD_RELEASE, server: "v1", bulk: Math.max(0, size - 92) }, { release: NEW_RELEASE, server: "v2", bulk: Math.max(0, size - 92) }]);
  const v = await makeProject(path.join(work, "dry-v"), src, c1, "version");
  const none = await makeProject(path.join(work, "dry-n"), src, c1, "none");
  const gitDiff = () => timed("git", ["diff", "--stat", c1, c2], src);
  const dv: Sample = { ours: [], base: [] };
  const dn: Sample = { ours: [], base: dv.base };
  await alternate(() => null, [() => dv.base.push(gitDiff()), () => dv.ours.push(upgrade(v.dir, src, ["--dry-run"])), () => dn.ours.push(upgrade(none.dir, src, ["--dry-run"]))]);
  row(`--dry-run first upgrade, ${v.contentFiles} content files, VERSION.txt`, dv, "git diff --stat", { ratio: 20, why: "issue 24" });
  row(`--dry-run first upgrade, ${none.contentFiles} content files, no record`, dn, "git diff --stat", { ratio: 20, why: "issue 24" });
  for (const p of [v, none]) row(`MCP upgrade_plan (official client, one call), ${p.contentFiles} content files, ${p === v ? "VERSION.txt" : "no record"}`, await mcpPlan(p.dir, src, gitDiff), "git diff --stat", { ms: 1000, why: "issue 24" });
}

/** `agent-os-upgrade mcp` started as an IDE does; each `upgrade_plan` call timed, alternated with `baseline`. Peak: the server's VmHWM. */
async function mcpPlan(project: string, source: string, baseline: () => Timed): Promise<Sample> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, "mcp", "--target", project], env: { ...process.env as Record<string, string>, NO_COLOR: "1" }, stderr: "pipe" });
  const client = new Client({ name: "aou-bench", version: "1.0.0" });
  await client.connect(transport, { timeout: 60_000 });
  const s: Sample = { ours: [], base: [] };
  try {
    const call = async () => {
      const t0 = performance.now();
      const r = await client.callTool({ name: "upgrade_plan", arguments: { source } }, undefined, { timeout: 600_000 });
      const ms = performance.now() - t0;
      if (r.isError) throw new Error(`upgrade_plan failed: ${JSON.stringify(r.content)}`);
      const hwm = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${transport.pid}/status`, "utf8"));
      s.ours.push({ ms, peakKib: hwm ? Number(hwm[1]) : 0, stdout: "" });
    };
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2) {
        await call();
        s.base.push(baseline());
      } else {
        s.base.push(baseline());
        await call();
      }
    }
  } finally {
    await client.close();
  }
  return s;
}

async function secondRow(work: string): Promise<void> {
  const size = n(10000);
  const edit = Math.min(100, size - 92);
  const src = path.join(work, "second-src");
  const [c1, c2] = makeSource(src, [
    { release: OLD_RELEASE, server: "v1", bulk: Math.max(0, size - 92) },
    { release: NEW_RELEASE, server: "v2", bulk: Math.max(0, size - 92) },
    { release: NEW_RELEASE, server: "v2", bulk: Math.max(0, size - 92), edit },
  ]);
  const at2 = sourceAt(src, c2, path.join(work, "second-src-at-2"));
  const s: Sample = { ours: [], base: [] };
  let files = 0;
  await alternate(async (r) => {
    const p = await makeProject(path.join(work, `second-${r}`), src, c1, "version");
    upgrade(p.dir, at2);
    files = p.contentFiles;
    return { p, r };
  }, [(c) => s.base.push(copyAndHash(c.p.install, path.join(work, `second-cp-${c.r}`))), (c) => s.ours.push(upgrade(c.p.dir, src))]);
  row(`second upgrade (our record), ${files} content files, ${edit} changed upstream`, s, "cp -a + sha256sum");
}

async function changedRows(work: string): Promise<void> {
  const counts = [10, 100, 1000, 10000].map(n);
  const bulk = Math.max(...counts);
  const src = path.join(work, "changed-src");
  const commits = makeSource(src, [{ release: NEW_RELEASE, server: "v1", bulk }, ...counts.map((edit) => ({ release: NEW_RELEASE, server: "v1" as const, bulk, edit }))]);
  for (const [k, count] of counts.entries()) {
    const at = sourceAt(src, commits[k + 1], path.join(work, `changed-src-${count}`));
    // The physical work's inputs, laid out as the install: the N paths and their new text.
    const list = path.join(work, `changed-${count}.list`);
    fs.writeFileSync(list, Array.from({ length: count }, (_, i) => `standards/universal/${bulkPath(i).slice("standards/".length)}`).join("\0") + "\0");
    const fresh = path.join(work, `changed-${count}-new`);
    fs.mkdirSync(path.join(fresh, "standards"), { recursive: true });
    sh(`git -C ${q(at)} archive --format=tar HEAD universal/standards/bulk | tar -x -C ${q(fresh)}\nmv ${q(fresh)}/universal/standards ${q(fresh)}/standards/universal`, work);
    const s: Sample = { ours: [], base: [] };
    await alternate(async (r) => {
      const p = await makeProject(path.join(work, `changed-${count}-${r}`), src, commits[0], "version");
      const base = path.join(work, `changed-${count}-base-${r}`);
      sh(`mkdir -p ${q(base)}/install ${q(base)}/backup && cp -a ${q(p.install)}/standards ${q(base)}/install/`, work);
      return { p, base };
    }, [
      (c) => s.base.push(physicalWork(path.join(c.base, "install"), path.join(c.base, "backup"), fresh, list)),
      (c) => s.ours.push(upgrade(c.p.dir, at)),
    ]);
    row(`upgrade with ${count} content files changed (of ${bulk + 92}), server unchanged`, s, "physical work", k === counts.length - 1 ? { ratio: 1.2, why: "issue 24, at 10k" } : {});
  }
}

/** Copy the old files aside, write the new ones in place, hash both, sync: one script. */
function physicalWork(install: string, backup: string, fresh: string, list: string): Timed {
  return sh([
    `cd ${q(install)} && xargs -0 -a ${q(list)} cp -a --parents -t ${q(backup)}`,
    `cd ${q(fresh)} && xargs -0 -a ${q(list)} cp --parents -t ${q(install)}`,
    `cd ${q(backup)} && xargs -0 -a ${q(list)} sha256sum > /dev/null`,
    `cd ${q(install)} && xargs -0 -a ${q(list)} sha256sum > /dev/null`,
    `sync -f ${q(install)}`,
  ].join("\n"), install);
}

async function pruneRow(work: string): Promise<void> {
  const files = n(Number(process.env.AOU_BENCH_PRUNE_FILES ?? 10000));
  const src = path.join(work, "prune-src");
  const steps = [0, 1, 2, 3, 4].map((k) => ({ release: NEW_RELEASE, server: "v1" as const, bulk: files, edit: k ? files : 0 }));
  const commits = makeSource(src, steps);
  const at = [1, 2, 3].map((k) => sourceAt(src, commits[k], path.join(work, `prune-src-${k}`)));
  const s: Sample = { ours: [], base: [] };
  let pruned = "";
  // Three upgrades (set-up flags), each replacing every bulk file: three large backups, as many as retention keeps (3).
  const prepare = async (name: string) => {
    const p = await makeProject(path.join(work, name), src, commits[0], "version");
    for (const a of at) upgrade(p.dir, a, SETUP_FLAGS);
    return p;
  };
  const backups = (p: string) => fs.readdirSync(path.join(p, ".agent-os/.backups")).filter((e) => /^\d{4}-/.test(e));
  await alternate(async (r) => ({ prune: await prepare(`prune-${r}`), keep: await prepare(`prune-keep-${r}`) }), [
    (c) => {
      const before = backups(c.prune.dir);
      s.ours.push(upgrade(c.prune.dir, src));
      const after = backups(c.prune.dir);
      pruned = `backups ${before.length} → ${after.length}, ${before.filter((b) => !after.includes(b)).length} of the old ones gone when the CLI exited`;
    },
    (c) => s.base.push(upgrade(c.keep.dir, src, ["--keep-backups", "100"])),
  ], Math.min(ROUNDS, 2)); // its set-up is the longest of the bench: two rounds, one in each order
  row(`upgrade whose retention drops a backup of ${files} files (${pruned})`, s, "same upgrade, --keep-backups 100", { ratio: 1.1, why: "pruning off the critical path" });
}

/** What the CLI printed as its own time, beside the wall time measured around the process. */
function said(s: Sample): void {
  const last = s.ours.at(-1)!;
  const line = /^(Upgrade|Dry run) .* in .*$/m.exec(last.stdout)?.[0] ?? "(no summary line)";
  console.log(`|   the last run printed "${line}"; measured around the process: ${fmt(last.ms)} | | | |`);
}

const STARTUP_RUNS = 9;
/** Medians of STARTUP_RUNS, each run alternated with its floor. */
function startupPair(ours: () => Timed, floor: () => Timed): Sample {
  const s: Sample = { ours: [], base: [] };
  for (let i = 0; i < STARTUP_RUNS; i++) {
    s.base.push(floor());
    s.ours.push(ours());
  }
  return s;
}

async function sessionRows(work: string): Promise<void> {
  const sessions = 50;
  const src = path.join(work, "sessions-src");
  const commits = makeSource(src, Array.from({ length: sessions + 1 }, (_, k) => ({ release: NEW_RELEASE, server: "v1" as const, bulk: 100, edit: k ? 1 : 0 })));
  const p = await makeProject(path.join(work, "sessions"), src, commits[0], "version");
  const at = sourceAt(src, commits[0], path.join(work, "sessions-at"));
  // Fifty real upgrades (flags that make the setup quick; what is timed below is only reading them).
  for (let k = 1; k <= sessions; k++) {
    sh(`git reset -q --hard ${commits[k]}`, at);
    upgrade(p.dir, at, SETUP_FLAGS);
  }
  const floor = () => timed(process.execPath, ["-e", "0"], p.dir);
  row(`\`status\`, ${sessions} sessions`, startupPair(() => cli(["status"], p.dir), floor), "node -e 0", { ratio: 2.5 });
  row(`\`backups list\`, ${sessions} sessions, upgrade.config.mjs`, startupPair(() => cli(["backups", "list"], p.dir), floor), "node -e 0", { ratio: 2.5 });
  // The project's config file (pip's offline flags, for the set-up) makes `backups list` load it and the plugins it imports; most projects have none.
  fs.renameSync(path.join(p.dir, "upgrade.config.mjs"), path.join(p.dir, "upgrade.config.mjs.off"));
  row(`\`backups list\`, ${sessions} sessions, zero config`, startupPair(() => cli(["backups", "list"], p.dir), floor), "node -e 0", { ratio: 2.5 });
}

function startupRows(work: string): void {
  const floor = () => timed(process.execPath, ["-e", "0"], work);
  for (const args of [["--help"], ["--version"]]) row(`\`${args[0]}\` (node, built)`, startupPair(() => cli(args, work), floor), "node -e 0", { ratio: 2.5 });
  const deno = path.join(ROOT, "node_modules/.bin/deno");
  if (!fs.existsSync(deno)) return;
  const empty = path.join(work, "empty.ts");
  fs.writeFileSync(empty, "");
  for (const args of [["--help"], ["--version"]]) {
    row(`\`${args[0]}\` (deno, sources)`, startupPair(() => timed(deno, ["run", "-A", path.join(ROOT, "app/bin.ts"), ...args], work), () => timed(deno, ["run", "-A", empty], work)), "deno run empty.ts", { ratio: 2.5 });
  }
}

const ROWS: Record<string, (work: string) => Promise<void> | void> = {
  real: realRow,
  first: firstRows,
  dryrun: dryRunRows,
  second: secondRow,
  changed: changedRows,
  prune: pruneRow,
  sessions: sessionRows,
  startup: startupRows,
};

async function main(): Promise<void> {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first (npm run bench does)`);
  const unknown = (ONLY ?? []).filter((r) => !(r in ROWS));
  if (unknown.length) throw new Error(`AOU_BENCH_ONLY: unknown row ${unknown.join(", ")}; rows: ${Object.keys(ROWS).join(", ")}`);
  console.log(`node ${process.version}, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}; ${ROUNDS} rounds alternated (medians)${SCALE !== 1 ? `; sizes ×${SCALE}` : ""}${BIG ? "; 100k rows on" : ""}`);
  console.log("| row | ours (peak) | baseline (peak) | ratio | goal |\n|---|---|---|---|---|");
  let failed = 0;
  for (const [name, run] of Object.entries(ROWS)) {
    if (ONLY && !ONLY.includes(name)) continue;
    const work = fs.mkdtempSync(path.join(os.tmpdir(), `aou-bench-users-${name}-`));
    const t0 = performance.now();
    try {
      await run(work);
    } catch (err) {
      // A command that failed is a finding, not the end of the bench: the next rows still run.
      failed++;
      console.log(`| ${name}: FAILED | ${String((err as Error).message).split("\n").find((l) => /Error|✗/.test(l))?.trim() ?? (err as Error).message.split("\n")[0]} | | | |`);
      console.error(err);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
      spawnSync("sync");
    }
    console.error(`(${name}: ${fmt(performance.now() - t0)} with set-up)`);
  }
  console.log(`\nload at the end ${os.loadavg()[0].toFixed(1)}`);
  if (failed) process.exitCode = 1;
}

await main();
