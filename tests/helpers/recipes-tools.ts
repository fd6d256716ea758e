/**
 * The engines the recipes are written for, installed from the npm registry into
 * tests/helpers/recipes-tools/ (its own package.json and lockfile, pinned; git-ignored
 * node_modules; never the project's dependencies). Installed once, again only when the
 * lockfile changes. Install scripts are not run (one would download a binary) and optional
 * native packages are left out: Renovate runs without them (RE2 → JavaScript regexes).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { REPO } from "./cli.ts";

export const TOOLS = path.join(REPO, "tests", "helpers", "recipes-tools");
const STAMP = path.join(TOOLS, "node_modules", ".aou-installed");

const lockHash = () => createHash("sha256").update(fs.readFileSync(path.join(TOOLS, "package-lock.json"))).digest("hex");

/** Installs the pinned tools unless the lockfile they were installed from is the current one. */
export function ensureTools(): void {
  if (fs.existsSync(STAMP) && fs.readFileSync(STAMP, "utf8") === lockHash()) return;
  const started = Date.now();
  execFileSync("npm", ["ci", "--ignore-scripts", "--omit=optional", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: TOOLS, stdio: ["ignore", "inherit", "inherit"], timeout: 20 * 60_000 });
  fs.writeFileSync(STAMP, lockHash());
  console.log(`recipes: installed the pinned engines in ${Math.round((Date.now() - started) / 1000)} s`);
}

export const toolPath = (rel: string): string => path.join(TOOLS, "node_modules", rel);

/** The pinned version of an installed tool, from its own package.json. */
export const toolVersion = (name: string): string => JSON.parse(fs.readFileSync(toolPath(`${name}/package.json`), "utf8")).version;
