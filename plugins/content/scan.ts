/**
 * Walks the two trees a plan compares: the source's mapped folders (N) and the installation's
 * mapped folders (L). Symlinks are never followed blindly: a source link is used only when it
 * resolves to a file inside the source, and a link in the installation is never written
 * through (it could lead into the source itself, the upstream "dogfood" layout).
 */
import fs from "node:fs";
import path from "node:path";
import type { Mapping } from "./options.ts";
import { insideJoin, isInside, isSafeRelative, type PathMap } from "./paths.ts";

export type ProblemCode =
  | "BASE_AMBIGUOUS"
  | "BASE_INFERRED"
  | "BASE_REF_UNKNOWN"
  | "CONTENT_PLAN_ERROR"
  | "INSTALLED_MANIFEST_INVALID"
  | "MAPPED_FOLDER_NOT_INSTALLED"
  | "UNSAFE_PATH"
  | "UPSTREAM_DELETED_EDITED"
  | "UPSTREAM_MOVED_CARRIED"
  | "UPSTREAM_MOVED_EDITED";

/** Something that stops the plan (pre-flight turns each into an error finding), or, in a plan's warnings, is worth saying. */
export interface Problem {
  code: ProblemCode;
  message: string;
  fix: string;
  target?: string;
}

export interface SourceFile {
  target: string;
  source: string;
  /** What to read: the file itself, or the in-source file a symlink resolves to. */
  abs: string;
  /** A symlink in the source: `abs` is the file it resolves to. */
  linked?: boolean;
  mapping: Mapping;
}

export interface LocalFile {
  target: string;
  abs: string;
  symlink: boolean;
}

/**
 * Entries of the two trees: 100k of each stay in memory while a plan is made, so a path is
 * held once (the absolute path is joined when asked for, not stored).
 */
class SourceEntry implements SourceFile {
  constructor(readonly target: string, readonly source: string, readonly mapping: Mapping, readonly root: string, readonly resolved?: string) {}
  get abs(): string {
    return this.resolved ?? path.resolve(this.root, this.source);
  }
  get linked(): true | undefined {
    return this.resolved === undefined ? undefined : true;
  }
}

class LocalEntry implements LocalFile {
  constructor(readonly target: string, readonly root: string, readonly symlink: boolean) {}
  get abs(): string {
    return path.resolve(this.root, this.target);
  }
}

/** A folder the walk cannot list (only that: an error of the visitor's own is not one). */
class Unlisted extends Error {
  constructor(readonly cause: NodeJS.ErrnoException) {
    super(cause.message);
  }
}

/**
 * Every entry under `root`, folders too, links not followed, each handed to `visit` (path from
 * `root` with `/`) as it is listed. A plain readdir walk: at 100k files a glob library's walk
 * held twice the memory (one object per entry and its matching state) and took three times as
 * long, for no pattern at all; and no list of entries is held either.
 */
function walk(root: string, visit: (rel: string, dirent: fs.Dirent) => void): void {
  const into = (dir: string, rel: string) => {
    let dirents: fs.Dirent[];
    try {
      dirents = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      throw new Unlisted(err as NodeJS.ErrnoException);
    }
    for (const dirent of dirents) {
      const p = rel ? `${rel}/${dirent.name}` : dirent.name;
      visit(p, dirent);
      if (dirent.isDirectory()) into(path.join(dir, dirent.name), p);
    }
  };
  into(root, "");
}

/**
 * A mapped folder's entries, each handed to `visit` with a setter for `files`; a folder that
 * cannot be listed is a problem for every path under `target`, never an empty folder (that
 * would read as "everything was deleted"): what its walk had added is taken back, the files
 * and problems before it stay as they were.
 */
