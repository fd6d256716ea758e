/**
 * The fixture `ouroboros` server: praxis-os's MCP server package of the `dist/` layout
 * (`python -m ouroboros --transport dual|stdio|http`), in two releases. Built in layers like
 * `fixture-server.ts`: the protocol code `mcp-fixture/common/_common.py`, then the shared
 * `dist-fixture/ouroboros/` (argument parsing, `.praxis-os` lookup, config check, `pos_` tools),
 * then the release's own folder (`__init__.py` with its version, `release.py`, requirements.txt,
 * a subsystem only it has).
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { FIXTURE_DIR } from "./fixture-server.ts";
import { copyTree } from "./tree.ts";

export const DIST_FIXTURE_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "dist-fixture");

export type OuroborosRelease = 1 | 2;

/** The server version `get_server_info` and the MCP handshake report for each release. */
export const OUROBOROS_VERSION: Readonly<Record<OuroborosRelease, string>> = Object.freeze({ 1: "1.0.0", 2: "2.0.0" });

/** The tools each release lists (sorted); release 2 adds `pos_index_status`. */
export const OUROBOROS_TOOLS: Readonly<Record<OuroborosRelease, readonly string[]>> = Object.freeze({
  1: ["current_date", "get_server_info", "pos_browser", "pos_filesystem", "pos_search_project", "pos_workflow"],
  2: ["current_date", "get_server_info", "pos_browser", "pos_filesystem", "pos_index_status", "pos_search_project", "pos_workflow"],
});

/** The launch arguments every agent entry carries (upstream's, `--transport` required). */
export const OUROBOROS_ARGS: readonly string[] = Object.freeze(["-m", "ouroboros", "--transport", "dual"]);

/** The folders a release's `ouroboros/` is made of, base first (later ones add or replace files). */
export const ouroborosLayers = (release: OuroborosRelease): string[] =>
  [path.join(FIXTURE_DIR, "common"), path.join(DIST_FIXTURE_DIR, "ouroboros"), path.join(DIST_FIXTURE_DIR, `ouroboros-v${release}`)];

/** Writes a release's `ouroboros/` package into `into` (which becomes the package folder). */
export function writeOuroboros(release: OuroborosRelease, into: string): string {
  for (const layer of ouroborosLayers(release)) copyTree(layer, into);
  return into;
}

/** Active requirement lines of a release's requirements.txt. */
export function ouroborosRequirements(release: OuroborosRelease): string[] {
  return parseRequirements(fs.readFileSync(path.join(DIST_FIXTURE_DIR, `ouroboros-v${release}`, "requirements.txt"), "utf8"));
}

/** The requirement lines of a requirements.txt text, comments and blanks left out. */
export const parseRequirements = (text: string): string[] =>
  text.split("\n").map((l) => l.replace(/(^|\s)#.*$/, "").trim()).filter(Boolean);
