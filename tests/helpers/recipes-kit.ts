/**
 * What the recipe tests share: the recipe files in docs/recipes, our CLI on PATH as
 * `agent-os-upgrade` (a shim that logs each call's argv, then runs the real CLI on the
 * runtime under test), Renovate's regex manager applied as its `combination` strategy does,
 * fleets of project repositories behind one bare upstream, and a Python trap (a run that
 * starts python or pip leaves a marker).
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { PROGRAM } from "../../app/cli.ts";
import { parseCommandLine } from "../../app/argv.ts";
import { readVersionFile, updatedVersionText } from "../../plugins/version-file.ts";
import { BIN, REPO, tsCommand } from "./cli.ts";
import { git } from "./content-project.ts";
import type { Fleet } from "./fleet-project.ts";

export const RECIPES = path.join(REPO, "docs", "recipes");
export const recipe = (rel: string): string => path.join(RECIPES, rel);
export const readRecipe = (rel: string): string => fs.readFileSync(recipe(rel), "utf8");

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export interface Shim {
  /** Put first on PATH. */
  bin: string;
  /** Every call's argv so far, oldest first. */
  calls(): string[][];
}

/**
 * `agent-os-upgrade` on PATH: records its argv (fields split by \x1f, calls by \x1e), then
 * execs the real CLI from this checkout on the runtime under test.
 */
export function cliShim(dir: string): Shim {
  const bin = path.join(dir, "shim-bin");
  fs.mkdirSync(bin, { recursive: true });
  const log = path.join(dir, "shim-calls");
  const [cmd, argv] = tsCommand(BIN);
  const script = [
    "#!/bin/sh",
    `for a in "$@"; do printf '%s\\037' "$a"; done >> ${sq(log)}`,
    `printf '\\036' >> ${sq(log)}`,
    // The runtime's own update check is not the recipe's business (and there is no network).
    "export DENO_NO_UPDATE_CHECK=1",
    `exec ${[cmd, ...argv].map(sq).join(" ")} "$@"`,
    "",
  ].join("\n");
  fs.writeFileSync(path.join(bin, "agent-os-upgrade"), script, { mode: 0o755 });
  const calls = () => {
    if (!fs.existsSync(log)) return [];
    return fs.readFileSync(log, "utf8").split("\x1e").slice(0, -1).map((c) => c.split("\x1f").slice(0, -1));
  };
  return { bin, calls };
}

/** The command, flags and values our own CLI parser makes of an argv (throws a UsageError for an unknown flag). */
export function parsedCall(argv: string[]): { command: string; opts: Record<string, unknown> } {
  const p = parseCommandLine(PROGRAM, argv);
  return { command: p.command.name, opts: p.opts };
}

/** `python3`, `python`, `pip`, `pip3` that leave a line in `marker` when run. */
export function pythonTrap(dir: string, marker: string): string {
  const bin = path.join(dir, "python-trap");
  fs.mkdirSync(bin, { recursive: true });
  for (const name of ["python3", "python", "pip", "pip3"]) {
    fs.writeFileSync(path.join(bin, name), `#!/bin/sh\necho "${name} $*" >> ${sq(marker)}\nexit 1\n`, { mode: 0o755 });
  }
  return bin;
}

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program as the engines do: no stdin, the given cwd and env, output captured. */
export function runProgram(cmd: string, args: string[], opts: { cwd: string; env: Record<string, string | undefined>; timeoutMs?: number }): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 180_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The paths `git status` lists in a clone (changed, added, deleted, untracked): the engines' "were there changes?". */
export function changes(dir: string): string[] {
  const out = execFileSync("git", ["status", "--porcelain=v1", "-z", "--untracked-files=all"], { cwd: dir, encoding: "utf8" });
  return out.split("\0").filter(Boolean).map((entry) => entry.slice(3));
}

/** Records `source=` and `ref=` in the install's VERSION.txt as a run from that URL and ref would (plugins/version-file.ts), and commits. */
export function recordSource(project: string, url: string, ref: string): void {
  const file = path.join(project, ".agent-os", "VERSION.txt");
  fs.writeFileSync(file, updatedVersionText(readVersionFile(file), { source: url, ref }));
  git(project, "commit", "-qam", "record the source");
}

