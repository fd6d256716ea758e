/**
 * The real Agent OS content the demo, the tests and the benches use: two releases of
 * agent-os-enhanced's `universal/` folder as tarballs in `demo/assets/` (see its README).
 * This is the one copy in the repository, and this module is the one way to reach it; it
 * ships in the npm package (copied to `dist/demo/assets` by the build).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** `demo/assets/` (or `dist/demo/assets/` in the package). */
export const ASSETS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "assets");

/** The two releases: the older one (server v1 era) and the newer one. */
export const OLD_RELEASE = "ced34ea";
export const NEW_RELEASE = "395aab3";
export type Release = typeof OLD_RELEASE | typeof NEW_RELEASE;

/** The tarball of a release's `universal/` folder. */
export function releaseTarball(release: string): string {
  const file = path.join(ASSETS_DIR, `universal-${release}.tar.gz`);
  if (!fs.existsSync(file)) throw new Error(`Cannot find release ${release}: ${file} does not exist`);
  return file;
}

/** Extracts a release into `into` (replacing `into/universal`) and returns the `universal/` path. */
export function extractRelease(release: string, into: string): string {
  const universal = path.join(into, "universal");
  fs.rmSync(universal, { recursive: true, force: true });
  fs.mkdirSync(into, { recursive: true });
  execFileSync("tar", ["xzf", releaseTarball(release), "-C", into]);
  return universal;
}

const extracted = new Map<string, string>();

/**
 * A release's `universal/` folder, extracted once per process into a temp folder that is
 * removed at exit (uvu runs every suite in one process). Read-only: copy it to change it.
 */
export function releaseUniversal(release: string): string {
  const known = extracted.get(release);
  if (known) return known;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `aou-release-${release}-`));
  process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  const universal = extractRelease(release, dir);
  extracted.set(release, universal);
  return universal;
}
