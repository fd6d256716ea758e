/**
 * Path safety and path translation. Every installation path the plugin touches is a
 * `/`-separated relative path that has passed `isSafeRelative`, and every absolute path it
 * writes is built by `insideJoin`, which refuses to leave its root: a hostile manifest or
 * a plugin that rewrites the plan cannot make us write outside the installation.
 */
import path from "node:path";
import ignore from "ignore";
import { UpgradeError } from "../../core/errors.ts";
import type { Mapping } from "./options.ts";

/** A relative, normalised, `/`-separated path without `..` or `.` segments. */
export function isSafeRelative(p: string): boolean {
  // One regex, no split: the planner checks every path of the manifest and of both trees.
  return typeof p === "string" && p.length > 0 && !UNSAFE.test(p);
}
/** A backslash, a NUL, a drive letter, a leading or trailing or double `/`, a `.` or `..` segment. */
const UNSAFE = /[\\\0]|^[A-Za-z]:|^\/|\/$|\/\/|(?:^|\/)\.\.?(?:\/|$)/;

/** Joins a checked relative path to its root; throws when the result would leave the root. */
export function insideJoin(root: string, rel: string): string {
  const abs = path.resolve(root, ...rel.split("/"));
  if (!isSafeRelative(rel) || !(abs + path.sep).startsWith(path.resolve(root) + path.sep)) {
    throw new UpgradeError("CONTENT_FAILED", `Cannot use path "${rel}": it leads outside ${root}`, {
      hint: "Paths in the plan, the mapping and the installed manifest must be relative and stay inside their folder",
    });
  }
  return abs;
}

/** True when `child` is `parent` or inside it (both absolute). */
export function isInside(parent: string, child: string): boolean {
  const p = path.resolve(parent);
  const c = path.resolve(child);
  return c === p || c.startsWith(p + path.sep);
}

/**
 * A gitignore-syntax matcher (the `ignore` package, the one globby and eslint use). Asking
 * `ignore` costs ~5 µs a path (and a cache entry each), the planner asks ~3 times per file,
 * and nearly every answer is "no": a path that holds none of the patterns' literal parts
 * (case-folded, as `ignore` matches) cannot be ignored, and is answered without asking.
 */
export function matcher(patterns: readonly string[]): (rel: string) => boolean {
  if (patterns.length === 0) return () => false;
  const ig = ignore().add([...patterns]);
  const literals = patternLiterals(patterns);
  if (!literals) return (rel) => ig.ignores(rel);
  if (literals.length === 0) return () => false;
  return (rel) => {
    const low = rel.toLowerCase();
    return literals.some((l) => low.includes(l)) && ig.ignores(rel);
  };
}

/**
 * For each rule that can ignore a path, a lowercase string every path it ignores contains;
 * null when some rule has none (`*.*`) or is not plain enough to tell (escapes, non-ASCII).
 * Comments, blank lines and negations (`!x`: they only re-include) need none.
 */
export function patternLiterals(patterns: readonly string[]): string[] | null {
  const out: string[] = [];
  for (const rule of patterns.flatMap((p) => p.split(/\r?\n/))) {
    if (rule.trim() === "" || rule.startsWith("#") || rule.startsWith("!")) continue;
    const lit = requiredLiteral(rule.trimEnd());
    if (lit === null) return null;
    out.push(lit);
  }
  return out;
}

/**
 * The longest run of a rule without glob syntax, slashes and spaces trimmed (a rule that
 * starts with two stars and a slash also ignores the name at the root, where no slash comes
 * before it): a path the rule ignores, or that lies under a folder it ignores, contains it.
 * A bracket class is a wildcard; an escape gives up.
 */
function requiredLiteral(rule: string): string | null {
  if (rule.includes("\\")) return null;
  const plain = rule.replace(/\[[^\]]*\]/g, "*");
  if (/[[\]]/.test(plain)) return null;
  const runs = plain.split(/[*?]/).map((r) => r.replace(/^[\s/]+|[\s/]+$/g, ""));
  const best = runs.reduce((a, b) => (b.length > a.length ? b : a), "");
  // Only ASCII folds the same in toLowerCase and in the `i` regexes `ignore` builds.
  if (best === "" || /[^\x20-\x7e]/.test(best)) return null;
  return best.toLowerCase();
}

/** Translates between source and installation paths through the mapping table. */
export class PathMap {
  readonly #byFrom: Mapping[];
  readonly #byTo: Mapping[];

  constructor(readonly mappings: readonly Mapping[]) {
    // Longest prefix first, so a nested mapping wins over its parent.
    this.#byFrom = [...mappings].sort((a, b) => b.from.length - a.from.length);
    this.#byTo = [...mappings].sort((a, b) => b.to.length - a.to.length);
  }

  toTarget(sourceRel: string): { mapping: Mapping; target: string } | null {
    for (const m of this.#byFrom) {
      if (sourceRel.startsWith(m.from + "/")) return { mapping: m, target: m.to + sourceRel.slice(m.from.length) };
    }
    return null;
  }

  toSource(targetRel: string): { mapping: Mapping; source: string } | null {
    for (const m of this.#byTo) {
      if (targetRel.startsWith(m.to + "/")) return { mapping: m, source: m.from + targetRel.slice(m.to.length) };
    }
    return null;
  }
}
