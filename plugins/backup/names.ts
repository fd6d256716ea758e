/**
 * Backup names: `<YYYY-MM-DD-HHMMSS>[-N]`, in UTC so that the name order is the time order
 * (local time repeats an hour when the clocks go back). A name is claimed by creating its
 * folder with a non-recursive mkdir, which fails with EEXIST when another backup in the
 * same second got there first — the atomic step that makes names unique across processes.
 */
import fs from "node:fs";
import path from "node:path";

const ID_RE = /^(\d{4})-(\d{2})-(\d{2})-(\d{2})(\d{2})(\d{2})(?:-(\d+))?$/;

export function isBackupId(name: string): boolean {
  return ID_RE.test(name);
}

export function stampOf(date: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(date.getUTCFullYear(), 4)}-${p(date.getUTCMonth() + 1)}-${p(date.getUTCDate())}-` +
    `${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}`;
}

/** Sort key: the stamp, then the counter as a number ("-10" after "-9", which plain string order gets wrong). */
function key(id: string): [string, number] {
  const m = ID_RE.exec(id);
  if (!m) return [id, -1];
  return [id.slice(0, 17), m[7] === undefined ? 0 : Number(m[7])];
}

/** Newest first. */
export function compareIdsDesc(a: string, b: string): number {
  const [sa, na] = key(a);
  const [sb, nb] = key(b);
  return sa === sb ? nb - na : sa < sb ? 1 : -1;
}

/**
 * Creates `<dir>/<stamp>[-N]` and returns its name; never reuses an existing folder. N starts
 * past the highest counter of that second still present: a name freed by pruning within the
 * same second would otherwise sort before backups made earlier than it.
 */
export function claimBackupDir(dir: string, now: Date = new Date()): string {
  fs.mkdirSync(dir, { recursive: true });
  ignoreItself(dir);
  const stamp = stampOf(now);
  const taken = fs.readdirSync(dir).filter((n) => isBackupId(n) && n.startsWith(stamp)).map((n) => key(n)[1]);
  for (let n = taken.length ? Math.max(...taken) + 1 : 0; n < 10000; n++) {
    const id = n === 0 ? stamp : `${stamp}-${n}`;
    try {
      fs.mkdirSync(path.join(dir, id), { mode: 0o700 });
      return id;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  throw new Error(`Cannot name a backup in ${dir}: 10000 backups already use ${stamp}`);
}

/**
 * The backups folder ignores itself (a `.gitignore` of `*`, as pytest and mypy do with their
 * caches): backups never show in `git status`, whatever the project's own .gitignore says.
 */
export function ignoreItself(dir: string): void {
  const file = path.join(dir, ".gitignore");
  try {
    fs.writeFileSync(file, "# Created by agent-os-upgrade: backups stay out of git.\n*\n", { flag: "wx", mode: 0o644 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
}
