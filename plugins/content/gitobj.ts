/**
 * Reading the source repository's own history: the tree at a commit and blob contents,
 * in one `git cat-file --batch` process for any number of objects.
 *
 * Git runs through node:child_process here, not zx: zx's `ProcessOutput.buffer()` is
 * `Buffer.from(stdout + stderr)` of chunks decoded as text, which corrupts binary blobs
 * and shifts the byte offsets the batch protocol depends on.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { UpgradeError } from "../../core/errors.ts";
import { safeGitArgs, safeGitEnv } from "./git-safe.ts";

export interface GitResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export interface GitRunOptions {
  cwd?: string;
  input?: string | Uint8Array;
  signal?: AbortSignal;
}

/**
 * Runs git with its output as bytes; never throws for a non-zero exit (the code says).
 * Not `tiedToUs`: our git calls only read, end in milliseconds (or at EOF on stdin, for a
 * batch), so an orphan does no harm, and the guard's shell costs ~9 ms a call (measured).
 */
export async function runGit(args: readonly string[], opts: GitRunOptions = {}): Promise<GitResult> {
  const out: Buffer[] = [];
  const r = await spawnGit(args, opts, (b) => out.push(b));
  return { code: r.code, stdout: Buffer.concat(out), stderr: r.stderr };
}

/** git run safely (git-safe.ts), its output handed to `onData` chunk by chunk. */
async function spawnGit(args: readonly string[], opts: GitRunOptions, onData: (chunk: Buffer) => void): Promise<{ code: number; stderr: string }> {
  // Never a command from the repository's config (fsmonitor, hooks, filters): git-safe.ts.
  const argv = await safeGitArgs(args);
  return new Promise((resolve, reject) => {
    const child = spawn("git", argv, { cwd: opts.cwd, stdio: ["pipe", "pipe", "pipe"], signal: opts.signal, env: safeGitEnv() });
    const err: Buffer[] = [];
    let failure: unknown;
    child.stdout.on("data", (b: Buffer) => {
      if (failure !== undefined) return;
      try {
        onData(b);
      } catch (e) {
        failure = e;
        child.kill();
      }
    });
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => {
      reject(new UpgradeError("CONTENT_FAILED", `Cannot run git ${args[0] ?? ""}: ${e.message}`, { hint: "Install git and make sure it is on PATH", cause: e }));
    });
    child.on("close", (code) => (failure !== undefined ? reject(failure) : resolve({ code: code ?? 255, stderr: Buffer.concat(err).toString("utf8") })));
    // A child that exits before reading all of stdin would otherwise raise EPIPE here.
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
  });
}

/**
 * Runs git and hands each record of its output (ended by `sep`, NUL by default; the last one
 * may be unterminated) to `onRecord` as it arrives: the output is never held whole (ls-tree or
 * ls-files of 100k files is ~10 MiB, twice that while its chunks are joined). The record's
 * bytes are `buf[start, end)`, valid only during the call.
 */
export async function streamGit(
  args: readonly string[],
  onRecord: (buf: Buffer, start: number, end: number) => void,
  opts: GitRunOptions & { sep?: number } = {},
): Promise<{ code: number; stderr: string }> {
  const sep = opts.sep ?? 0;
  let carry: Buffer | null = null;
  const r = await spawnGit(args, opts, (chunk) => {
    const buf: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
    let pos = 0;
    for (let end = buf.indexOf(sep, pos); end >= 0; end = buf.indexOf(sep, pos)) {
      onRecord(buf, pos, end);
      pos = end + 1;
    }
    // The unfinished record, copied: the chunk it came from can go.
    carry = pos < buf.length ? Buffer.from(buf.subarray(pos)) : null;
  });
  const last = carry as Buffer | null;
  if (r.code === 0 && last) onRecord(last, 0, last.length);
  return r;
}

function gitFailed(args: readonly string[], r: { code: number; stderr: string }): UpgradeError {
  return new UpgradeError("CONTENT_FAILED", `Cannot read the source's git history: git ${args.join(" ")} exited ${r.code}: ${r.stderr.trim()}`, {
    hint: "Check that --source is a healthy git clone (git fsck)",
    details: { git_stderr: r.stderr.trim(), exit_code: r.code },
  });
}

