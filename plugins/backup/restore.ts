/**
 * Restores a backup into the live installation, exactly, in three steps:
 *
 * 1. Check and plan, changing nothing: the backup is checked (see verify.ts) while the live
 *    tree is compared with the manifest. A live file whose inode, size, mtime and ctime are
 *    those recorded when it was backed up has not been written since and is left alone
 *    without being read; only files that changed (few: what the upgrade touched) are
 *    hashed or copied. That is what keeps a rollback near a second whatever the size of the
 *    venv: its cost is a stat per file plus the bytes the upgrade actually changed.
 *    (Renaming whole backed-up folders into place would be O(1), but it consumes the backup,
 *    which must stay restorable; and it would still have to check every file of the backup.)
 * 2. Stage: every file to restore is copied from the backup into `.backups/.restore-*`,
 *    hashed on the way and compared with the manifest, with its mode and mtime, and fsynced.
 *    A damaged copy stops the rollback here, with nothing live changed.
 * 3. Commit: remove what the upgrade created, create folders, rename staged files over the
 *    live ones (atomic per file), recreate links, then fix modes and folder times.
 *
 * Every step is idempotent: a rollback killed at any point is finished by running it again,
 * because the plan is recomputed from what is on disk (already-restored files compare equal,
 * leftovers of the killed run are not in the manifest and are removed).
 * Symbolic links are never followed; protected paths are never under a root (roots.ts).
 */
import fs from "node:fs";
import path from "node:path";
import { fsyncDir } from "../../core/atomic.ts";
import { UpgradeError } from "../../core/errors.ts";
import type { Layout } from "../../core/layout.ts";
import { pidAlive } from "../../core/proc.ts";
import { ctimeOf, type Entry, type FileEntry, type Manifest, mtimeOf, readManifest } from "./manifest.ts";
import { type CopyItem, FilePool, inBatches } from "./pool.ts";
import { absOf, assertNoLinkedParents } from "./roots.ts";
import { lstatOrNull, rmForce } from "./fsutil.ts";
import { describeProblems, verifySnapshot, type VerifyMode, type VerifyProblem } from "./verify.ts";

export interface RestoreOptions {
  threads?: number;
  batchSize?: number;
  /** "stat" (default) or "full": how the backup is checked before anything changes. */
  verify?: VerifyMode;
  onProgress?: (stage: "verify" | "stage" | "commit", done: number, total: number) => void;
  /** Durable progress notes (the session journal). */
  journal?: (step: string, data?: Record<string, unknown>) => Promise<void>;
}

export interface RestoreReport {
  backup_id: string;
  backup_path: string;
  verify_mode: VerifyMode;
  backup_verified: true;
  files_checked: number;
  files_restored: number;
  bytes_restored: number;
  symlinks_restored: number;
  dirs_created: number;
  /** Paths the upgrade created (inside backed-up folders, or roots that did not exist), removed. */
  created_removed: number;
  modes_fixed: number;
  /** The first paths changed, for the report. */
  changed_sample: string[];
  timings: { load_ms: number; check_ms: number; stage_ms: number; commit_ms: number; total_ms: number };
}

const STAGING_PREFIX = ".restore-";

interface Plan {
  remove: string[];
  mkdir: string[];
  files: string[];
  hashCheck: string[];
  links: string[];
  fixMeta: string[];
  dirMeta: string[];
  touchedDirs: Set<string>;
  removeParents: string[];
}

function parentKey(key: string): string {
  return key.slice(0, key.lastIndexOf("/"));
}

/** Removes staging folders of rollbacks whose process died. */
export function sweepStaging(backupsDir: string): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(backupsDir);
  } catch {
    return out;
  }
  for (const n of names) {
    const m = /^\.restore-.+-(\d+)$/.exec(n);
    if (m && !pidAlive(Number(m[1]))) {
      rmForce(path.join(backupsDir, n));
      out.push(n);
    }
  }
  return out;
}

export function damagedBackupError(id: string, dir: string, problems: VerifyProblem[]): UpgradeError {
  return new UpgradeError("BACKUP_INVALID", `Cannot restore backup ${id}: ${problems.length} file${problems.length === 1 ? "" : "s"} in it ${problems.length === 1 ? "does" : "do"} not match its MANIFEST.json: ${describeProblems(problems)}; nothing was changed`, {
    hint: `Run \`agent-os-upgrade backups verify ${id}\` for the full list; restore another backup with \`agent-os-upgrade rollback --to <id>\` (\`agent-os-upgrade backups list\`), or repair ${dir} by hand`,
    details: { backup_id: id, problems: problems.slice(0, 200) },
  });
}

