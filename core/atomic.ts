/**
 * Durable, atomic file writes: a temp file in the same folder, written and fsynced, renamed
 * over the target, then the folder fsynced so the rename itself survives a power cut. A
 * reader therefore sees the old or the new content, never a mix. On a thrown failure the
 * temp file is removed; after a SIGKILL it may remain, and the sweeps below clear it.
 *
 * One naming scheme for every piece of work in progress we create, so that one sweep finds
 * them all: `.<name>.<pid>.<8 hex>.tmp` beside the file it becomes (content writes, state,
 * lock, mcp.json, .gitignore, VERSION.txt, logs), and `aou-<label>-<pid>-<random>` in the
 * temp dir or /dev/shm. The pid says whether its writer can still be working on it.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { pidAlive } from "./proc.ts";

const TEMP_RE = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/;
const SCRATCH_RE = /^aou-[a-z]+-(\d+)-/;

/** The temp name a writer uses for `file` (same folder, so the rename is atomic). */
export function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
}

/** The prefix for `fs.mkdtempSync` of a scratch folder (temp dir or /dev/shm). */
export function scratchPrefix(parent: string, label: string): string {
  return path.join(parent, `aou-${label}-${process.pid}-`);
}

export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch (err) {
    // Some filesystems refuse fsync on a folder; the rename is still atomic there.
    if (!["EISDIR", "EINVAL", "EPERM", "EBADF"].includes((err as NodeJS.ErrnoException).code ?? "")) throw err;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644): void {
  const dir = path.dirname(file);
  const tmp = tempPathFor(file);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, "wx", mode);
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (err) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDir(dir);
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + "\n");
}

/** True for a temp name of ours whose writer is no longer running. */
export function isDeadTemp(name: string): boolean {
  const m = TEMP_RE.exec(name);
  return m !== null && !pidAlive(Number(m[2]));
}

/** Removes temp files left by writers that were killed (their pid is no longer alive). */
export function sweepTempFiles(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!isDeadTemp(name)) continue;
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Removes every dead writer's temp file under `roots` (each walked to its depth, minus `skip`
 * folders) and every dead process's scratch folder in the temp dir and /dev/shm.
 */
export function sweepDebris(roots: Array<[dir: string, depth: number]>, skip: (dir: string) => boolean = () => false): string[] {
  const removed: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (isDeadTemp(e.name)) {
        fs.rmSync(p, { recursive: true, force: true });
        removed.push(p);
      } else if (e.isDirectory() && depth > 0 && !skip(p)) walk(p, depth - 1);
    }
  };
  for (const [dir, depth] of roots) walk(dir, depth);
  for (const parent of [os.tmpdir(), "/dev/shm"]) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(parent);
    } catch { /* no such folder here */ }
    for (const n of names) {
      const m = SCRATCH_RE.exec(n);
      if (!m || pidAlive(Number(m[1]))) continue;
      fs.rmSync(path.join(parent, n), { recursive: true, force: true });
      removed.push(path.join(parent, n));
    }
  }
  return removed;
}