function walkOrProblem<T>(
  dir: string,
  target: string,
  files: Map<string, T>,
  problems: Problem[],
  visit: (rel: string, dirent: fs.Dirent, set: (key: string, value: T) => void) => void,
): void {
  const size = files.size;
  const said = problems.length;
  const replaced = new Map<string, T>();
  const set = (key: string, value: T) => {
    const old = files.get(key);
    if (old !== undefined && !replaced.has(key)) replaced.set(key, old);
    files.set(key, value);
  };
  try {
    walk(dir, (rel, dirent) => visit(rel, dirent, set));
  } catch (err) {
    if (!(err instanceof Unlisted)) throw err;
    let i = 0;
    for (const k of files.keys()) if (i++ >= size) files.delete(k);
    for (const [k, v] of replaced) files.set(k, v);
    problems.length = said;
    const e = err.cause;
    problems.push({ code: "CONTENT_PLAN_ERROR", target, message: `Cannot list ${e.path ?? dir}: ${e.code ?? e.message}`, fix: `Make it readable (e.g. \`chmod -R u+rX ${e.path ?? dir}\`), then run the upgrade again` });
  }
}

/**
 * A name read back from the disk that cannot be installed as it is: a backslash (a path
 * separator elsewhere: `..\\..\\x.md`), or bytes that are not UTF-8 (decoded as U+FFFD).
 * Pre-flight names the exact bytes (plugins/preflight/access.ts).
 */
function unsafeName(rel: string, abs: string, target: string, where: string): Problem | null {
  if (isSafeRelative(rel) && !rel.includes("\uFFFD")) return null;
  // A U+FFFD that was really in the name (valid UTF-8) encodes back to the same bytes: the path is there.
  if (isSafeRelative(rel) && lstatOrNull(abs)) return null;
  return { code: "UNSAFE_PATH", target, message: `Cannot install ${target}: the name of ${where} holds a backslash or bytes that are not UTF-8`, fix: `Rename or remove ${where}, then run the upgrade again` };
}

function realOrNull(p: string): string | null {
  try {
    return fs.realpathSync(p);
  } catch {
    return null;
  }
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch {
    return null;
  }
}

/** The in-source file a source symlink resolves to, or null (a problem said why it cannot be used). */
function sourceLink(sourceRoot: string, realRoot: string, abs: string, sourceRel: string, target: string, problems: Problem[]): string | null {
  const to = realOrNull(abs);
  if (to === null) {
    problems.push({ code: "CONTENT_PLAN_ERROR", target, message: `Cannot copy ${sourceRel}: it is a symlink to nothing (${fs.readlinkSync(abs)})`, fix: "Fix or remove the broken link in the source, or add it to the content plugin's excludes" });
  } else if (!isInside(realRoot, to)) {
    problems.push({ code: "UNSAFE_PATH", target, message: `Cannot copy ${sourceRel}: it is a symlink to ${to}, outside the source ${sourceRoot}`, fix: "Remove the link from the source (or add it to the content plugin's excludes); an upgrade only installs files that live in the source" });
  } else if (!fs.statSync(to).isFile()) {
    problems.push({ code: "CONTENT_PLAN_ERROR", target, message: `Cannot copy ${sourceRel}: it is a symlink to a folder`, fix: "Replace the link with a real folder in the source, or add it to the content plugin's excludes" });
  } else return to;
  return null;
}

