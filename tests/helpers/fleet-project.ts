/**
 * Fleet tests' trees: an upstream published as a bare repository (`git clone --bare` of a
 * real source with two releases), reached only by its `file://` URL; a project that is a git
 * repository with the first release installed and committed (as teams keep it); a private
 * source cache (AGENT_OS_UPGRADE_CACHE) per test.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { git, installUniversal, makeSourceRepo, NEW, OLD, release, tmpDir, type Tree } from "./content-project.ts";

export interface Fleet {
  root: string;
  /** The bare upstream's `file://` URL. */
  url: string;
  bare: string;
  /** The two releases' commits, oldest first. */
  commits: string[];
  project: string;
  install: string;
  /** The source cache of this test (outside the project). */
  cache: string;
  env: Record<string, string>;
}

/** A project at release 1 (VERSION.txt commit=), committed; upstream at release 2 (plus `release2Extra`, e.g. changed requirements). */
export function makeFleet(label = "fleet", opts: { release2Extra?: Tree } = {}): Fleet {
  const root = tmpDir(label);
  const work = path.join(root, "upstream-work");
  const commits = makeSourceRepo(work, [{ universal: release(OLD) }, { universal: release(NEW), extra: opts.release2Extra }]);
  const bare = path.join(root, "upstream.git");
  execFileSync("git", ["clone", "--bare", "--quiet", work, bare]);
  fs.rmSync(work, { recursive: true, force: true });
  const project = path.join(root, "proj");
  const install = installUniversal(project, release(OLD), { commit: commits[0] });
  // What upstream's installer git-ignores; the first upgrade adds its own lines (backups, lock).
  fs.writeFileSync(path.join(project, ".gitignore"), ".agent-os/.cache/\n.agent-os/venv/\n.agent-os/.mcp_server_state.json\n");
  git(project, "init", "-q");
  git(project, "add", "-A");
  git(project, "commit", "-q", "-m", "Agent OS installed");
  const cache = path.join(root, "cache");
  return { root, url: pathToFileURL(bare).href, bare, commits, project, install, cache, env: { AGENT_OS_UPGRADE_CACHE: cache } };
}

/** Every file git tracks or would track in the project (ignored ones left out), byte for byte. */
export function trackedBytes(project: string): Map<string, string> {
  const out = new Map<string, string>();
  const list = git(project, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0").filter(Boolean);
  for (const rel of list.sort()) {
    const abs = path.join(project, rel);
    out.set(rel, fs.existsSync(abs) ? fs.readFileSync(abs).toString("base64") : "<deleted>");
  }
  return out;
}

/** The quick flags of a run whose server is not the point. */
export const QUICK = ["--no-validate", "--skip-deps", "--no-restart"];
