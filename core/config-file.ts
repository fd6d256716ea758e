/**
 * Where a project's config may be, and whether it has one: apart from config.ts (zod, the
 * loaders) so that a command that only needs to know, like `backups list`, loads neither.
 */
import fs from "node:fs";
import path from "node:path";

export const CONFIG_FILES = ["upgrade.config.ts", "upgrade.config.mts", "upgrade.config.js", "upgrade.config.mjs"] as const;
export const PACKAGE_KEY = "agent-os-upgrade";

/** True when the project root has a config file or a package.json with our key. */
export function hasConfig(projectRoot: string): boolean {
  if (CONFIG_FILES.some((f) => fs.existsSync(path.join(projectRoot, f)))) return true;
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, "package.json"), "utf8"));
    return pkg !== null && typeof pkg === "object" && PACKAGE_KEY in pkg;
  } catch {
    // No package.json, or one cosmiconfig would also fail on: let it say so.
    return fs.existsSync(path.join(projectRoot, "package.json"));
  }
}
