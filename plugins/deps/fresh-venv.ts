/**
 * A migration's venv (issue 23): a venv holds absolute paths (its scripts' `#!` lines,
 * `activate`, `pyvenv.cfg`'s command), so after the folder moved to `.praxis-os/` the old
 * one is moved aside into the backup (the move is the backup, O(1)) and a fresh one is made
 * from the same base interpreter; the deps plugin then installs every requirement into it.
 * A rollback renames the old venv back, byte for byte.
 *
 * Crash-safe by the journal: the step that moved the old venv aside records the interpreter
 * and where it went; a resumed run removes a half-made new venv and makes it again.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { UpgradeError } from "../../core/errors.ts";
import type { UpgradeContext } from "../../core/types.ts";
import { backupScope } from "../backup/scope.ts";
import { journal, journalled } from "../server/shared.ts";

export const VENV_ASIDE = "deps:venv-aside";

/** The interpreter a venv was made from: `pyvenv.cfg`'s `executable` (3.11+), else its `bin/python`'s target outside it, else `home`/python3. */
export function baseInterpreter(venv: string): string | null {
  let cfg = "";
  try {
    cfg = fs.readFileSync(path.join(venv, "pyvenv.cfg"), "utf8");
  } catch { /* not a venv, or an unreadable one */ }
  const key = (k: string) => new RegExp(`^\\s*${k}\\s*=\\s*(.+?)\\s*$`, "m").exec(cfg)?.[1] ?? null;
  const exe = key("executable");
  if (exe && fs.existsSync(exe)) return exe;
  try {
    const real = fs.realpathSync(path.join(venv, "bin", "python"));
    if (!real.startsWith(fs.realpathSync(venv) + path.sep)) return real;
  } catch { /* no bin/python */ }
  const home = key("home");
  const guess = home ? path.join(home, "python3") : null;
  return guess && fs.existsSync(guess) ? guess : null;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", (err) => resolve({ code: null, output: err.message }));
    child.on("close", (code) => resolve({ code, output }));
  });
}

/** Moves the old venv into the backup (once per session) and makes a fresh one at the same place. */
export async function freshVenv(ctx: UpgradeContext, timeoutMs: number): Promise<void> {
  const venv = ctx.layout.venvDir;
  let done = journalled(ctx, VENV_ASIDE);
  if (!done) {
    const base = baseInterpreter(venv) ?? "python3";
    const aside = backupScope(ctx).asideFor(venv);
    if (!aside) throw new UpgradeError("SERVER_FAILED", `Cannot make a fresh venv at ${venv}: no backup holds the old one`, { hint: "Enable the backup plugin, or pass --skip-deps (then make the venv by hand)" });
    await journal(ctx, VENV_ASIDE, { base, aside });
    if (fs.existsSync(venv)) {
      fs.mkdirSync(path.dirname(aside), { recursive: true });
      fs.renameSync(venv, aside);
    }
    done = { base, aside };
  } else if (!fs.existsSync(String(done.aside)) && fs.existsSync(venv)) {
    // A resumed run killed between the journal and the move: the venv there is still the old one.
    fs.mkdirSync(path.dirname(String(done.aside)), { recursive: true });
    fs.renameSync(venv, String(done.aside));
  } else {
    // A resumed run: what stands at the venv's place is a half-made new venv of ours.
    fs.rmSync(venv, { recursive: true, force: true });
  }
  const base = String(done.base);
  const r = await run(base, ["-m", "venv", venv], timeoutMs);
  if (r.code !== 0) {
    throw new UpgradeError("SERVER_FAILED", `Cannot make a fresh venv at ${venv} with ${base}: ${r.output.trim().split("\n").at(-1) ?? `exit ${r.code}`}`, {
      hint: `Check that "${base} -m venv" works (Debian: apt-get install python3-venv); the migration is rolled back`,
    });
  }
  ctx.log.info(`deps: made a fresh venv at ${venv} with ${base} (the old one is in the backup)`);
}
