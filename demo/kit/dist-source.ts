/**
 * A source checkout of praxis-os's `dist/` layout (the facts as praxis-os's public repository shows them, November 2025):
 * a real git repository with two releases, commits tagged `v1` and `v2`. The content is real
 * Agent OS text (demo/assets: release 1 is ced34ea's `universal/`, release 2 takes some files
 * from 395aab3) placed in the `dist/` shape; the server is the fixture `ouroboros`.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { NEW_RELEASE, OLD_RELEASE, releaseUniversal } from "./assets.ts";
import { type OuroborosRelease, writeOuroboros } from "./dist-server.ts";
import { distScripts, INSTALL_SCRIPT, installationGuide, mcpYaml, pyproject, SOURCE_README } from "./dist-texts.ts";
import { copyTree } from "./tree.ts";

/** What release 2 changes in `dist/universal/` (paths under it), for tests to assert and to aim user edits at. */
export const DIST_CHANGES = Object.freeze({
  /** Standards release 2 edits (upstream's 395aab3 text). */
  changedStandards: ["ai-safety/git-safety-rules.md", "concurrency/deadlocks.md", "testing/test-pyramid.md"],
  /** A standard new in release 2. */
  addedStandard: "installation/gitignore-requirements.md",
  /** A standard release 2 deletes. */
  deletedStandard: "performance/optimization-patterns.md",
  /** A standard release 2 moves, content unchanged. */
  movedStandard: { from: "meta-framework/command-language.md", to: "meta-workflow/command-language.md" },
  /** A workflow file release 2 edits. */
  changedWorkflow: "spec_execution_v1/phases/dynamic/task-template.md",
  /** A usage file release 2 edits. */
  changedUsage: "mcp-usage-guide.md",
});

/** A standard neither release changes: a safe target for a user edit that must survive untouched. */
export const UNCHANGED_STANDARD = "testing/test-doubles.md";

/** A user's edits to an installed release 1 that merge cleanly with release 2 (`git merge-file`), by file under `standards/universal/`. */
export const USER_STANDARD_EDITS: Readonly<Record<string, { after: string; insert: string }>> = Object.freeze({
  // Release 2 edits this standard (lines 4 and 22 and on); the user's line sits between.
  "concurrency/deadlocks.md": {
    after: "**Result:** System hangs indefinitely, no progress can be made.\n",
    insert: "\n**Our team:** we take locks in the alphabetical order of the resources' names.\n",
  },
  // Release 2 moves this standard unchanged: the edit must follow it to its new path.
  [DIST_CHANGES.movedStandard.from]: {
    after: "**Timeless pattern for binding, non-ambiguous AI instructions**\n",
    insert: "\n**Our team:** we also use these commands in code review comments.\n",
  },
});

/** A standard's text with the user's edit (USER_STANDARD_EDITS) applied. */
export function editStandardAsUser(rel: string, text: string): string {
  const edit = USER_STANDARD_EDITS[rel];
  if (!edit) throw new Error(`No user edit is defined for ${rel}`);
  if (!text.includes(edit.after)) throw new Error(`Cannot edit ${rel} as the user: its anchor line is missing`);
  return text.replace(edit.after, edit.after + edit.insert);
}

export interface DistSource {
  dir: string;
  /** The commit of each release (tags `v1`, `v2`). */
  commits: Record<"v1" | "v2", string>;
}

// Fixed dates: the same kit builds the same commit ids.
const DATES: Record<OuroborosRelease, string> = { 1: "2025-11-03T10:00:00Z", 2: "2025-11-20T10:00:00Z" };

function git(cwd: string, args: string[], date?: string): string {
  const env = date ? { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date } : process.env;
  return execFileSync("git", ["-c", "user.name=fixture", "-c", "user.email=fixture@example.invalid", "-c", "commit.gpgsign=false", ...args], { cwd, env, encoding: "utf8" }).trim();
}

function writeFiles(base: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(base, rel)), { recursive: true });
    fs.writeFileSync(path.join(base, rel), text);
  }
}

function listFiles(root: string, rel = ""): string[] {
  return fs.readdirSync(path.join(root, rel), { withFileTypes: true }).flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? listFiles(root, r) : [r];
  }).sort();
}

