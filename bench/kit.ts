/**
 * What bench/users.ts measures on, built only from public things (git, files, the demo kit):
 * a source checkout whose commits are real Agent OS releases plus N bulk content files, a
 * project installed from one of its commits as upstream's installer leaves it (`VERSION.txt`
 * or no record at all, a real venv from local wheels, `.cursor/mcp.json`, an
 * `upgrade.config.mjs` pointing pip at the wheel folder), and the timer: wall time and peak
 * memory (GNU time's %M) of one command.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { NEW_RELEASE, OLD_RELEASE, releaseUniversal } from "../demo/kit/assets.ts";
import { fixtureRequirements, fixtureScriptsDir, fixtureServerDir, type ServerVersion } from "../demo/kit/fixture-server.ts";
import { copyTree } from "../demo/kit/tree.ts";
import { createVenv } from "../demo/kit/venv.ts";
import { offlinePipArgs, sharedWheelhouse } from "../demo/kit/wheels.ts";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** The CLI as users run it: the built package (`npm run build`). */
export const BIN = path.join(ROOT, "dist/app/bin.js");
export { NEW_RELEASE, OLD_RELEASE };

/** One commit of a bench source: a release's `universal/`, a fixture server, `bulk` extra content files, the first `edit` of them revised. */
export interface Step {
  release: string;
  server: ServerVersion;
  bulk: number;
  /** Bulk files (the first ones) whose text this commit changes. */
  edit?: number;
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "-c", "commit.gpgsign=false", ...args], { cwd, encoding: "utf8", maxBuffer: 1 << 28 }).trim();
}

/** Real Agent OS text, cycled: bulk files look like the content they stand for. */
let bodies: string[] | undefined;
function bulkText(i: number, revision: number): string {
  if (!bodies) {
    const out: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith(".md")) out.push(fs.readFileSync(p, "utf8"));
      }
    };
    walk(releaseUniversal(OLD_RELEASE));
    bodies = out.sort();
  }
  return `<!-- bulk ${i}${revision ? `, revision ${revision}` : ""} -->\n${bodies[i % bodies.length]}`;
}

/** `standards/bulk/dNNN/fNNNNNN.md` under `universal/` (SPEC §2 maps it to `standards/universal/bulk/…`). */
export const bulkPath = (i: number) => `standards/bulk/d${String(Math.floor(i / 500)).padStart(3, "0")}/f${String(i).padStart(6, "0")}.md`;

/** A git source checkout with one commit per step (branch main, HEAD the last); returns the commits. */
export function makeSource(dir: string, steps: Step[]): string[] {
  fs.mkdirSync(dir, { recursive: true });
  git(dir, "init", "-q", "-b", "main");
  const commits: string[] = [];
  let written = 0;
  steps.forEach((s, n) => {
    // The release's files replace the previous release's; bulk files stay where they are.
    for (const e of fs.existsSync(path.join(dir, "universal")) ? fs.readdirSync(path.join(dir, "universal")) : []) {
      if (e !== "standards") fs.rmSync(path.join(dir, "universal", e), { recursive: true });
      else for (const f of fs.readdirSync(path.join(dir, "universal/standards"))) if (f !== "bulk") fs.rmSync(path.join(dir, "universal/standards", f), { recursive: true });
    }
    copyTree(releaseUniversal(s.release), path.join(dir, "universal"));
    for (; written < s.bulk; written++) writeText(path.join(dir, "universal", bulkPath(written)), bulkText(written, 0));
    for (let i = 0; i < (s.edit ?? 0); i++) writeText(path.join(dir, "universal", bulkPath(i)), bulkText(i, n));
    for (const d of ["mcp_server", "scripts"]) fs.rmSync(path.join(dir, d), { recursive: true, force: true });
    copyTree(fixtureServerDir(s.server), path.join(dir, "mcp_server"));
    copyTree(fixtureScriptsDir(s.server), path.join(dir, "scripts"));
    git(dir, "add", "-A");
    git(dir, "commit", "-qm", `step ${n}: ${s.release} + ${s.bulk} bulk, ${s.edit ?? 0} edited, server ${s.server}`);
    commits.push(git(dir, "rev-parse", "HEAD"));
  });
  return commits;
}

/** A clone of `source` whose main branch is at `commit` (a local clone shares the objects: cheap). */
export function sourceAt(source: string, commit: string, dir: string): string {
  execFileSync("git", ["clone", "-q", "--shared", source, dir]);
  git(dir, "reset", "-q", "--hard", commit);
  return dir;
}

