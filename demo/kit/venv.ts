/**
 * Real Python venvs for tests. Creating one with pip takes 6–11 s here, copying one 0.15–1 s
 * (depending on the machine's load), so the first call builds a pristine venv (and one per preinstalled package set) in a
 * per-process cache and every call gets a `cp -a` copy. A copy works because a venv finds
 * itself from `bin/python`'s location (`pyvenv.cfg`); only the `bin/pip*` scripts keep the
 * cache's path in their shebang, and we always run `python -m pip`.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { pipFreeze as freeze, pipInstall } from "../../plugins/server/pip.ts";
import { offlinePipArgs, SYSTEM_PYTHON } from "./wheels.ts";

const run = promisify(execFile);

export interface Venv {
  dir: string;
  /** `<dir>/bin/python` */
  python: string;
}

export interface CreateVenvOptions {
  /** Requirement lines to preinstall, from `wheelhouse` (offline). */
  packages?: string[];
  wheelhouse?: string;
}

/** Timings of the cache, for the closing note: creating the pristine venv vs copying it. */
export const venvTimings = { createMs: 0, lastCopyMs: 0 };

let cacheRoot: string | undefined;
const cache = new Map<string, Promise<string>>();

function root(): string {
  if (!cacheRoot) {
    cacheRoot = fs.mkdtempSync(path.join(os.tmpdir(), "aou-venv-cache-"));
    const dir = cacheRoot;
    process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return cacheRoot;
}

function cached(key: string, build: (dir: string) => Promise<void>): Promise<string> {
  let entry = cache.get(key);
  if (!entry) {
    const dir = path.join(root(), `venv-${cache.size}`);
    entry = build(dir).then(() => dir);
    cache.set(key, entry);
  }
  return entry;
}

async function copyVenv(from: string, to: string): Promise<void> {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.rmSync(to, { recursive: true, force: true });
  await run("cp", ["-a", from, to]);
}

function pristine(): Promise<string> {
  return cached("pristine", async (dir) => {
    const started = Date.now();
    await run(SYSTEM_PYTHON, ["-m", "venv", dir]);
    // setuptools is a third of a 3.11 venv's files and nothing here needs it: copies get faster.
    await run(path.join(dir, "bin", "python"), ["-m", "pip", "uninstall", "--yes", "--quiet", "--disable-pip-version-check", "setuptools"]);
    venvTimings.createMs = Date.now() - started;
  });
}

/** A fresh venv at `dir` (a copy of the cached one), with `packages` preinstalled from the wheelhouse. */
export async function createVenv(dir: string, options: CreateVenvOptions = {}): Promise<Venv> {
  const packages = [...(options.packages ?? [])].sort();
  let source = await pristine();
  if (packages.length > 0) {
    if (!options.wheelhouse) throw new Error("Cannot preinstall packages: no wheelhouse given");
    const base = source;
    source = await cached(`${options.wheelhouse}|${packages.join(",")}`, async (cacheDir) => {
      await copyVenv(base, cacheDir);
      const requirements = `${cacheDir}.requirements.txt`;
      fs.writeFileSync(requirements, packages.join("\n") + "\n");
      const result = await pipInstall({
        python: path.join(cacheDir, "bin", "python"),
        requirements,
        extraArgs: offlinePipArgs(options.wheelhouse!),
        retries: 0,
      });
      if (!result.ok) throw new Error(`Cannot preinstall ${packages.join(", ")}: ${result.error}`);
    });
  }
  const started = Date.now();
  await copyVenv(source, dir);
  venvTimings.lastCopyMs = Date.now() - started;
  return { dir, python: path.join(dir, "bin", "python") };
}

/** `pip freeze` of a venv, sorted lines (pip and setuptools left out, as pip does). */
export function pipFreeze(venv: Venv | string): Promise<string[]> {
  return freeze(typeof venv === "string" ? path.join(venv, "bin", "python") : venv.python);
}