async function gitOk(args: readonly string[], opts: GitRunOptions = {}): Promise<Buffer> {
  const r = await runGit(args, opts);
  if (r.code !== 0) throw gitFailed(args, r);
  return r.stdout;
}

/** The full commit id `ref` names in the repo, or null when it names no commit there. */
export async function resolveCommit(repo: string, ref: string, signal?: AbortSignal): Promise<string | null> {
  if (!ref || ref.startsWith("-")) return null;
  const r = await runGit(["-C", repo, "rev-parse", "--verify", "--quiet", `${ref}^{commit}`], { signal });
  const sha = r.stdout.toString("utf8").trim();
  return r.code === 0 && /^[0-9a-f]{40}$/.test(sha) ? sha : null;
}

/**
 * Regular files (no links, no submodules) under the given folders of a commit's tree, each
 * handed to `onBlob` (source path, blob id) record by record as git writes them (each field
 * decoded on its own, so no string holds more than its field).
 */
export async function lsTreeEach(repo: string, commit: string, dirs: readonly string[], onBlob: (path: string, oid: string) => void, signal?: AbortSignal): Promise<void> {
  if (dirs.length === 0) return;
  const args = ["-C", repo, "ls-tree", "-r", "-z", "--full-tree", commit, "--", ...dirs];
  const r = await streamGit(args, (out, pos, end) => {
    // "<mode> <type> <oid>\t<path>"
    const tab = out.indexOf(0x09, pos);
    const sp = tab > pos && tab < end ? out.lastIndexOf(0x20, tab) : -1;
    if (sp <= pos) return;
    const [mode, type] = out.toString("latin1", pos, sp).split(" ");
    if (type === "blob" && (mode === "100644" || mode === "100755")) onBlob(out.toString("utf8", tab + 1, end), out.toString("latin1", sp + 1, tab));
  }, { signal });
  if (r.code !== 0) throw gitFailed(args, r);
}

/** `lsTreeEach` as a map: source path → blob id. */
export async function lsTree(repo: string, commit: string, dirs: readonly string[], signal?: AbortSignal): Promise<Map<string, string>> {
  const blobs = new Map<string, string>();
  await lsTreeEach(repo, commit, dirs, (p, oid) => blobs.set(p, oid), signal);
  return blobs;
}

interface IndexEntry {
  path: string;
  mode: string;
  oid: string;
  stage: string;
  /**
   * What git is told not to look at in the work tree (`update-index --assume-unchanged`: a
   * lowercase tag in `ls-files -v`; `--skip-worktree`: tag S, both: s): `git status` and
   * `diff-files` call such a file unchanged whatever it holds. Empty: git looks.
   */
  unwatched: UnwatchedFlag[];
}

export type UnwatchedFlag = "assume-unchanged" | "skip-worktree";

function unwatchedFlags(tag: string): UnwatchedFlag[] {
  const flags: UnwatchedFlag[] = [];
  if (tag !== tag.toUpperCase()) flags.push("assume-unchanged");
  if (tag.toUpperCase() === "S") flags.push("skip-worktree");
  return flags;
}

/**
 * The index entries under `dirs` that git is told not to look at (`ls-files -v --stage`), or
 * null when git cannot list them. Paths from the repository's root with `fullName`, else
 * from `repo`. Every other entry is skipped by its tag's first byte, undecoded: a source of
 * 100k files has 100k entries and a handful of flags.
 */
async function unwatchedEntries(repo: string, dirs: readonly string[], fullName: boolean, signal?: AbortSignal): Promise<IndexEntry[] | null> {
  const entries: IndexEntry[] = [];
  const r = await streamGit(["-C", repo, "ls-files", "-v", "--stage", "-z", ...(fullName ? ["--full-name"] : []), "--", ...dirs], (buf, pos, end) => {
    const tag = buf[pos];
    // An uppercase tag other than S: git looks at the file.
    if (tag >= 0x41 && tag <= 0x5a && tag !== 0x53) return;
    // "<tag> <mode> <oid> <stage>\t<path>"
    const rec = buf.toString("utf8", pos, end);
    const tab = rec.indexOf("\t");
    if (tab < 0) return;
    const [t, mode, oid, stage] = rec.slice(0, tab).split(" ");
    const unwatched = unwatchedFlags(t);
    if (unwatched.length) entries.push({ path: rec.slice(tab + 1), mode, oid, stage, unwatched });
  }, { signal });
  return r.code === 0 ? entries : null;
}

