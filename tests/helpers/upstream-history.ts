/**
 * The real upstream histories (tests/fixtures/upstream-history: git bundles of
 * agent-os-enhanced and praxis-os, filtered to the files an install holds, with maps from
 * the filtered commit ids to upstream's original short ids). A test clones a bundle, installs
 * a commit the way that commit's own installation docs say, edits, and upgrades with the real
 * CLI from a clone at a later commit.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { REPO } from "./cli.ts";
import { git } from "./project.ts";
import { tmpDir } from "./temp.ts";

export const HISTORY_DIR = path.join(REPO, "tests/fixtures/upstream-history");
export type Upstream = "agent-os-enhanced" | "praxis-os";

/** Original short id → the filtered commit id of the bundle (from `<repo>-commits.txt`). */
export function commitMap(repo: Upstream): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of fs.readFileSync(path.join(HISTORY_DIR, `${repo}-commits.txt`), "utf8").split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const [filtered, original] = line.split(" ");
    map.set(original, filtered);
  }
  return map;
}

/** A clone of the bundle in a temp folder, checked out at upstream's original commit `original` (HEAD when omitted). */
export function cloneAt(repo: Upstream, original?: string, label = "upstream"): string {
  const dir = path.join(tmpDir(label), repo);
  git(path.dirname(dir), "clone", "-q", "-b", "main", path.join(HISTORY_DIR, `${repo}-history.bundle`), dir);
  if (original) git(dir, "checkout", "-q", "--detach", filteredId(repo, original));
  return dir;
}

export function filteredId(repo: Upstream, original: string): string {
  const id = commitMap(repo).get(original);
  if (!id) throw new Error(`no commit ${original} in ${repo}'s map`);
  return id;
}

/** The first nine commits (up to d07d0d6) followed installation-guide.md, which never copied universal/workflows. */
const WITHOUT_WORKFLOWS = ["ced34ea", "f87b252", "0a844d5", "c007cba", "1937b05", "19178c9", "00711ea", "ae37f8c", "d07d0d6"];

/**
 * Installs the clone's checked-out commit into `<project>/.agent-os` as its docs say:
 * `universal/standards` → `standards/universal`, `universal/workflows` → `workflows` (not for
 * the first nine commits), `universal/usage` → `usage`, the server folder; no version record.
 */
export function installAsDocumented(clone: string, project: string, original: string): string {
  const install = path.join(project, ".agent-os");
  const copy = (from: string, to: string) => {
    const src = path.join(clone, from);
    if (fs.existsSync(src)) fs.cpSync(src, path.join(install, to), { recursive: true });
  };
  copy("universal/standards", "standards/universal");
  if (!WITHOUT_WORKFLOWS.includes(original)) copy("universal/workflows", "workflows");
  copy("universal/usage", "usage");
  copy("mcp_server", "mcp_server");
  return install;
}

/** A project installed at upstream's `original` commit, plus a clone at `later` (HEAD when omitted) to upgrade from. */
export function historyProject(original: string, later?: string, repo: Upstream = "agent-os-enhanced"): { project: string; install: string; source: string; at: string } {
  const at = cloneAt(repo, original, "hist-installed");
  const project = path.join(tmpDir("hist-proj"), "proj");
  fs.mkdirSync(project, { recursive: true });
  const install = installAsDocumented(at, project, original);
  return { project, install, source: cloneAt(repo, later, "hist-source"), at };
}

/** The source path of an installation path (the mappings `installAsDocumented` follows). */
export function sourcePathOf(target: string): string {
  if (target.startsWith("standards/universal/")) return `universal/standards/${target.slice("standards/universal/".length)}`;
  return `universal/${target}`;
}

/** An installation path's file as upstream's `original` commit has it (`git show`), from any clone of that history. */
export function fileAt(clone: string, repo: Upstream, original: string, target: string): Buffer {
  return execFileSync("git", ["-C", clone, "show", `${filteredId(repo, original)}:${sourcePathOf(target)}`]);
}

/** The flags of a real upgrade where the server folder holds only requirements.txt: no venv to install into, no server to start or validate. */
export const NO_SERVER = ["--no-validate", "--skip-deps", "--no-restart"];

/** The full filtered commit id of upstream's `original` commit, as a clone of the history names it. */
export function fullId(clone: string, repo: Upstream, original: string): string {
  return git(clone, "rev-parse", `${filteredId(repo, original)}^{commit}`);
}
