/**
 * A source given as a git URL (`file://`, `https://`, `ssh://`, `git@host:path`) and a ref:
 * fetched with its full history into a bare mirror in the user's cache (never the project),
 * reused and updated by `git fetch` on later runs, and checked out per commit in a work tree
 * beside it. The run then uses that work tree as a plain source checkout.
 *
 *     <cache>/sources/<sha256 of the URL, 16 hex>/mirror.git     the bare mirror
 *                                                /trees/<commit>  one work tree per commit used
 *                                                /lock            held while fetching or checking out
 *
 * `<cache>` is `$AGENT_OS_UPGRADE_CACHE`, else `$XDG_CACHE_HOME/agent-os-upgrade`, else
 * `~/.cache/agent-os-upgrade`. Two runs at once take turns on the lock (exclusive create; a
 * lock whose process is gone is taken over). A work tree is never written after it is made;
 * one that does not match its commit (a crash while making it) is made again.
 */
import { createHash, randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { UpgradeError } from "../../core/errors.ts";
import { hostname, pidAlive, processStartTime } from "../../core/proc.ts";
import { resolveCommit, runGit } from "../content/gitobj.ts";

/** Where the source came from, for the record (VERSION.txt `source=`, `ref=`) and the check. */
export interface SourceOrigin {
  /** The URL as given, without credentials. */
  url: string;
  /** The ref as given, else the remote's default branch. */
  ref: string;
  /** The full commit the ref named when it was fetched. */
  commit: string;
}

export interface RemoteSource extends SourceOrigin {
  /** The work tree of `commit` in the cache: the run's source checkout. */
  checkout: string;
}

const URL_RE = /^[a-z][a-z0-9+.-]*:\/\//i;
const SCP_RE = /^[^/\s@]+@[^/\s:]+:/;

/** True for what git fetches as a URL (a plain path is a local checkout). */
export const isGitUrl = (s: string): boolean => URL_RE.test(s) || SCP_RE.test(s);

/** The URL without a user's password or token: what messages and the record show. */
export function publicUrl(url: string): string {
  if (!URL_RE.test(url)) return url;
  try {
    const u = new URL(url);
    if (!u.password && !u.username) return url;
    u.password = "";
    u.username = "";
    return u.href;
  } catch {
    return url;
  }
}

/** The cache root of this user (see the module comment). */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AGENT_OS_UPGRADE_CACHE) return path.resolve(env.AGENT_OS_UPGRADE_CACHE);
  const base = env.XDG_CACHE_HOME ? path.resolve(env.XDG_CACHE_HOME) : path.join(os.homedir(), ".cache");
  return path.join(base, "agent-os-upgrade");
}

/** The cache folder of one URL. */
export const entryOf = (url: string, root = cacheRoot()): string =>
  path.join(root, "sources", createHash("sha256").update(url).digest("hex").slice(0, 16));

const unreachable = (url: string, why: string) =>
  new UpgradeError("PREFLIGHT_FAILED", `Cannot fetch the source ${publicUrl(url)}: ${why}`, {
    hint: `Check the URL, the network and your git credentials (\`git ls-remote ${publicUrl(url)}\` must work), or pass a local clone with --source <dir>; nothing was written`,
  });

const lastLine = (stderr: string) => stderr.trim().split("\n").filter(Boolean).pop()?.replace(/^fatal: /, "") ?? "git failed";

// ---------------------------------------------------------------- the lock

interface LockBody {
  pid: number;
  start: string | null;
  host: string;
  token: string;
}

const readText = (file: string): string | null => {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return null;
  }
};

/** A lock whose process is gone on this host; an unreadable one only once it is old (a writer between create and write). */
function isStale(file: string, text: string): boolean {
  try {
    const b = JSON.parse(text) as LockBody;
    return b.host === hostname() && !pidAlive(b.pid, b.start);
  } catch {
    const age = Date.now() - (fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    return age > 30_000;
  }
}

/** Runs `body` holding the cache entry's lock; waits up to `timeoutMs` for another run to finish with it. */
export async function withCacheLock<T>(entry: string, body: () => Promise<T>, timeoutMs = 300_000): Promise<T> {
  fs.mkdirSync(entry, { recursive: true });
  const file = path.join(entry, "lock");
  const mine = JSON.stringify({ pid: process.pid, start: processStartTime(process.pid), host: hostname(), token: randomUUID() } satisfies LockBody);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.writeFileSync(file, mine, { flag: "wx" });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const held = readText(file);
    // Removed only if it is still the same stale lock (another waiter may have taken it over meanwhile).
    if (held !== null && isStale(file, held) && readText(file) === held) fs.rmSync(file, { force: true });
    else if (Date.now() > deadline) {
      throw new UpgradeError("LOCK_HELD", `Cannot update the source cache ${entry}: another run has held its lock for ${Math.round(timeoutMs / 1000)} s`, {
        hint: `Wait for the other run to finish; if none runs, delete ${file}`,
      });
    } else await new Promise((r) => setTimeout(r, 50));
  }
  try {
    return await body();
  } finally {
    if (readText(file) === mine) fs.rmSync(file, { force: true });
  }
}