function writeText(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

export interface Project {
  dir: string;
  install: string;
  /** Content files installed (the mapped folders). */
  contentFiles: number;
}

/**
 * A project with `commit` of `source` installed as upstream's installer does it (SPEC §2):
 * `record` "version" writes VERSION.txt naming the commit, "none" leaves no record at all.
 */
export async function makeProject(dir: string, source: string, commit: string, record: "version" | "none", server: ServerVersion = "v1"): Promise<Project> {
  const install = path.join(dir, ".agent-os");
  const stage = path.join(dir, ".stage");
  fs.mkdirSync(stage, { recursive: true });
  execFileSync("bash", ["-c", `git -C ${q(source)} archive --format=tar ${commit} universal | tar -x -C ${q(stage)}`]);
  fs.mkdirSync(path.join(install, "standards"), { recursive: true });
  fs.renameSync(path.join(stage, "universal/standards"), path.join(install, "standards/universal"));
  for (const d of ["workflows", "usage"]) if (fs.existsSync(path.join(stage, "universal", d))) fs.renameSync(path.join(stage, "universal", d), path.join(install, d));
  fs.rmSync(stage, { recursive: true });
  copyTree(fixtureServerDir(server), path.join(install, "mcp_server"));
  copyTree(fixtureScriptsDir(server), path.join(install, "scripts"));
  if (record === "version") fs.writeFileSync(path.join(install, "VERSION.txt"), `version=1.3.0\ncommit=${commit}\n`);
  const wheelhouse = await sharedWheelhouse();
  const venv = await createVenv(path.join(install, "venv"), { packages: fixtureRequirements(server), wheelhouse });
  writeText(path.join(dir, ".cursor/mcp.json"), JSON.stringify({
    mcpServers: { "agent-os-rag": { command: venv.python, args: ["-m", "mcp_server"], env: { PYTHONPATH: install, PYTHONUNBUFFERED: "1" } } },
  }, null, 2) + "\n");
  writeText(path.join(dir, ".gitignore"), "node_modules/\n.agent-os/venv/\n");
  // What a user without network writes once: pip reads the wheel folder (as the README shows).
  writeText(path.join(dir, "upgrade.config.mjs"), `import { depsPlugin } from ${JSON.stringify(path.join(ROOT, "dist/plugins/mod.js"))};
export default { plugins: [depsPlugin({ extraArgs: ${JSON.stringify(offlinePipArgs(wheelhouse))}, retries: 0 })] };
`);
  const contentFiles = Number(execFileSync("bash", ["-c", `find standards/universal workflows usage -type f 2>/dev/null | wc -l`], { cwd: install, encoding: "utf8" }).trim());
  return { dir, install, contentFiles };
}

export const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export interface Timed {
  ms: number;
  /** Peak resident memory of the command (the largest process it waited for), KiB. */
  peakKib: number;
  stdout: string;
}

/** Runs a command to its end: wall time (spawn to exit) and peak memory. Throws on a non-zero exit. */
export function timed(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Timed {
  const memFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "aou-bench-time-")), "m");
  try {
    const t0 = performance.now();
    const r = spawnSync("/usr/bin/time", ["-f", "%M", "-o", memFile, cmd, ...args], {
      cwd,
      encoding: "utf8",
      maxBuffer: 1 << 28,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env },
    });
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`${[cmd, ...args].join(" ")} exited ${r.status}:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
    const peakKib = Number(fs.readFileSync(memFile, "utf8").trim().split("\n").pop());
    return { ms, peakKib, stdout: r.stdout };
  } finally {
    fs.rmSync(path.dirname(memFile), { recursive: true, force: true });
  }
}

/** `agent-os-upgrade <args>` in `cwd`, as users run it. */
export const cli = (args: string[], cwd: string): Timed => timed(process.execPath, [BIN, ...args], cwd);

/** A bash script as one baseline command. */
export const sh = (script: string, cwd: string): Timed => timed("bash", ["-c", `set -e\n${script}`], cwd);

/** One `cp -a` of the installation and `sha256sum` of every copied file: what copying it safely costs. */
export const copyAndHash = (install: string, dest: string): Timed =>
  sh(`cp -a ${q(install)} ${q(dest)}\ncd ${q(dest)} && find . -type f -print0 | xargs -0 sha256sum > /dev/null`, path.dirname(install));

/** Flush, then a pause: a step does not pay for the previous one's writeback. */
export function settle(seconds = 1): void {
  spawnSync("sync");
  spawnSync("sleep", [String(seconds)]);
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
export const fmt = (ms: number) => (ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
export const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;
