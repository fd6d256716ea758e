/**
 * Backup and rollback benchmark (issue 3). For each size, on the same generated tree:
 *   baseline  `cp -a` of the backed-up paths, then `sha256sum` of every copied file
 *   ours      backup + verify (createSnapshot: copy hashed in one pass, re-read and checked,
 *             then the filesystem flushed)
 *   rollback  after a realistic upgrade (content edits, server swap, pip replacing packages),
 *             then a second rollback that must find nothing to do
 * Each measured step runs in its own process, so its peak memory (VmHWM) is its own.
 *
 *     node --import tsx bench/backup.ts                        # realistic install (~6k files)
 *     node --import tsx bench/backup.ts --sizes 5000,20000,100000 --bytes-per-file 10k
 *     node --import tsx bench/backup.ts --files 100000 --bytes 1G --rounds 1
 *     node --import tsx bench/backup.ts --sizes 700,1600 --compare /tmp/old-checkout
 * `--compare <dir>` (a checkout of another commit, with node_modules) measures that code's
 * backup and rollback too, alternated with this one's in the same run, on the same tree.
 * Trees go under $TMPDIR/aou-bench-*, removed at the end (unless --keep).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { layoutOf } from "../core/layout.ts";
import { DEFAULT_INSTALL_PATHS, DEFAULT_PROJECT_PATHS } from "../plugins/backup/roots.ts";
import { generateInstall } from "./gen-install.ts";

const HERE = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(HERE), "..");

function peakMemory(): number {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]) * 1024;
  } catch { /* not Linux */ }
  return process.memoryUsage().rss;
}

// ---- child side: one measured operation, printed as one JSON line -------------------------
async function child(op: string, root: string): Promise<void> {
  const { createSnapshot } = await import("../plugins/backup/snapshot.ts");
  const { resolveRoots } = await import("../plugins/backup/roots.ts");
  const { restoreSnapshot } = await import("../plugins/backup/restore.ts");
  const layout = layoutOf(root, path.join(root, ".agent-os"));
  const t0 = performance.now();
  let extra: Record<string, unknown> = {};
  if (op === "idle") {
    // The floor: this runtime with the modules loaded, before any work.
  } else if (op === "backup" || op === "backup-nosync") {
    const r = await createSnapshot(layout, resolveRoots(layout, [], { include: [...DEFAULT_INSTALL_PATHS], includeProject: [...DEFAULT_PROJECT_PATHS], exclude: [] }), { sessionId: null, sync: op === "backup" });
    extra = { id: r.id, files: r.manifest.file_count, bytes: r.manifest.total_size, method: r.manifest.method, timings: r.timings };
  } else if (op === "rollback") {
    const { compareIdsDesc, isBackupId } = await import("../plugins/backup/names.ts");
    const id = fs.readdirSync(layout.backupsDir).filter(isBackupId).sort(compareIdsDesc)[0];
    const r = await restoreSnapshot(layout, path.join(layout.backupsDir, id));
    extra = { files_restored: r.files_restored, created_removed: r.created_removed, symlinks: r.symlinks_restored, modes: r.modes_fixed, checked: r.files_checked, timings: r.timings };
  }
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ ms, peak: peakMemory(), ...extra }));
}

// ---- parent side ----------------------------------------------------------------------------
const isDeno = typeof (process.versions as Record<string, string | undefined>).deno === "string";
/** The runtime of the measured steps: this one, or `--child-runtime node|deno`. */
let childRuntime: "node" | "deno" = isDeno ? "deno" : "node";

type Measured = Record<string, unknown> & { ms: number; peak: number };

/** Runs one measured step in a child, with this tree's code or (`code`) another checkout's. */
function runChild(op: string, root: string, code: string = ROOT): Promise<Measured> {
  const deno = childRuntime === "deno";
  const cmd = deno ? (isDeno ? process.execPath : path.join(ROOT, "node_modules/.bin/deno")) : isDeno ? "node" : process.execPath;
  const script = path.join(code, "bench", "backup.ts");
  const argv = deno ? ["run", "-A", script, "--op", op, root] : ["--import", "tsx", script, "--op", op, root];
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, argv, { cwd: code, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    c.stdout.on("data", (b: Buffer) => (out += b));
    c.on("exit", (code) => {
      const line = out.trim().split("\n").at(-1) ?? "";
      if (code !== 0) reject(new Error(`${op} exited ${code}: ${out}`));
      else resolve(JSON.parse(line));
    });
  });
}

