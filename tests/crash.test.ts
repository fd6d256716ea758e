/**
 * Crash sweep (issue 13), Node only: the fault preload is a Node `--import` module (Deno has
 * no equivalent hook into node:fs), so on Deno this file registers nothing and says so.
 *
 * A real upgrade (`--on-conflict theirs --yes --no-restart --skip-deps`), and a real migration
 * (`migrate`, the same flags: `.agent-os/` → `.praxis-os/`, Cursor's entry, `.gitignore`, an
 * instruction file), is SIGKILLed at its
 * k-th mutating filesystem call, for k over an even stride; then `rollback --yes` runs on
 * the killed tree and `resume --yes` on a copy of it. Each must leave the tree exactly old
 * (rollback) or exactly old or new (resume): no temp file, no lock, nothing in the temp dir
 * or /dev/shm, user files intact.
 *
 * `npm test` runs a short stride; `npm run test:crash` the full sweep (every k, kills before
 * and after the call alternating). Knobs: AOU_CRASH_FULL=1, AOU_CRASH_STRIDE, AOU_CRASH_EDGE,
 * AOU_CRASH_ONLY=upgrade|migration|migration-dist, AOU_CRASH_FROM=k.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { RUNTIME } from "./helpers/cli.ts";
import { crashPoints, type FaultRun, makeTemplate, runFaulted, type Template, tempFiles, treeDiff, treeHash, USER_FILES } from "./helpers/crash.ts";

const test = suite("crash");
const FULL = process.env.AOU_CRASH_FULL === "1";
const UPGRADE = (t: Template) => ["--source", t.source, "--on-conflict", "theirs", "--yes", "--no-restart", "--skip-deps", "--config", t.config];
/** `migrate`: the same, moving `.agent-os/` to `.praxis-os/` (a fresh venv is left out, as pip is: no venv here). */
const MIGRATE = (t: Template) => ["migrate", ...UPGRADE(t)];

type Verdict = "old" | "new" | "mixed";
interface Tally { old: number; new: number; mixed: number; lock: number }

function verdict(project: string, oldTree: Map<string, string>, newTree: Map<string, string>): { v: Verdict; diff: string[] } {
  const exactOld = treeDiff(oldTree, treeHash(project, false));
  if (exactOld.length === 0) return { v: "old", diff: [] };
  const exactNew = treeDiff(newTree, treeHash(project, true));
  if (exactNew.length === 0) return { v: "new", diff: [] };
  return { v: "mixed", diff: exactOld.length <= exactNew.length ? exactOld.map((d) => `vs old: ${d}`) : exactNew.map((d) => `vs new: ${d}`) };
}