export async function restoreSnapshot(layout: Layout, dir: string, opts: RestoreOptions = {}): Promise<RestoreReport> {
  const t0 = performance.now();
  const m = readManifest(dir);
  const id = m.backup_id;
  const batchSize = opts.batchSize ?? 128;
  const verifyMode = opts.verify ?? "stat";
  sweepStaging(layout.backupsDir);
  for (const key of Object.keys(m.roots)) assertNoLinkedParents(layout, { key, abs: absOf(layout, key) });
  const tLoaded = performance.now();

  const pool = new FilePool(opts.threads);
  const staging = path.join(layout.backupsDir, `${STAGING_PREFIX}${id}-${process.pid}`);
  try {
    // 1. Check the backup and plan, changing nothing.
    const report = await verifySnapshot(dir, m, verifyMode, { pool, batchSize, onProgress: (d, t) => opts.onProgress?.("verify", d, t) });
    if (!report.ok) throw damagedBackupError(id, dir, report.problems);
    const plan = planRestore(layout, m);
    if (plan.hashCheck.length) {
      const rs = await inBatches(plan.hashCheck, batchSize, (keys) => pool.hash(keys.map((k) => absOf(layout, k))));
      rs.forEach((r, i) => {
        const key = plan.hashCheck[i];
        const e = m.entries[key] as FileEntry;
        if (r.ok && r.ok[0] === m.files[key] && r.ok[1] === e[2]) plan.fixMeta.push(key);
        else {
          plan.files.push(key);
          plan.touchedDirs.add(parentKey(key));
        }
      });
    }
    await opts.journal?.("backup.rollback:checked", { backup_id: id, files_to_restore: plan.files.length, paths_to_remove: plan.remove.length });
    const tChecked = performance.now();

    // 2. Stage every file to restore, hashed against the manifest on the way.
    let bytes = 0;
    if (plan.files.length) {
      fs.mkdirSync(staging, { recursive: true, mode: 0o700 });
      const items: CopyItem[] = plan.files.map((key, i) => {
        const e = m.entries[key] as FileEntry;
        return [path.join(dir, key), path.join(staging, String(i)), e[1], e[3]];
      });
      const rs = await inBatches(items, batchSize, (batch) => pool.copy(batch, { clone: false, sync: true }), (d) => opts.onProgress?.("stage", d, items.length));
      const bad: VerifyProblem[] = [];
      rs.forEach((r, i) => {
        const key = plan.files[i];
        if (r.err) bad.push({ path: key, problem: r.err[0] === "ENOENT" ? "missing from the backup" : `cannot be read (${r.err[0]}: ${r.err[1]})` });
        else if (r.ok[0] !== m.files[key]) bad.push({ path: key, problem: `content differs from MANIFEST.json (sha256 ${r.ok[0].slice(0, 12)}…, expected ${m.files[key].slice(0, 12)}…)` });
        else bytes += r.ok[1];
      });
      if (bad.length) throw damagedBackupError(id, dir, bad);
      fsyncDir(staging);
    }
    await opts.journal?.("backup.rollback:staged", { backup_id: id, files: plan.files.length, bytes });
    const tStaged = performance.now();

    // 3. Commit.
    const counts = commit(layout, m, plan, staging, opts);
    await opts.journal?.("backup.rollback:committed", { backup_id: id, ...counts });
    const tCommitted = performance.now();
    const changed = [...plan.remove.map((k) => `-${k}`), ...plan.files.map((k) => `~${k}`), ...plan.links.map((k) => `~${k}`)];
    return {
      backup_id: id,
      backup_path: dir,
      verify_mode: verifyMode,
      backup_verified: true,
      files_checked: report.files_checked,
      files_restored: plan.files.length,
      bytes_restored: bytes,
      symlinks_restored: plan.links.length,
      dirs_created: plan.mkdir.length,
      created_removed: plan.remove.length,
      modes_fixed: counts.modes_fixed,
      changed_sample: changed.slice(0, 50),
      timings: {
        load_ms: Math.round(tLoaded - t0),
        check_ms: Math.round(tChecked - tLoaded),
        stage_ms: Math.round(tStaged - tChecked),
        commit_ms: Math.round(tCommitted - tStaged),
        total_ms: Math.round(performance.now() - t0),
      },
    };
  } finally {
    await pool.close();
    rmForce(staging);
  }
}