/** The same paths the backup copies, copied by `cp -a`, then every copied file through `sha256sum`. */
function baseline(root: string, work: string, round: number): { cp_ms: number; sha_ms: number; ms: number; peak: number } {
  const layout = layoutOf(root, path.join(root, ".agent-os"));
  const rels = ["standards/universal", "workflows", "usage", "mcp_server", "scripts", "config.json", "VERSION.txt", "UPDATE_LOG.txt", "INSTALLATION_SUMMARY.md", ".upgrade", "venv"]
    .filter((r) => fs.existsSync(path.join(layout.installDir, r)));
  const dest = path.join(work, `cp-a-${round}`);
  fs.mkdirSync(path.join(dest, "install", "standards"), { recursive: true });
  fs.mkdirSync(path.join(dest, "project", ".cursor"), { recursive: true });
  const script = [
    "set -e",
    `cd ${JSON.stringify(layout.installDir)}`,
    `t0=$(date +%s%N)`,
    `cp -a --parents ${rels.map((r) => JSON.stringify(r)).join(" ")} ${JSON.stringify(path.join(dest, "install"))}`,
    `cp -a ${JSON.stringify(layout.gitignore)} ${JSON.stringify(path.join(dest, "project"))}`,
    `cp -a ${JSON.stringify(layout.mcpJson)} ${JSON.stringify(path.join(dest, "project", ".cursor"))}`,
    `t1=$(date +%s%N)`,
    `cd ${JSON.stringify(dest)} && find . -type f -print0 | xargs -0 sha256sum > /dev/null`,
    `t2=$(date +%s%N)`,
    `echo $(( (t1 - t0) / 1000000 )) $(( (t2 - t1) / 1000000 ))`,
  ].join("\n");
  const r = spawnSync("/usr/bin/time", ["-f", "%M", "bash", "-c", script], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`baseline failed: ${r.stderr}`);
  const [cp, sha] = r.stdout.trim().split(/\s+/).map(Number);
  const peakKb = Number(r.stderr.trim().split("\n").at(-1));
  return { cp_ms: cp, sha_ms: sha, ms: cp + sha, peak: peakKb * 1024 };
}

/** What an upgrade does, at realistic proportions: content edits, the server swap, pip replacing packages. */
function upgrade(root: string): number {
  const I = (p: string) => path.join(root, ".agent-os", p);
  let changed = 0;
  const walk = (d: string, f: (p: string) => void) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p, f);
      else if (e.isFile()) f(p);
    }
  };
  let i = 0;
  walk(I("standards/universal"), (p) => {
    if (i++ % 2 === 0) {
      fs.appendFileSync(p, "\nupgraded\n");
      changed++;
    }
  });
  for (let k = 0; k < 39; k++) {
    fs.mkdirSync(I("standards/universal/new"), { recursive: true });
    fs.writeFileSync(I(`standards/universal/new/added-${k}.md`), "# new\n".repeat(50));
    changed++;
  }
  fs.rmSync(I("mcp_server"), { recursive: true });
  fs.mkdirSync(I("mcp_server"));
  for (let k = 0; k < 40; k++) fs.writeFileSync(I(`mcp_server/m${k}.py`), "x = 1\n".repeat(200));
  changed += 40;
  const site = I("venv/lib/python3.11/site-packages");
  for (const pkg of ["pkg1", "pkg2"]) {
    if (!fs.existsSync(path.join(site, pkg))) continue;
    fs.rmSync(path.join(site, pkg), { recursive: true });
    fs.mkdirSync(path.join(site, pkg));
    for (let k = 0; k < 100; k++) fs.writeFileSync(path.join(site, pkg, `m${k}.py`), "y = 2\n".repeat(300));
    changed += 100;
  }
  fs.appendFileSync(path.join(root, ".gitignore"), ".agent-os/.backups/\n");
  return changed;
}

function settle(seconds = 3): void {
  spawnSync("sync");
  spawnSync("sleep", [String(seconds)]);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const list = (xs: number[]) => `[${xs.map(fmtMs).join(", ")}]`;

function fmtMs(ms: number): string {
  return ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}
const mb = (b: number) => `${(b / 1048576).toFixed(0)} MB`;

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)b?$/i.exec(s.trim());
  if (!m) throw new Error(`Cannot parse size "${s}": expected e.g. 10k, 500M or 1G`);
  return Math.round(Number(m[1]) * { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as "" | "k" | "m" | "g"]);
}