/** Debris a recovery must not leave: temp files, a lock, files in our temp dir or /dev/shm named by our pids. */
function debris(project: string, tmp: string, pids: number[]): string[] {
  const out = tempFiles(project).map((f) => `temp file ${f}`);
  const install = [".agent-os", ".praxis-os"].find((d) => fs.existsSync(path.join(project, d))) ?? ".agent-os";
  if (fs.existsSync(path.join(project, install, ".upgrade-lock"))) out.push("lock left");
  for (const n of fs.readdirSync(tmp)) if (!n.startsWith("tsx-")) out.push(`temp dir: ${n}`);
  let shm: string[] = [];
  try {
    shm = fs.readdirSync("/dev/shm");
  } catch { /* no /dev/shm */ }
  for (const n of shm) if (n.startsWith("aou-") && pids.some((p) => n.includes(`-${p}-`))) out.push(`/dev/shm/${n}`);
  for (const [rel, data] of Object.entries(USER_FILES)) {
    // A migration moves the user's files with their folder.
    const p = path.join(project, rel.replace(/^\.agent-os\//, `${install}/`));
    if (!fs.existsSync(p) || fs.readFileSync(p, "utf8") !== data) out.push(`user file changed: ${rel}`);
  }
  return out;
}

/** Kills `args` at its crash points; rollback must give exactly old, resume exactly old or new. */
function sweep(what: string, migrate: boolean | "dist", args: (t: Template) => string[]): void {
  test(`every crash point of a real ${what} recovers to exactly old (rollback) or exactly old/new (resume)`, async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "aou-crash-"));
    const tmp = path.join(root, "tmp");
    fs.mkdirSync(tmp);
    try {
      const t = makeTemplate(root, { migrate: migrate !== false, dist: migrate === "dist" });
      const env = (extra: Record<string, string> = {}) => ({ TMPDIR: tmp, ...extra });
      const oldTree = treeHash(t.project, false);

      // The reference: a clean upgrade, counted.
      const ref = path.join(root, "ref");
      fs.cpSync(t.project, ref, { recursive: true });
      const count = path.join(root, "ref.count");
      const clean = await runFaulted(args(t), ref, env({ AOU_FAULT_COUNT_FILE: count }));
      assert.is(clean.code, 0, clean.stdout + clean.stderr);
      const n = fs.statSync(count).size;
      const newTree = treeHash(ref, true);
      assert.ok(n > 50, `only ${n} mutating calls counted`);

      const stride = Number(process.env.AOU_CRASH_STRIDE ?? (FULL ? 1 : Math.ceil(n / 3)));
      const edge = Number(process.env.AOU_CRASH_EDGE ?? (FULL ? 30 : 1));
      // AOU_CRASH_FROM=k: only the points from k on (to finish a sweep that was cut short).
      const points = crashPoints(n, stride, edge).filter((k) => k >= Number(process.env.AOU_CRASH_FROM ?? 0));
      const tallies: Record<"rollback" | "resume", Tally> = { rollback: { old: 0, new: 0, mixed: 0, lock: 0 }, resume: { old: 0, new: 0, mixed: 0, lock: 0 } };
      const problems: string[] = [];
      let exact = 0;

      for (const [i, k] of points.entries()) {
        const when = FULL && i % 2 === 1 ? "after" : "before";
        const killed = path.join(root, `k${k}`);
        const copy = path.join(root, `k${k}-resume`);
        fs.cpSync(t.project, killed, { recursive: true });
        const run = await runFaulted(args(t), killed, env({ AOU_FAULT_AT: String(k), AOU_FAULT_WHEN: when, AOU_FAULT_COUNT_FILE: path.join(root, `k${k}.count`) }));
        const label = `k=${k} (${when})`;
        if (run.signal !== "SIGKILL") problems.push(`${label}: the upgrade was not killed (exit ${run.code}): ${run.stderr.trim().split("\n").pop()}`);
        fs.cpSync(killed, copy, { recursive: true });
        const [rb, rs] = await Promise.all([
          runFaulted(["rollback", "--yes", "--config", t.config], killed, env()),
          runFaulted(["resume", "--yes", "--config", t.config], copy, env()),
        ]);
        let ok = true;
        const check = (which: "rollback" | "resume", dir: string, r: FaultRun, allowed: Verdict[], codes: number[]) => {
          const { v, diff } = verdict(dir, oldTree, newTree);
          const junk = debris(dir, tmp, [run.pid, r.pid]);
          tallies[which][v]++;
          if (junk.includes("lock left")) tallies[which].lock++;
          const bad = !allowed.includes(v) || junk.length > 0 || !codes.includes(r.code ?? -1);
          if (bad) {
            ok = false;
            problems.push(`${label} ${which}: exit ${r.code}, tree ${v}${diff.length ? ` (${diff.slice(0, 4).join("; ")})` : ""}${junk.length ? `; ${junk.join("; ")}` : ""}; ${(r.stderr.trim() || r.stdout.trim()).split("\n").slice(-2).join(" | ")}`);
          }
        };
        check("rollback", killed, rb, ["old"], [0]);
        // Resume finishes the upgrade, or says there is nothing to finish (killed before the session or after its end).
        check("resume", copy, rs, ["old", "new"], [0, 9]);
        if (ok) exact++;
        fs.rmSync(killed, { recursive: true, force: true });
        fs.rmSync(copy, { recursive: true, force: true });
        fs.rmSync(path.join(root, `k${k}.count`), { force: true });
      }

      console.log(`\n  ${what}: mutating calls in a clean run: ${n}; crash points tried: ${points.length} (stride ${stride}, first/last ${edge})`);
      console.log("  | recovery | trials | exactly old | exactly new | mixed | lock left |");
      for (const w of ["rollback", "resume"] as const) {
        const x = tallies[w];
        console.log(`  | ${w} | ${points.length} | ${x.old} | ${x.new} | ${x.mixed} | ${x.lock} |`);
      }
      console.log(`crash points (${what}): ${exact} of ${points.length} recovered exactly`);
      assert.equal(problems, []);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
}

if (RUNTIME === "deno") {
  console.log("crash sweep: Node only (the fault-injection preload hooks node:fs through Node's --import); skipped on Deno");
} else {
  // AOU_CRASH_ONLY=upgrade|migration|migration-dist: one sweep alone (the full sweeps take a quarter of an hour each).
  const only = process.env.AOU_CRASH_ONLY;
  if (!only || only === "upgrade") sweep("upgrade", false, UPGRADE);
  if (!only || only === "migration") sweep("migration (.agent-os → .praxis-os)", true, MIGRATE);
  // To the dist/ layout: the same move plus mcp_server/ retired and a base across the rewrite; in the full sweep (the short stride's run stays within CI's time).
  if ((!only && FULL) || only === "migration-dist") sweep("migration to dist/ (.agent-os → .praxis-os, mcp_server/ → ouroboros/)", "dist", MIGRATE);
}

test.run();
