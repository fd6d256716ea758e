/**
 * Which of the user's files mention the old installation (a migration, issue 23): the agents'
 * instruction files at the project root, and the user's own folders in the installation
 * (`specs/`, `standards/development/`). Each mention is a path through the old folder
 * (`.agent-os/standards/…`) or an old tool name (`aos_search_standards`); the rewrite names
 * the new folder and tool prefix. Only bounded text files are read.
 */
import fs from "node:fs";
import path from "node:path";
import { renameFolderIn } from "../layouts.ts";

/** The instruction files agents read, project-relative (upstream's installers wrote the first; the others are the agents' own). */
export const INSTRUCTION_FILES: readonly string[] = [".cursorrules", ".clinerules", ".claude/CLAUDE.md", "CLAUDE.md", ".github/copilot-instructions.md"];

/** The user's folders in the installation whose text may name the old folder. */
export const USER_CONTENT: readonly string[] = ["specs", "standards/development"];

const MAX_BYTES = 1 << 20;
const MAX_FILES = 5_000;

export interface Rename {
  fromDir: string;
  toDir: string;
  fromPrefix: string;
  toPrefix: string;
  /** Tools the new server names otherwise, after the prefix (the layout's `toolRenames`). */
  tools?: Readonly<Record<string, string>>;
}

/** The text with the old folder's paths, the old tool prefix and renamed tools renamed. */
export function rewriteMentions(text: string, r: Rename): string {
  const moved = renameFolderIn(text, r.fromDir, r.toDir);
  const prefixed = r.fromPrefix === r.toPrefix ? moved : moved.replace(new RegExp(`\\b${r.fromPrefix}([a-z][a-z0-9_]*)`, "g"), `${r.toPrefix}$1`);
  const names = Object.keys(r.tools ?? {});
  if (names.length === 0) return prefixed;
  return prefixed.replace(new RegExp(`\\b(${names.join("|")})\\b`, "g"), (t) => r.tools![t]);
}

export interface Mention {
  /** The file's key: project-relative as it is before the migration (`.cursorrules`, `.agent-os/specs/x.md`). */
  key: string;
  /** Where it is: the project root, or inside the installation (relative to it). */
  where: "project" | "install";
  rel: string;
  /** Lines that change. */
  lines: number;
  text: string;
  next: string;
}

function readText(abs: string): string | null {
  try {
    const st = fs.lstatSync(abs);
    if (!st.isFile() || st.size > MAX_BYTES) return null;
    const buf = fs.readFileSync(abs);
    return buf.includes(0) ? null : buf.toString("utf8");
  } catch {
    return null;
  }
}

function mentionOf(key: string, where: Mention["where"], rel: string, abs: string, r: Rename): Mention | null {
  const text = readText(abs);
  if (text === null) return null;
  const next = rewriteMentions(text, r);
  if (next === text) return null;
  const a = text.split("\n");
  const b = next.split("\n");
  return { key, where, rel, lines: a.filter((l, i) => l !== b[i]).length, text, next };
}

function filesUnder(root: string, rel: string, out: string[]): void {
  let names: fs.Dirent[];
  try {
    names = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
  } catch {
    return;
  }
  for (const d of names.sort((x, y) => x.name.localeCompare(y.name))) {
    if (out.length >= MAX_FILES) return;
    const r = `${rel}/${d.name}`;
    if (d.isDirectory()) filesUnder(root, r, out);
    else if (d.isFile()) out.push(r);
  }
}

/** Every file that mentions the old installation, in a stable order; install files keyed under `r.fromDir` (their name before the move). */
export function findMentions(projectRoot: string, installDir: string, r: Rename): Mention[] {
  const out: Mention[] = [];
  for (const f of INSTRUCTION_FILES) {
    const m = mentionOf(f, "project", f, path.join(projectRoot, f), r);
    if (m) out.push(m);
  }
  const files: string[] = [];
  for (const dir of USER_CONTENT) filesUnder(installDir, dir, files);
  for (const f of files) {
    const m = mentionOf(`${r.fromDir}/${f}`, "install", f, path.join(installDir, f), r);
    if (m) out.push(m);
  }
  return out;
}