async function main(argv: string[]): Promise<void> {
  const arg = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const bytesPerFile = parseSize(arg("--bytes-per-file") ?? "10k");
  let sizes: Array<{ files: number; bytes: number }>;
  if (arg("--files") || arg("--bytes")) {
    const files = Number(arg("--files") ?? 100000);
    sizes = [{ files, bytes: arg("--bytes") ? parseSize(arg("--bytes")!) : files * bytesPerFile }];
  } else if (arg("--sizes")) {
    sizes = arg("--sizes")!.split(",").map((n) => ({ files: Number(n), bytes: Number(n) * bytesPerFile }));
  } else sizes = [{ files: 6000, bytes: 60 * 1048576 }];
  const keep = argv.includes("--keep");
  if (arg("--child-runtime") === "deno" || arg("--child-runtime") === "node") childRuntime = arg("--child-runtime") as "node" | "deno";
  const rounds = Number(arg("--rounds") ?? 3);
  const compare = arg("--compare") ? path.resolve(arg("--compare")!) : null;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "aou-bench-"));
  const floor = await runChild("idle", work);
  console.log(`measured steps run on ${childRuntime}${childRuntime === "node" ? " " + process.version + " (with the tsx loader)" : ""}; ${os.cpus().length} cores; tree under ${work}`);
  console.log(`memory floor (runtime + modules, no work): ${mb(floor.peak)}`);
  const rows: string[] = [];
  try {
    for (const size of sizes) {
      const root = path.join(work, `p${size.files}`);
      const t = performance.now();
      const g = generateInstall(root, { files: size.files, bytes: size.bytes });
      console.log(`\n== ${g.files} files, ${mb(g.bytes)} (generated in ${fmtMs(performance.now() - t)})`);
      // Deleting a large tree just before a timed step makes that step pay for it (on a disk
      // mounted with `discard`, several times over: measured here, cp -a of 10k files took
      // 0.7 s on quiet storage and 10 s right after a delete). So nothing is deleted between
      // timed steps — each writes into fresh space — every step starts after a flush and a
      // pause, the order of ours and the baseline alternates, and medians are compared.
      const base: ReturnType<typeof baseline>[] = [];
      const codes: Array<{ name: string; dir: string; runs: Measured[] }> = [{ name: "this code", dir: ROOT, runs: [] }];
      if (compare) codes.push({ name: `compare (${compare})`, dir: compare, runs: [] });
      for (let round = 0; round < rounds; round++) {
        const steps = [
          () => base.push(baseline(root, work, round)),
          ...codes.map((c) => async () => c.runs.push(await runChild("backup", root, c.dir))),
        ];
        if (round % 2 === 1) steps.reverse();
        for (const step of steps) {
          settle();
          await step();
        }
      }
      const b = median(base.map((x) => x.ms));
      console.log(`baseline cp -a + sha256sum: ${list(base.map((x) => x.ms))} median ${fmtMs(b)} (last: cp ${fmtMs(base.at(-1)!.cp_ms)}, sha256sum ${fmtMs(base.at(-1)!.sha_ms)}), peak ${mb(Math.max(...base.map((x) => x.peak)))}`);
      for (const c of codes) {
        const f = median(c.runs.map((x) => x.ms));
        const tf = c.runs.at(-1)!.timings as Record<string, number>;
        const peak = Math.max(...c.runs.map((x) => x.peak));
        console.log(`${c.name}: backup + verify + syncfs: ${list(c.runs.map((x) => x.ms))} median ${fmtMs(f)} (last: copy ${fmtMs(tf.copy_ms)}, verify ${fmtMs(tf.verify_ms)}, syncfs ${fmtMs(tf.sync_ms)}; ${c.runs[0].method}), ratio ${(f / b).toFixed(2)}x; peak memory ${mb(peak)}`);
        settle();
        const changed = upgrade(root);
        const rb = await runChild("rollback", root, c.dir);
        const rt = rb.timings as Record<string, number>;
        console.log(`${c.name}: rollback after ${changed} changed files: ${fmtMs(rb.ms)} (check ${fmtMs(rt.check_ms)}, stage ${fmtMs(rt.stage_ms)}, commit ${fmtMs(rt.commit_ms)}; ${rb.files_restored} restored, ${rb.created_removed} removed), peak ${mb(rb.peak)}`);
        const again = await runChild("rollback", root, c.dir);
        console.log(`${c.name}: second rollback (nothing to do): ${fmtMs(again.ms)}, ${again.files_restored} restored, peak ${mb(again.peak)}`);
        rows.push(`| ${c.name} | ${g.files} | ${mb(g.bytes)} | ${fmtMs(b)} | ${fmtMs(f)} (${(f / b).toFixed(2)}x) | ${fmtMs(rb.ms)} | ${fmtMs(again.ms)} | ${mb(peak)} / ${mb(Math.max(rb.peak, again.peak))} |`);
      }
      if (!keep) {
        fs.rmSync(root, { recursive: true, force: true });
        for (let round = 0; round < rounds; round++) fs.rmSync(path.join(work, `cp-a-${round}`), { recursive: true, force: true });
        settle(15);
      }
    }
  } finally {
    if (!keep) fs.rmSync(work, { recursive: true, force: true });
  }
  console.log(`\nmeasured on ${childRuntime}; memory floor ${mb(floor.peak)}`);
  console.log("| code | files | size | cp -a + sha256sum | backup+verify+syncfs | rollback | rollback, no-op | peak backup / rollback |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(r);
}

const argv = process.argv.slice(2);
if (argv[0] === "--op") await child(argv[1], argv[2]);
else await main(argv);