/** Compares the live tree with the manifest; reads nothing but metadata (and links). */
export function planRestore(layout: Layout, m: Manifest): Plan {
  const plan: Plan = { remove: [], mkdir: [], files: [], hashCheck: [], links: [], fixMeta: [], dirMeta: [], touchedDirs: new Set(), removeParents: [] };
  const children = new Map<string, string[]>();
  for (const key of Object.keys(m.entries)) {
    const p = parentKey(key);
    const list = children.get(p);
    if (list) list.push(key);
    else children.set(p, [key]);
  }
  // Files changed up to 2 s before the backup started share their ctime second with a write
  // that could have landed just after we read them: compare those by content, never by stat.
  const racyFrom = ctimeOf(m.started_at_ms) - 2;

  const absent = (key: string) => {
    const e = m.entries[key];
    plan.touchedDirs.add(parentKey(key));
    if (e[0] === "d") {
      plan.mkdir.push(key);
      for (const c of children.get(key) ?? []) absent(c);
    } else if (e[0] === "f") plan.files.push(key);
    else if (e[0] === "l") plan.links.push(key);
  };
  const removeLive = (key: string) => {
    plan.remove.push(key);
    plan.touchedDirs.add(parentKey(key));
  };
  const planFile = (key: string, e: FileEntry, st: fs.Stats | null) => {
    if (!st) return absent(key);
    if (st.isDirectory()) {
      removeLive(key);
      return absent(key);
    }
    if (!st.isFile()) return absent(key); // a link or special file: the rename replaces it
    const sameStat = st.ino === e[5] && st.size === e[2] && mtimeOf(st.mtimeMs) === e[3] && ctimeOf(st.ctimeMs) === e[4];
    if (sameStat && e[4] < racyFrom && (st.mode & 0o7777) === e[1]) return;
    if (st.size === e[2]) plan.hashCheck.push(key);
    else absent(key);
  };
  const planLink = (key: string, target: string, st: fs.Stats | null) => {
    if (st?.isSymbolicLink() && fs.readlinkSync(absOf(layout, key)) === target) return;
    if (st?.isDirectory()) removeLive(key);
    absent(key);
  };
  const planDir = (key: string, e: Entry, st: fs.Stats | null) => {
    const abs = absOf(layout, key);
    if (!st || !st.isDirectory()) {
      if (st) removeLive(key);
      return absent(key);
    }
    if ((st.mode & 0o7777) !== e[1]) plan.dirMeta.push(key);
    const expected = children.get(key) ?? [];
    const names = new Set(expected.map((k) => k.slice(key.length + 1)));
    for (const name of fs.readdirSync(abs)) {
      if (!names.has(name)) removeLive(`${key}/${name}`);
    }
    for (const c of expected) planEntry(c, lstatOrNull(absOf(layout, c)));
  };
  const planEntry = (key: string, st: fs.Stats | null) => {
    const e = m.entries[key];
    if (e[0] === "d") planDir(key, e, st);
    else if (e[0] === "f") planFile(key, e, st);
    else if (e[0] === "l") planLink(key, e[1], st);
    // "o": a special file we never copied; leave it
  };

  for (const [key, kind] of Object.entries(m.roots)) {
    const abs = absOf(layout, key);
    const st = lstatOrNull(abs);
    sweepRootTemps(abs);
    if (kind === "missing") {
      if (st) removeLive(key);
      plan.removeParents.push(...(m.missing_parents[key] ?? []));
      continue;
    }
    planEntry(key, st);
  }
  plan.mkdir.sort();
  return plan;
}

/** Temp names this module creates beside a live path (see commit); a killed run may leave them. */
const tempName = (abs: string, tag: "lnk" | "tmp") => path.join(path.dirname(abs), `.${path.basename(abs)}.aou-${process.pid}.${tag}`);

function sweepRootTemps(abs: string): void {
  const dirname = path.dirname(abs);
  const prefix = `.${path.basename(abs)}.aou-`;
  let names: string[];
  try {
    names = fs.readdirSync(dirname);
  } catch {
    return;
  }
  for (const n of names) {
    const mm = n.startsWith(prefix) ? /\.aou-(\d+)\.(lnk|tmp)$/.exec(n) : null;
    if (mm && !pidAlive(Number(mm[1]))) fs.rmSync(path.join(dirname, n), { force: true });
  }
}

