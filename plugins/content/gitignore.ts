/**
 * The `.gitignore` lines an installation needs: those of the standard
 * `standards/universal/installation/gitignore-requirements.md` (its ```gitignore blocks,
 * inline `# …` comments stripped — upstream's TL;DR block annotates sizes that way), plus
 * our own records. Lines already present are not added again.
 */

import { renameFolderIn } from "../layouts.ts";

/** Pattern lines of every ```gitignore fenced block of a markdown document, in order, once each. */
export function standardLines(markdown: string): string[] {
  const out: string[] = [];
  let inBlock = false;
  for (const raw of markdown.split(/\r?\n/)) {
    const fence = /^\s*```+\s*([\w-]*)/.exec(raw);
    if (fence) {
      inBlock = !inBlock && fence[1].toLowerCase() === "gitignore";
      continue;
    }
    if (!inBlock) continue;
    const line = stripComment(raw);
    if (line && !out.includes(line)) out.push(line);
  }
  return out;
}

/** A gitignore line without its comment: a whole-line `#…`, or ` # …` after a pattern. */
export function stripComment(line: string): string {
  const t = line.trim();
  if (t.startsWith("#")) return "";
  return t.replace(/\s+#.*$/, "").trim();
}

/** Compare patterns as git would treat them equal for our purpose: leading and trailing slash aside. */
const norm = (l: string) => stripComment(l).replace(/^\/+/, "").replace(/\/+$/, "");

/** The wanted lines that `.gitignore` (null: absent) does not already have. */
export function missingLines(existing: string | null, wanted: readonly string[]): string[] {
  const have = new Set((existing ?? "").split(/\r?\n/).map(norm).filter(Boolean));
  const out: string[] = [];
  for (const w of wanted) {
    const n = norm(w);
    if (n && !have.has(n)) {
      have.add(n);
      out.push(w);
    }
  }
  return out;
}

export const SECTION_HEADER = "# Agent OS (added by agent-os-upgrade)";

/** `.gitignore` with the lines appended as one section, the rest of the file untouched. */
export function withLines(existing: string | null, add: readonly string[]): string {
  if (add.length === 0) return existing ?? "";
  const head = existing ? (existing.endsWith("\n") ? existing : existing + "\n") + "\n" : "";
  return `${head}${SECTION_HEADER}\n${add.join("\n")}\n`;
}

/** A migration's `.gitignore`: each pattern line naming the old installation folder names the new one, in place (comments and every other line untouched). */
export function withFolderRenamed(existing: string, from: string, to: string, own: readonly string[] = []): { text: string; renamed: string[] } {
  const renamed: string[] = [];
  const all = existing.split("\n");
  // Planned or applied again (a resumed run), the file must come out the same: a line whose
  // renamed form is there already stays, and so does a line of the run's own (`own`: the
  // lines it adds, such as the old folder ignored whole) in our section.
  const present = new Set(all.map((l) => l.trim()));
  let ours = false;
  const lines = all.map((l) => {
    if (l.trim() === SECTION_HEADER) ours = true;
    if (l.trim().startsWith("#") || (ours && own.includes(l.trim()))) return l;
    const n = renameFolderIn(l, from, to);
    if (n === l || present.has(n.trim())) return l;
    renamed.push(`${l.trim()} → ${n.trim()}`);
    return n;
  });
  return { text: lines.join("\n"), renamed };
}