/** Upstream moves on: one more commit on the bare upstream's main (a line added to a standard); returns it. */
export function advanceUpstream(f: Fleet): string {
  const work = path.join(f.root, `upstream-next-${Date.now()}`);
  git(f.root, "clone", "-q", f.bare, work);
  const file = git(work, "ls-files", "universal/standards").split("\n").filter((p) => p.endsWith(".md"))[0];
  fs.appendFileSync(path.join(work, file), "\nOne more line from upstream.\n");
  git(work, "commit", "-qam", "upstream moves on");
  git(work, "push", "-q", "origin", "HEAD:main");
  const commit = git(work, "rev-parse", "HEAD");
  fs.rmSync(work, { recursive: true, force: true });
  return commit;
}

/**
 * A project as a team has it once it adopted the tool: `upgrade --ci --source <url> --ref main`
 * ran (release 2 installed, the record and manifest written) and was committed; then
 * upstream moved on. Returns the installed and the newer upstream commit.
 */
export async function adoptedProject(f: Fleet, run: (args: string[], cwd: string) => Promise<{ code: number | null; stderr: string }>): Promise<{ installed: string; next: string }> {
  const r = await run(["--ci", "--source", f.url, "--ref", "main"], f.project);
  if (r.code !== 0) throw new Error(`adopting failed: ${r.stderr}`);
  git(f.project, "add", "-A");
  git(f.project, "commit", "-qm", "Upgrade Agent OS");
  return { installed: f.commits[1], next: advanceUpstream(f) };
}

/** A bot's clone of a fleet's project (full history unless `depth`), on a new branch. */
export function botClone(f: Fleet, name: string, opts: { depth?: number; branch?: string } = {}): string {
  const dir = path.join(f.root, name);
  const depth = opts.depth ? ["--depth", String(opts.depth)] : [];
  git(f.root, "clone", "-q", ...depth, `file://${f.project}`, dir);
  if (opts.branch) git(dir, "checkout", "-q", "-b", opts.branch);
  return dir;
}

// ---- Renovate's regex manager, `matchStringsStrategy: "combination"` ----

export interface RegexManager {
  customType: string;
  fileMatch: string[];
  matchStrings: string[];
  matchStringsStrategy?: string;
  depNameTemplate?: string;
  datasourceTemplate?: string;
}

/** The recipe's custom manager (the one entry of renovate.json's `customManagers`). */
export function renovateManager(): RegexManager {
  const cfg = JSON.parse(readRecipe("renovate/renovate.json")) as { customManagers: RegexManager[] };
  return cfg.customManagers[0];
}

/**
 * What Renovate's `combination` strategy extracts from a file (its custom/regex/strategies.ts):
 * every named group of every match of every matchString (flag g), later matches winning,
 * merged into one dependency; then `depNameTemplate` (the recipe's one Handlebars form,
 * `{{#if packageName}}name{{/if}}`, evaluated here) and Renovate's validity rule: a name or
 * package name, a current value or digest, and a datasource — else no dependency (null).
 */
export function extractCombination(m: RegexManager, text: string): Record<string, string> | null {
  const groups: Record<string, string> = {};
  for (const s of m.matchStrings) {
    for (const hit of text.matchAll(new RegExp(s, "g"))) Object.assign(groups, Object.fromEntries(Object.entries(hit.groups ?? {}).filter(([, v]) => v !== undefined)));
  }
  const dep: Record<string, string> = { ...groups };
  if (m.depNameTemplate !== undefined) {
    const cond = /^\{\{#if (\w+)\}\}([\w-]+)\{\{\/if\}\}$/.exec(m.depNameTemplate);
    if (!cond) throw new Error(`This model of Renovate knows only {{#if field}}name{{/if}} templates: ${m.depNameTemplate}`);
    dep.depName = groups[cond[1]] ? cond[2] : "";
  }
  const valid = Boolean(dep.depName || dep.packageName) && Boolean(dep.currentDigest || dep.currentValue) && Boolean(m.datasourceTemplate);
  return valid ? dep : null;
}

/** Whether a file path (relative to the repository root) is one the manager reads. */
export const managerReads = (m: RegexManager, rel: string): boolean => m.fileMatch.some((r) => new RegExp(r).test(rel));

/** Renovate's triple-brace fields filled in (the fast tests; the engine test uses Renovate's own template engine). */
export const fillTemplate = (cmd: string, fields: Record<string, string>): string =>
  cmd.replace(/\{\{\{(\w+)\}\}\}/g, (_, k: string) => {
    if (!(k in fields)) throw new Error(`no value for {{{${k}}}} in ${cmd}`);
    return fields[k];
  });
