/**
 * Reading the source repository's own history: the tree at a commit and blob contents,
 * in one `git cat-file --batch` process for any number of objects (binary-safe).
 */
import type { Shell } from "zx";

/** The full commit id `ref` names in the repo, or null when it names no commit there. */
export async function resolveCommit($: Shell, repo: string, ref: string): Promise<string | null> {
  if (!ref || ref.startsWith("-")) return null;
  const r = await $`git -C ${repo} rev-parse --verify --quiet ${ref + "^{commit}"}`.nothrow();
  const sha = r.stdout.trim();
  return r.exitCode === 0 && /^[0-9a-f]{40}$/.test(sha) ? sha : null;
}

export interface TreeBlob {
  path: string;
  oid: string;
}

/** Regular files (no links, no submodules) under the given folders of a commit's tree. */
export async function lsTree($: Shell, repo: string, commit: string, dirs: readonly string[]): Promise<TreeBlob[]> {
  if (dirs.length === 0) return [];
  const r = await $`git -C ${repo} ls-tree -r -z --full-tree ${commit} -- ${dirs}`;
  const out: TreeBlob[] = [];
  for (const rec of r.stdout.split("\0")) {
    if (!rec) continue;
    const tab = rec.indexOf("\t");
    const [mode, type, oid] = rec.slice(0, tab).split(" ");
    if (type === "blob" && (mode === "100644" || mode === "100755")) out.push({ path: rec.slice(tab + 1), oid });
  }
  return out;
}

/**
 * Contents of objects by name (an oid, or `<commit>:<path>`); a missing object maps to null.
 * Names must not contain a newline: that is the batch protocol's separator.
 */
export async function catFiles($: Shell, repo: string, names: readonly string[]): Promise<Map<string, Buffer | null>> {
  const result = new Map<string, Buffer | null>();
  const usable = names.filter((n) => !n.includes("\n"));
  for (const n of names) if (n.includes("\n")) result.set(n, null);
  if (usable.length === 0) return result;
  const r = await $({ input: usable.join("\n") + "\n" })`git -C ${repo} cat-file --batch`;
  const buf = r.buffer();
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
