/**
 * SIGKILL at the renames of the real server swap (issues 9 and 13), Node only: the fault
 * preload is a Node `--import` module (Deno has no hook into node:fs), so on Deno this file
 * registers nothing and says so.
 *
 * Phase 3 replaces `mcp_server/` and `scripts/` with two renames each: the live folder into
 * the backup (the move is the backup), then the verified `<name>.staged-<id>` into place.
 * The upgrade is killed just before and just after each of those renames; then
 * `rollback --yes` must leave the tree exactly old, and `resume --yes` (on a copy) exactly
 * old or new, with no temp or staged folder and no lock.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { RUNTIME } from "./helpers/cli.ts";
import { type FaultRun, makeTemplate, runFaulted, type Template, tempFiles, treeDiff, treeHash } from "./helpers/crash.ts";

const test = suite("crash-swap");
const UPGRADE = (t: Template) => ["--source", t.source, "--on-conflict", "theirs", "--yes", "--no-restart", "--skip-deps", "--config", t.config];
/** The swapped folders and their staged copies, as the first argument of a mutating call. */
const SWAP_PATHS = "/\\.agent-os/(mcp_server|scripts)(\\.staged-[^/]*)?$";

/** The sweep's template plus a `scripts/` folder in the old install and a changed one upstream, so both folders are swapped. */
function makeSwapTemplate(root: string): Template {
  const t = makeTemplate(root);
  fs.mkdirSync(path.join(t.project, ".agent-os/scripts"));
  fs.writeFileSync(path.join(t.project, ".agent-os/scripts/build.sh"), "echo v1\n", { mode: 0o755 });
  fs.mkdirSync(path.join(t.source, "scripts"));
  fs.writeFileSync(path.join(t.source, "scripts/build.sh"), "echo v2\n", { mode: 0o755 });
  fs.writeFileSync(path.join(t.source, "scripts/lint.sh"), "echo lint\n", { mode: 0o755 });
  const git = (...args: string[]) => execFileSync("git", args, { cwd: t.source, stdio: "pipe" });
  git("add", "-A");
  git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "release 2 scripts");
  return t;
}

/** The matched calls of a clean upgrade that are renames: `[k, from]`. */
function swapRenames(trace: string): Array<[number, string]> {
  return fs.readFileSync(trace, "utf8").trim().split("\n").map((l) => l.split(" "))
    .filter(([, call]) => call === "rename" || call === "renameSync")
    .map(([k, , from]) => [Number(k), from]);
}

if (RUNTIME === "deno") {
  console.log("crash-swap: Node only (the fault-injection preload hooks node:fs through Node's --import); skipped on Deno");
} else {
  test("SIGKILL before and after each rename of the server swap: rollback exactly old, resume exactly old or new, no debris", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "aou-crashswap-"));
    try {
      const t = makeSwapTemplate(root);
      const oldTree = treeHash(t.project, false);

      // The reference upgrade, with the matched calls traced: which of them are the swap's renames.
      const ref = path.join(root, "ref");
      fs.cpSync(t.project, ref, { recursive: true });
      const trace = path.join(root, "ref.trace");
      const clean = await runFaulted(UPGRADE(t), ref, { AOU_FAULT_MATCH: SWAP_PATHS, AOU_FAULT_TRACE: trace });
      assert.is(clean.code, 0, clean.stdout + clean.stderr);
      const newTree = treeHash(ref, true);
      assert.is(fs.readFileSync(path.join(ref, ".agent-os/scripts/build.sh"), "utf8"), "echo v2\n");
      const renames = swapRenames(trace);
      // Per folder: live → backup, staged → live.
      assert.equal(renames.map(([, from]) => from.replace(/.*\/\.agent-os\//, "").replace(/\.staged-.*/, ".staged")), [
        "mcp_server", "mcp_server.staged", "scripts", "scripts.staged",
      ]);

      const problems: string[] = [];
      let trials = 0;
      let exact = 0;
      for (const [k, from] of renames) {
        for (const when of ["before", "after"] as const) {
          trials++;
          const label = `rename ${path.basename(from)} (k=${k}, ${when})`;
          const killed = path.join(root, `k${k}-${when}`);
          const copy = `${killed}-resume`;
          fs.cpSync(t.project, killed, { recursive: true });
          const run = await runFaulted(UPGRADE(t), killed, { AOU_FAULT_MATCH: SWAP_PATHS, AOU_FAULT_AT: String(k), AOU_FAULT_WHEN: when });
          assert.is(run.signal, "SIGKILL", `${label}: not killed (exit ${run.code}) ${run.stderr}`);
          // The kill lands mid-upgrade: content already changed, and between the renames no live folder.
          if (treeDiff(oldTree, treeHash(killed, false)).length === 0) problems.push(`${label}: the killed tree is still the old one`);
          const between = (when === "after") === !from.includes(".staged-");
          if (between && fs.existsSync(path.join(killed, path.relative(ref, from).replace(/\.staged-.*/, "")))) problems.push(`${label}: the live folder exists between the renames`);
          fs.cpSync(killed, copy, { recursive: true });
          const [rb, rs] = await Promise.all([
            runFaulted(["rollback", "--yes", "--config", t.config], killed, {}),
            runFaulted(["resume", "--yes", "--config", t.config], copy, {}),
          ]);
          const check = (which: string, dir: string, r: FaultRun, allowNew: boolean) => {
            const code = r.code;
            const vsOld = treeDiff(oldTree, treeHash(dir, false));
            const vsNew = treeDiff(newTree, treeHash(dir, true));
            const exact = vsOld.length === 0 || (allowNew && vsNew.length === 0);
            const junk = [...tempFiles(dir).map((f) => `temp ${f}`), ...(fs.existsSync(path.join(dir, ".agent-os/.upgrade-lock")) ? ["lock left"] : [])];
            if (code !== 0 || !exact || junk.length) {
              const diff = vsOld.length <= vsNew.length || !allowNew ? vsOld.map((d) => `vs old: ${d}`) : vsNew.map((d) => `vs new: ${d}`);
              problems.push(`${label} ${which}: exit ${code}; ${exact ? "exact" : diff.slice(0, 4).join("; ")}; ${junk.join("; ")}; ${(r.stderr.trim() || r.stdout.trim()).split("\n").slice(-3).join(" | ")}`);
              if (process.env.AOU_CRASH_KEEP) fs.cpSync(dir, path.join(process.env.AOU_CRASH_KEEP, path.basename(dir)), { recursive: true });
            }
          };
          const before = problems.length;
          check("rollback", killed, rb, false);
          check("resume", copy, rs, true);
          if (problems.length === before) exact++;
          fs.rmSync(killed, { recursive: true, force: true });
          fs.rmSync(copy, { recursive: true, force: true });
        }
      }
      console.log(`\n  server swap: ${exact} of ${trials} kills at its renames recovered exactly`);
      assert.equal(problems, []);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
}

test.run();