const isRegular = (e: IndexEntry) => e.mode === "100644" || e.mode === "100755";

/** What git vouches for: a source path's blob id when its work-tree file is that blob, else undefined. */
export interface Vouched {
  get(sourcePath: string): string | undefined;
}

/**
 * Source paths under `dirs` whose work-tree file is, by git's own index check, the blob the
 * commit `base` has at the same path: upstream did not change them since `base` (path →
 * that blob's id). One `git diff-index` says which paths differ between `base` and the work
 * tree (racy entries re-hashed by git, a stat-dirty file listed); a file git is told not to
 * look at is left out too, so is one git cannot vouch for; null when git cannot answer at all.
 * Only the differences are held, beside the base tree.
 */
export async function unchangedSince(
  repo: string,
  base: string,
  dirs: readonly string[],
  signal?: AbortSignal,
  /** The base commit's blobs under `dirs` (path → blob id) when the caller has read them already. */
  baseTree?: Vouched,
): Promise<Vouched | null> {
  if (dirs.length === 0) return new Map();
  const [unwatched, diff, tree] = await Promise.all([
    unwatchedEntries(repo, dirs, true, signal),
    runGit(["-C", repo, "diff-index", "--raw", "-z", "--no-abbrev", "--no-renames", base, "--", ...dirs], { signal }),
    baseTree ?? lsTree(repo, base, dirs, signal).catch(() => null),
  ]);
  if (!unwatched || diff.code !== 0 || !tree) return null;
  const differs = new Set(unwatched.map((e) => e.path));
  const changes: RawChange[] = [];
  parseRaw(diff.stdout.toString("utf8").split("\0"), 0, changes);
  for (const c of changes) differs.add(c.path);
  return { get: (p) => (differs.has(p) ? undefined : tree.get(p)) };
}

export interface HiddenChange {
  /** From `repo`. */
  path: string;
  /** Why git does not see it: the flags to clear (`git update-index --no-<flag>`). */
  flags: UnwatchedFlag[];
}

/**
 * Changes `git status` does not show: files git is told not to look at (assume-unchanged,
 * skip-worktree) whose bytes differ from their index entry, or, for assume-unchanged, that
 * are gone. A skip-worktree file that is absent is a sparse checkout doing its job, not a
 * change. Only flagged files are hashed (`hash-object --stdin-paths`, git's own filters), so
 * a repository without flags costs one `ls-files`. Null when git cannot answer.
 */
