/**
 * The fixture MCP server (a small Python package speaking real MCP) in its seven variants.
 * Only one copy of each file is kept: `mcp-fixture/common/` (the protocol code, `_common.py`)
 * and one folder per variant holding just what it changes; a variant's `mcp_server/` is its
 * layers copied in order (`common`, then `v2` for the broken v2 builds, then its own files).
 * The matching `scripts/` folders are `mcp-fixture/scripts-v1|v2`.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { copyTree } from "./tree.ts";

export const FIXTURE_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "mcp-fixture");

export const SERVER_VERSIONS = ["v1", "v2", "v2-crash", "v2-missing-tool", "v2-hang", "v2-traceback", "v2-badreq"] as const;
export type ServerVersion = typeof SERVER_VERSIONS[number];

/** The folders of `mcp-fixture/` a variant is made of, base first (later ones replace files). */
export const SERVER_LAYERS: Readonly<Record<ServerVersion, readonly string[]>> = Object.freeze({
  "v1": ["common", "v1"],
  "v2": ["common", "v2"],
  "v2-crash": ["common", "v2", "v2-crash"],
  "v2-missing-tool": ["common", "v2", "v2-missing-tool"],
  "v2-hang": ["common", "v2", "v2-hang"],
  "v2-traceback": ["common", "v2", "v2-traceback"],
  "v2-badreq": ["common", "v2", "v2-badreq"],
});

/** Writes a variant's `mcp_server/` package into `into` (which becomes that package's folder). */
export function writeFixtureServer(version: ServerVersion, into: string): string {
  for (const layer of SERVER_LAYERS[version]) copyTree(path.join(FIXTURE_DIR, layer), into);
  return into;
}

let generated: string | undefined;

/** A per-process folder holding every variant, generated on first use and removed at exit. */
function generatedRoot(): string {
  if (!generated) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aou-fixture-servers-"));
    process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
    for (const v of SERVER_VERSIONS) writeFixtureServer(v, path.join(dir, v, "mcp_server"));
    generated = dir;
  }
  return generated;
}

/** The generated `mcp_server/` folder of a variant (read-only: copy it to change it). */
export const fixtureServerDir = (version: ServerVersion): string => path.join(generatedRoot(), version, "mcp_server");

/** The fixture's `scripts/` folder matching a version (every v2 variant ships v2's scripts). */
export const fixtureScriptsDir = (version: ServerVersion): string =>
  path.join(FIXTURE_DIR, version === "v1" ? "scripts-v1" : "scripts-v2");

/** Active requirement lines of a version's requirements.txt. */
export function fixtureRequirements(version: ServerVersion): string[] {
  const file = SERVER_LAYERS[version].map((l) => path.join(FIXTURE_DIR, l, "requirements.txt")).filter((f) => fs.existsSync(f)).pop()!;
  return fs.readFileSync(file, "utf8")
    .split("\n").map((l) => l.replace(/(^|\s)#.*$/, "").trim()).filter(Boolean);
}
