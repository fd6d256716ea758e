/**
 * What git says about the source checkout, asked once per run: whether it is a work tree,
 * its commit, branch and tag, and its uncommitted and untracked files. Pre-flight judges
 * them and the content plan labels itself with them; both read the same answer through a
 * channel instead of each asking git (two processes in parallel instead of eight, five of
 * them in sequence).
 *
 * Through node:child_process, not zx: a dry run then never loads zx (~0.15 s of start-up).
 */
import path from "node:path";
import { defineChannel } from "../../core/channel.ts";
import type { UpgradeContext } from "../../core/types.ts";
import { type GitResult, runGit } from "../content/gitobj.ts";

export interface SourceGit {
  /** A git work tree (the folder itself or one inside it). */
  isGit: boolean;
  /** HEAD's full commit id, null before the first commit. */
  commit: string | null;
  /** The checked-out branch, null when HEAD is detached. */
  branch: string | null;
  /** A tag naming HEAD exactly (`git describe --tags --exact-match`), else null. */
  tag: string | null;
  /** Tracked paths with uncommitted changes (a rename reads `old -> new`). */
  changed: string[];
  /** Untracked paths (ignored ones are not listed). */
  untracked: string[];
  /** git status failed in a work tree: cleanliness unknown (its stderr). */
  statusError: string | null;
}

interface Memo {
  root: string;
  facts: Promise<SourceGit>;
}

/** The answer of this run, keyed by the source folder it is about. */
const SourceGitChannel = defineChannel<Memo>("source.git");

type Debug = (message: string, data?: Record<string, unknown>) => void;

/** Runs git and says so at --verbose, like the commands run through `ctx.$`. */
async function logged(root: string, args: string[], debug: Debug | undefined, signal?: AbortSignal): Promise<GitResult> {
  const cmd = `git ${args.join(" ")}`;
  debug?.(`spawn ${cmd}`, { cwd: root });
  const t0 = performance.now();
  const r = await runGit(["-C", root, ...args], { signal });
  debug?.(`exit ${r.code} in ${Math.round(performance.now() - t0)} ms: ${cmd}`);
  return r;
}

/**
 * `git status --porcelain=v2 --branch -z` records: `# branch.oid <sha|(initial)>`,
 * `# branch.head <name|(detached)>`, then `1 …`/`u …` changes, `2 …` renames followed by
 * their old path, `? path` untracked.
 */
export function parseStatusV2(out: string): Pick<SourceGit, "commit" | "branch" | "changed" | "untracked"> {
  const recs = out.split("\0");
  const res: Pick<SourceGit, "commit" | "branch" | "changed" | "untracked"> = { commit: null, branch: null, changed: [], untracked: [] };
  for (let i = 0; i < recs.length; i++) {
    const r = recs[i];
    if (r.startsWith("# branch.oid ")) {
      const oid = r.slice("# branch.oid ".length);
      res.commit = /^[0-9a-f]{40,64}$/.test(oid) ? oid : null;
    } else if (r.startsWith("# branch.head ")) {
      const head = r.slice("# branch.head ".length);
      res.branch = head === "(detached)" ? null : head;
    } else if (r.startsWith("1 ")) {
      res.changed.push(fieldsFrom(r, 8));
    } else if (r.startsWith("u ")) {
      res.changed.push(fieldsFrom(r, 10));
    } else if (r.startsWith("2 ")) {
      res.changed.push(`${recs[i + 1]} -> ${fieldsFrom(r, 9)}`);
      i++;
    } else if (r.startsWith("? ")) {
      res.untracked.push(r.slice(2));
    }
  }
  return res;
}

/** The rest of a record after `n` space-separated fields: the path (which may hold spaces). */
function fieldsFrom(rec: string, n: number): string {
  let at = 0;
  for (let k = 0; k < n; k++) at = rec.indexOf(" ", at) + 1;
  return rec.slice(at);
}

/** Asks git, two processes in parallel; never throws for what git answers (the fields say). */
export async function readSourceGit(root: string, opts: { signal?: AbortSignal; debug?: Debug } = {}): Promise<SourceGit> {
  // --no-optional-locks: `git status` would otherwise refresh .git/index, a write into the source.
  const [status, tag] = await Promise.all([
    logged(root, ["--no-optional-locks", "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all", "--", "."], opts.debug, opts.signal),
    logged(root, ["describe", "--tags", "--exact-match", "HEAD"], opts.debug, opts.signal),
  ]);
  const none: SourceGit = { isGit: false, commit: null, branch: null, tag: null, changed: [], untracked: [], statusError: null };
  if (status.code !== 0) {
    // Outside a work tree status fails; inside one it failed for another reason, said as such.
    const inside = await logged(root, ["rev-parse", "--is-inside-work-tree"], opts.debug, opts.signal);
    if (inside.code !== 0 || inside.stdout.toString("utf8").trim() !== "true") return none;
    const head = await logged(root, ["rev-parse", "--verify", "--quiet", "HEAD"], opts.debug, opts.signal);
    const commit = head.code === 0 ? head.stdout.toString("utf8").trim() : null;
    return { ...none, isGit: true, commit, statusError: status.stderr.trim() || `exit ${status.code}` };
  }
  const parsed = parseStatusV2(status.stdout.toString("utf8"));
  return { ...none, ...parsed, isGit: true, tag: parsed.commit && tag.code === 0 ? tag.stdout.toString("utf8").trim() || null : null };
}

/**
 * This run's answer for the source folder: asked on the first call (pre-flight's, or the
 * plan's when pre-flight is not configured), shared by the later ones.
 */
export function sourceGit(ctx: UpgradeContext, source: string): Promise<SourceGit> {
  const root = path.resolve(source);
  const memo = ctx.channels.get(SourceGitChannel);
  if (memo?.root === root) return memo.facts;
  const facts = readSourceGit(root, { signal: ctx.signal, debug: (m, d) => ctx.log.debug(m, d) });
  ctx.channels.set(SourceGitChannel, { root, facts });
  return facts;
}