function commit(layout: Layout, m: Manifest, plan: Plan, staging: string, opts: RestoreOptions): { modes_fixed: number } {
  const total = plan.remove.length + plan.mkdir.length + plan.files.length + plan.links.length + plan.fixMeta.length + plan.dirMeta.length;
  let done = 0;
  const step = () => {
    done++;
    if (done % 16 === 0 || done === total) opts.onProgress?.("commit", done, total);
  };
  const failures: Array<{ key: string; action: string; error: string }> = [];
  const attempt = (key: string, action: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      failures.push({ key, action, error: `${(err as NodeJS.ErrnoException).code ?? "Error"}: ${(err as Error).message}` });
    }
    step();
  };

  for (const key of plan.remove) attempt(key, "remove", () => rmForce(absOf(layout, key)));
  for (const key of plan.mkdir) {
    attempt(key, "create folder", () => {
      const abs = absOf(layout, key);
      if (!lstatOrNull(abs)?.isDirectory()) fs.mkdirSync(abs, { recursive: true, mode: 0o700 });
    });
  }
  plan.files.forEach((key, i) => {
    attempt(key, "restore file", () => {
      const abs = absOf(layout, key);
      const staged = path.join(staging, String(i));
      if (!lstatOrNull(path.dirname(abs))) fs.mkdirSync(path.dirname(abs), { recursive: true, mode: 0o700 });
      try {
        fs.renameSync(staged, abs);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
        // Another filesystem (a mounted venv, a project on another disk): copy beside, then rename.
        const e = m.entries[key] as FileEntry;
        const tmp = tempName(abs, "tmp");
        fs.copyFileSync(staged, tmp);
        fs.chmodSync(tmp, e[1]);
        fs.utimesSync(tmp, new Date(), e[3] / 1000);
        const fd = fs.openSync(tmp, "r");
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        fs.renameSync(tmp, abs);
      }
    });
  });
  for (const key of plan.links) {
    attempt(key, "restore link", () => {
      const abs = absOf(layout, key);
      const e = m.entries[key] as ["l", string];
      const tmp = tempName(abs, "lnk");
      fs.rmSync(tmp, { force: true });
      fs.symlinkSync(e[1], tmp);
      fs.renameSync(tmp, abs);
    });
  }
  let modesFixed = 0;
  for (const key of plan.fixMeta) {
    attempt(key, "restore mode and time", () => {
      const abs = absOf(layout, key);
      const e = m.entries[key] as FileEntry;
      const st = fs.lstatSync(abs);
      if ((st.mode & 0o7777) !== e[1]) {
        fs.chmodSync(abs, e[1]);
        modesFixed++;
      }
      if (mtimeOf(st.mtimeMs) !== e[3]) fs.utimesSync(abs, st.atime, e[3] / 1000);
    });
  }
  // Folder modes and times last, deepest first: a read-only folder must get its files first,
  // and every change above moved its parent's mtime.
  const dirMeta = new Set(plan.dirMeta);
  const dirs = new Set([...plan.dirMeta, ...plan.mkdir, ...plan.touchedDirs]);
  for (const key of [...dirs].sort().reverse()) {
    const e = m.entries[key];
    if (!e || e[0] !== "d") continue;
    const isMeta = dirMeta.has(key);
    const doit = () => {
      const abs = absOf(layout, key);
      const st = lstatOrNull(abs);
      if (!st?.isDirectory()) return;
      if ((st.mode & 0o7777) !== e[1]) {
        fs.chmodSync(abs, e[1]);
        modesFixed++;
      }
      fs.utimesSync(abs, new Date(), e[2] / 1000);
    };
    if (isMeta) attempt(key, "restore folder mode", doit);
    else {
      try {
        doit();
      } catch (err) {
        failures.push({ key, action: "restore folder mode", error: (err as Error).message });
      }
    }
  }
  // Folders that did not exist before the upgrade and were created only to hold a new file.
  for (const key of plan.removeParents) {
    try {
      fs.rmdirSync(absOf(layout, key));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTEMPTY" && code !== "EEXIST") failures.push({ key, action: "remove created folder", error: (err as Error).message });
    }
  }
  const parents = new Set([...plan.files, ...plan.links, ...plan.remove].map((k) => path.dirname(absOf(layout, k))));
  for (const p of parents) {
    try {
      fsyncDir(p);
    } catch { /* a folder that is gone needs no flush */ }
  }
  if (failures.length) throw commitFailed(layout, m, failures);
  return { modes_fixed: modesFixed };
}

function commitFailed(layout: Layout, m: Manifest, failures: Array<{ key: string; action: string; error: string }>): UpgradeError {
  const dir = m.backup_path;
  const lines = failures.slice(0, 5).map((f) => `${f.action} ${absOf(layout, f.key)} (${f.error})`);
  const manual = failures.slice(0, 3).map((f) =>
    f.action === "remove" ? `rm -rf ${JSON.stringify(absOf(layout, f.key))}` : `cp -a ${JSON.stringify(path.join(dir, f.key))} ${JSON.stringify(absOf(layout, f.key))}`
  );
  return new UpgradeError("ROLLBACK_FAILED", `Cannot finish the rollback: ${failures.length} change${failures.length === 1 ? "" : "s"} could not be made: ${lines.join("; ")}${failures.length > 5 ? `; and ${failures.length - 5} more` : ""}. Everything else was restored`, {
    hint: `Fix the cause (permissions, disk space) and run \`agent-os-upgrade rollback --to ${m.backup_id}\` again: it redoes only what still differs. By hand: ${manual.join("; ")}${failures.length > 3 ? "; and likewise for the rest listed in details.remaining" : ""} (the modes and links to restore are in ${path.join(dir, "MANIFEST.json")})`,
    details: { backup_id: m.backup_id, remaining: failures.slice(0, 500) },
  });
}