/** `dist/universal/.universal-manifest.json` in upstream's format, from the files themselves. */
function writeManifest(universal: string, release: OuroborosRelease): void {
  const files: Record<string, { checksum: string; size: number; last_updated: string }> = {};
  for (const rel of listFiles(universal).filter((r) => r !== ".universal-manifest.json")) {
    const data = fs.readFileSync(path.join(universal, rel));
    files[rel] = { checksum: `sha256:${createHash("sha256").update(data).digest("hex")}`, size: data.length, last_updated: DATES[release].slice(0, 10) };
  }
  const manifest = { version: `${release}.0.0`, generated: DATES[release], generator_version: "1.0.0", files };
  fs.writeFileSync(path.join(universal, ".universal-manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
}

/** Everything of a release except `dist/universal/` (replaced wholesale: the server, scripts, config, guide). */
function writeReleaseFiles(dir: string, release: OuroborosRelease): void {
  for (const rel of ["dist/ouroboros", "dist/scripts", "installation"]) fs.rmSync(path.join(dir, rel), { recursive: true, force: true });
  writeOuroboros(release, path.join(dir, "dist", "ouroboros"));
  writeFiles(path.join(dir, "dist", "scripts"), distScripts(release));
  writeFiles(path.join(dir, "installation"), installationGuide(release));
  writeFiles(dir, {
    "dist/config/mcp.yaml": mcpYaml(release),
    "scripts/install-praxis-os.py": INSTALL_SCRIPT,
    "pyproject.toml": pyproject(release),
    "README.md": SOURCE_README,
  });
}

function commitRelease(dir: string, release: OuroborosRelease): string {
  writeManifest(path.join(dir, "dist", "universal"), release);
  git(dir, ["add", "-A"]);
  git(dir, ["commit", "-q", "-m", `Release ${release}`], DATES[release]);
  git(dir, ["tag", `v${release}`]);
  return git(dir, ["rev-parse", "HEAD"]);
}

/** Release 2's edits to `dist/universal/` (see DIST_CHANGES). */
function applyRelease2Content(universal: string): void {
  const newer = releaseUniversal(NEW_RELEASE);
  const take = (rel: string) => fs.copyFileSync(path.join(newer, rel), path.join(universal, rel));
  for (const s of DIST_CHANGES.changedStandards) take(`standards/${s}`);
  fs.mkdirSync(path.dirname(path.join(universal, "standards", DIST_CHANGES.addedStandard)), { recursive: true });
  take(`standards/${DIST_CHANGES.addedStandard}`);
  fs.rmSync(path.join(universal, "standards", DIST_CHANGES.deletedStandard));
  fs.rmdirSync(path.dirname(path.join(universal, "standards", DIST_CHANGES.deletedStandard)));
  const { from, to } = DIST_CHANGES.movedStandard;
  fs.mkdirSync(path.dirname(path.join(universal, "standards", to)), { recursive: true });
  fs.renameSync(path.join(universal, "standards", from), path.join(universal, "standards", to));
  take(`workflows/${DIST_CHANGES.changedWorkflow}`);
  take(`usage/${DIST_CHANGES.changedUsage}`);
}

/**
 * Builds the source checkout in `dir` (created; must not exist or be empty): release 1, tag
 * `v1`, then release 2, tag `v2`, on branch `main`. Synchronous and offline; ~0.3 s.
 */
export function makeDistSource(dir: string): DistSource {
  fs.mkdirSync(dir, { recursive: true });
  if (fs.readdirSync(dir).length > 0) throw new Error(`Cannot build a dist source in ${dir}: the folder is not empty`);
  git(dir, ["init", "-q", "-b", "main"]);
  const universal = path.join(dir, "dist", "universal");
  const older = releaseUniversal(OLD_RELEASE);
  for (const sub of ["standards", "workflows", "usage"]) copyTree(path.join(older, sub), path.join(universal, sub));
  writeReleaseFiles(dir, 1);
  const v1 = commitRelease(dir, 1);
  applyRelease2Content(universal);
  writeReleaseFiles(dir, 2);
  const v2 = commitRelease(dir, 2);
  return { dir, commits: { v1, v2 } };
}

/**
 * Rewrites a checkout of praxis-os's October layout as release `release` of the `dist/`
 * layout, in one commit, as upstream's rewrite did: `universal/` moved to `dist/universal/`
 * (git sees renames), `mcp_server/` gone, the server, config template, scripts and guide of
 * the release added. The source a migration to the `dist/` layout needs on top of the real
 * history (tests/helpers/migrate-project.ts). Returns the new commit.
 */
export function rewriteAsDist(dir: string, release: OuroborosRelease = 2): string {
  fs.mkdirSync(path.join(dir, "dist"), { recursive: true });
  git(dir, ["mv", "universal", "dist/universal"]);
  fs.rmSync(path.join(dir, "mcp_server"), { recursive: true, force: true });
  writeReleaseFiles(dir, release);
  return commitRelease(dir, release);
}