/** N: every file of the source's three-way mapped folders, by installation path. */
export async function scanSource(
  sourceRoot: string,
  mappings: readonly Mapping[],
  excluded: (sourceRel: string) => boolean,
): Promise<{ files: Map<string, SourceFile>; problems: Problem[]; missing: Mapping[] }> {
  const files = new Map<string, SourceFile>();
  const problems: Problem[] = [];
  const missing: Mapping[] = [];
  const realRoot = realOrNull(sourceRoot) ?? path.resolve(sourceRoot);
  for (const m of mappings) {
    const dir = insideJoin(sourceRoot, m.from);
    const real = realOrNull(dir);
    if (real === null || !fs.statSync(real).isDirectory()) {
      missing.push(m);
      continue;
    }
    if (!isInside(realRoot, real)) {
      problems.push({
        code: "UNSAFE_PATH",
        message: `Cannot copy ${m.from}/ from the source: it is a symlink to ${real}, outside the source ${sourceRoot}`,
        fix: "Replace the link in the source with a real folder, or point --source at the checkout that holds the files",
      });
      continue;
    }
    walkOrProblem(dir, m.to, files, problems, (rel, dirent, set) => {
      const sourceRel = `${m.from}/${rel}`;
      if (dirent.isDirectory() || excluded(sourceRel)) return;
      const target = `${m.to}/${rel}`;
      const abs = path.join(dir, rel);
      const unsafe = unsafeName(rel, abs, target, `${sourceRel} in the source`);
      if (unsafe) problems.push(unsafe);
      if (dirent.isFile()) set(target, new SourceEntry(target, sourceRel, m, sourceRoot));
      else if (dirent.isSymbolicLink()) {
        const to = sourceLink(sourceRoot, realRoot, abs, sourceRel, target, problems);
        if (to) set(target, new SourceEntry(target, sourceRel, m, sourceRoot, to));
      } else {
        problems.push({ code: "CONTENT_PLAN_ERROR", target, message: `Cannot copy ${sourceRel}: it is not a regular file`, fix: "Remove it from the source, or add it to the content plugin's excludes" });
      }
    });
  }
  return { files, problems, missing };
}

/** L: every file of the installation's three-way mapped folders, minus user-owned and excluded paths. */
export async function scanLocal(
  installDir: string,
  mappings: readonly Mapping[],
  pathMap: PathMap,
  excluded: (sourceRel: string) => boolean,
  userOwned: (targetRel: string) => boolean,
): Promise<{ files: Map<string, LocalFile>; problems: Problem[] }> {
  const files = new Map<string, LocalFile>();
  const problems: Problem[] = [];
  for (const m of mappings) {
    // Every folder from the installation down to the mapped one must be real: a link
    // anywhere on the way would send our writes elsewhere.
    const segs = m.to.split("/");
    let linked: string | null = null;
    let blocked: string | null = null;
    for (let i = 1; i <= segs.length; i++) {
      const rel = segs.slice(0, i).join("/");
      const st = lstatOrNull(insideJoin(installDir, rel));
      if (st?.isSymbolicLink()) {
        linked = rel;
        break;
      }
      if (st && !st.isDirectory()) {
        blocked = rel;
        break;
      }
      if (!st) break;
    }
    if (linked) {
      problems.push({
        code: "UNSAFE_PATH",
        target: linked,
        message: `Cannot upgrade ${m.to}/: ${path.join(installDir, linked)} is a symlink (to ${fs.readlinkSync(insideJoin(installDir, linked))}); an upgrade never writes through a link`,
        fix: "Replace the link with a real copy of its folder (cp -RL), then run the upgrade again",
      });
      continue;
    }
    if (blocked) {
      problems.push({ code: "CONTENT_PLAN_ERROR", target: blocked, message: `Cannot upgrade ${m.to}/: ${path.join(installDir, blocked)} is a file, not a folder`, fix: "Move that file aside, then run the upgrade again" });
      continue;
    }
    const dir = insideJoin(installDir, m.to);
    if (!fs.existsSync(dir)) continue;
    walkOrProblem(dir, m.to, files, problems, (rel, dirent, set) => {
      const target = `${m.to}/${rel}`;
      if (dirent.isDirectory() || userOwned(target)) return;
      const src = pathMap.toSource(target);
      if (src && excluded(src.source)) return;
      const unsafe = unsafeName(rel, path.join(dir, rel), target, `${target} in the installation`);
      if (unsafe) problems.push(unsafe);
      if (dirent.isFile() || dirent.isSymbolicLink()) set(target, new LocalEntry(target, installDir, dirent.isSymbolicLink()));
    });
  }
  return { files, problems };
}
