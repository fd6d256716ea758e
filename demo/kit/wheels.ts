/**
 * Local wheels for offline pip tests: pure-Python wheels written by `make_wheel.py` with the
 * standard library's zipfile (no setuptools, no network), into a "wheelhouse" folder that
 * pip reads with `--isolated --no-index --find-links <wheelhouse>`.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The interpreter that builds wheels and venvs: `$AOU_TEST_PYTHON`, else `python3`. */
export const SYSTEM_PYTHON = process.env.AOU_TEST_PYTHON ?? "python3";

export interface WheelSpec {
  /** Distribution name, e.g. `aou-fixture-a`; the module is the name with `_` for `-`. */
  name: string;
  version: string;
  /** `Requires-Dist` lines. */
  requires?: string[];
  /** `{pathInWheel: text}`; default one module `<name_>/__init__.py` with NAME and VERSION. */
  files?: Record<string, string>;
}

/** The packages the fixture servers need: v1 imports a, v2 imports a and b. */
export const FIXTURE_WHEELS: readonly WheelSpec[] = Object.freeze([
  { name: "aou-fixture-a", version: "1.0" },
  { name: "aou-fixture-b", version: "1.0" },
]);

/** Builds one wheel into `wheelhouse` and returns its path. */
export async function buildWheel(wheelhouse: string, spec: WheelSpec): Promise<string> {
  const json = JSON.stringify({ out_dir: wheelhouse, name: spec.name, version: spec.version, requires: spec.requires ?? [], files: spec.files });
  const { stdout } = await run(SYSTEM_PYTHON, [path.join(HERE, "make_wheel.py"), json]);
  return stdout.trim();
}

/** Builds the fixture wheels (and any extra ones) into `wheelhouse`. */
export async function buildWheelhouse(wheelhouse: string, extra: readonly WheelSpec[] = []): Promise<string[]> {
  fs.mkdirSync(wheelhouse, { recursive: true });
  const out: string[] = [];
  for (const spec of [...FIXTURE_WHEELS, ...extra]) out.push(await buildWheel(wheelhouse, spec));
  return out;
}

let shared: Promise<string> | undefined;

/** One wheelhouse with the fixture wheels for the whole test run (read-only: build your own to add wheels). */
export function sharedWheelhouse(): Promise<string> {
  shared ??= (async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aou-wheels-"));
    process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
    await buildWheelhouse(dir);
    return dir;
  })();
  return shared;
}

/** pip arguments that install from a wheelhouse only. */
export const offlinePipArgs = (wheelhouse: string): string[] => ["--isolated", "--no-index", "--find-links", wheelhouse];
