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

/** A gitignore-syntax matcher (the `ignore` package, the one globby and eslint use). */
export function matcher(patterns: readonly string[]): (rel: string) => boolean {
  if (patterns.length === 0) return () => false;
  const ig = ignore().add([...patterns]);
  return (rel) => ig.ignores(rel);
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