export async function hiddenChanges(repo: string, signal?: AbortSignal): Promise<HiddenChange[] | null> {
  const index = await unwatchedEntries(repo, ["."], false, signal);
  if (!index) return null;
  const flagged = index.filter((e) => e.stage === "0" && isRegular(e));
  const out: HiddenChange[] = [];
  const present: IndexEntry[] = [];
  for (const e of flagged) {
    let isFile = false;
    try {
      isFile = fs.lstatSync(path.join(repo, e.path)).isFile();
    } catch { /* gone */ }
    if (!isFile) {
      if (!e.unwatched.includes("skip-worktree")) out.push({ path: e.path, flags: e.unwatched });
    } else if (e.path.includes("\n")) {
      // hash-object reads one path a line: this one cannot be checked, so it is not vouched for.
      out.push({ path: e.path, flags: e.unwatched });
    } else present.push(e);
  }
  if (present.length) {
    const r = await runGit(["-C", repo, "hash-object", "--stdin-paths"], { input: present.map((e) => e.path).join("\n") + "\n", signal });
    if (r.code !== 0) return null;
    const oids = r.stdout.toString("utf8").split("\n");
    present.forEach((e, i) => {
      if (oids[i] !== e.oid) out.push({ path: e.path, flags: e.unwatched });
    });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Contents of objects by name (an oid, or `<commit>:<path>`); a missing object maps to null.
 * Names must not contain a newline: that is the batch protocol's separator.
 */
export async function catFiles(repo: string, names: readonly string[], signal?: AbortSignal): Promise<Map<string, Buffer | null>> {
  const result = new Map<string, Buffer | null>();
  const usable = names.filter((n) => !n.includes("\n"));
  for (const n of names) if (n.includes("\n")) result.set(n, null);
  if (usable.length === 0) return result;
  const buf = await gitOk(["-C", repo, "cat-file", "--batch"], { input: usable.join("\n") + "\n", signal });
  let pos = 0;
  for (const name of usable) {
    const nl = buf.indexOf(10, pos);
    if (nl < 0) break;
    const header = buf.subarray(pos, nl).toString("utf8");
    pos = nl + 1;
    const m = /^([0-9a-f]{40,64}) (\w+) (\d+)$/.exec(header);
    if (!m) {
      // "<name> missing" or "<name> ambiguous": no content follows.
      result.set(name, null);
      continue;
    }
    const size = Number(m[3]);
    result.set(name, m[2] === "blob" ? Buffer.from(buf.subarray(pos, pos + size)) : null);
    pos += size + 1;
  }
  return result;
}

/** One line of `git log --raw` / `git diff --raw`: a path's blob before and after (null: absent or not a regular file). */
export interface RawChange {
  /** `A`dded, `M`odified, `D`eleted, `R`enamed, `C`opied, `T`ype changed. */
  status: string;
  path: string;
  /** For a rename: the path it came from (which no longer exists). */
  from?: string;
  before: string | null;
  after: string | null;
}

export interface CommitChanges {
  commit: string;
  changes: RawChange[];
}

const REGULAR = new Set(["100644", "100755"]);
const COMMIT_MARK = "\x01";

/** Parses `--raw -z --no-abbrev` records (`:mode mode oid oid status\0path\0[path\0]`) starting at token `i`. */
function parseRaw(tokens: readonly string[], i: number, out: RawChange[]): number {
  while (i < tokens.length) {
    const meta = tokens[i].startsWith("\n") ? tokens[i].slice(1) : tokens[i];
    if (!meta.startsWith(":")) break;
    const [oldMode, newMode, oldOid, newOid, status] = meta.slice(1).split(" ");
    const letter = status[0];
    const before = REGULAR.has(oldMode) ? oldOid : null;
    const after = REGULAR.has(newMode) ? newOid : null;
    if (letter === "R" || letter === "C") {
      // A copy leaves its origin in place: only a rename moves a file.
      out.push(letter === "R" ? { status: letter, from: tokens[i + 1], path: tokens[i + 2], before, after } : { status: letter, path: tokens[i + 2], before: null, after });
      i += 3;
    } else {
      out.push({ status: letter, path: tokens[i + 1], before, after });
      i += 2;
    }
  }
  return i;
}

/**
 * Every commit of HEAD's first-parent line that changed the given folders, oldest first,
 * with its changes against its first parent (renames detected): replaying them from an
 * empty tree gives each commit's tree of those folders. One `git log` for the whole history.
 */
export async function firstParentHistory(repo: string, dirs: readonly string[], signal?: AbortSignal): Promise<CommitChanges[]> {
  if (dirs.length === 0) return [];
  const out = await gitOk([
    "-C", repo, "-c", "log.showSignature=false", "log", "--first-parent", "--diff-merges=first-parent", "--reverse",
    "--raw", "-z", "--no-abbrev", "-M", `--format=${COMMIT_MARK}%H`, "HEAD", "--", ...dirs,
  ], { signal });
  const tokens = out.toString("utf8").split("\0");
  const commits: CommitChanges[] = [];
  let i = 0;
  while (i < tokens.length) {
    const t = tokens[i].startsWith("\n") ? tokens[i].slice(1) : tokens[i];
    if (!t.startsWith(COMMIT_MARK)) {
      i++;
      continue;
    }
    const c: CommitChanges = { commit: t.slice(1), changes: [] };
    i = parseRaw(tokens, i + 1, c.changes);
    commits.push(c);
  }
  return commits;
}

/** Paths git sees as renamed between two commits under the given folders: old path → new path. */
export async function renamesBetween(repo: string, from: string, to: string, dirs: readonly string[], signal?: AbortSignal): Promise<Map<string, string>> {
  const moved = new Map<string, string>();
  if (dirs.length === 0) return moved;
  const out = await gitOk(["-C", repo, "diff", "--raw", "-z", "--no-abbrev", "-M", from, to, "--", ...dirs], { signal });
  const changes: RawChange[] = [];
  parseRaw(out.toString("utf8").split("\0"), 0, changes);
  for (const c of changes) if (c.status === "R" && c.from) moved.set(c.from, c.path);
  return moved;
}