// ---------------------------------------------------------------- mirror and work tree

/** Clones the mirror (into a temp folder renamed into place: a crash leaves no half mirror) or fetches into it. */
async function updateMirror(url: string, mirror: string, signal?: AbortSignal): Promise<void> {
  if (fs.existsSync(path.join(mirror, "HEAD"))) {
    const r = await runGit(["-C", mirror, "fetch", "--prune", "--quiet", "origin"], { signal });
    if (r.code !== 0) throw unreachable(url, lastLine(r.stderr));
    return;
  }
  const tmp = `${mirror}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.rmSync(mirror, { recursive: true, force: true });
  try {
    const r = await runGit(["clone", "--mirror", "--quiet", "--", url, tmp], { signal });
    if (r.code !== 0) throw unreachable(url, lastLine(r.stderr));
    fs.renameSync(tmp, mirror);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The branch the remote's HEAD names (the ref recorded when none was given). */
async function defaultBranch(mirror: string): Promise<string> {
  const r = await runGit(["-C", mirror, "symbolic-ref", "--quiet", "--short", "HEAD"]);
  return r.code === 0 ? r.stdout.toString("utf8").trim() : "HEAD";
}

/** A work tree at exactly `commit` with nothing changed in it. */
async function isIntact(tree: string, commit: string): Promise<boolean> {
  if (!fs.existsSync(path.join(tree, ".git"))) return false;
  const head = await runGit(["-C", tree, "rev-parse", "HEAD"]);
  if (head.code !== 0 || head.stdout.toString("utf8").trim() !== commit) return false;
  const st = await runGit(["-C", tree, "--no-optional-locks", "status", "--porcelain", "--untracked-files=all"]);
  return st.code === 0 && st.stdout.length === 0;
}

/** The work tree of `commit`, made (or made again) from the mirror. */
async function checkoutOf(mirror: string, trees: string, commit: string): Promise<string> {
  const tree = path.join(trees, commit);
  if (await isIntact(tree, commit)) return tree;
  fs.rmSync(tree, { recursive: true, force: true });
  await runGit(["-C", mirror, "worktree", "prune"]);
  fs.mkdirSync(trees, { recursive: true });
  const r = await runGit(["-C", mirror, "worktree", "add", "--detach", "--quiet", tree, commit]);
  if (r.code !== 0) {
    fs.rmSync(tree, { recursive: true, force: true });
    throw new UpgradeError("PREFLIGHT_FAILED", `Cannot check out ${commit.slice(0, 12)} in the source cache ${trees}: ${lastLine(r.stderr)}`, {
      hint: `Delete ${path.dirname(trees)} (it is fetched again) and run again; nothing was written`,
    });
  }
  return tree;
}

/**
 * Fetches `url` into the cache and checks out `ref` (default: the remote's HEAD). Throws
 * PREFLIGHT_FAILED (exit 4) naming the URL when it cannot be fetched, or the ref when the
 * URL has no such branch, tag or commit.
 */
export async function fetchSource(url: string, ref: string | null, opts: { root?: string; signal?: AbortSignal } = {}): Promise<RemoteSource> {
  const entry = entryOf(url, opts.root);
  return await withCacheLock(entry, async () => {
    const mirror = path.join(entry, "mirror.git");
    await updateMirror(url, mirror, opts.signal);
    const wanted = ref ?? await defaultBranch(mirror);
    const commit = await resolveCommit(mirror, wanted, opts.signal);
    if (!commit) {
      throw new UpgradeError("PREFLIGHT_FAILED", `Cannot find ${JSON.stringify(wanted)} in the source ${publicUrl(url)}: no branch, tag or commit has that name`, {
        hint: `\`git ls-remote ${publicUrl(url)}\` lists its branches and tags; pass one with --ref; nothing was written`,
      });
    }
    const checkout = await checkoutOf(mirror, path.join(entry, "trees"), commit);
    return { url: publicUrl(url), ref: wanted, commit, checkout };
  });
}
