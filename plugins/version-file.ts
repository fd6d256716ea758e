/**
 * `.agent-os/VERSION.txt`: `key=value` lines (upstream writes at least `commit=`). We read
 * the keys we know and rewrite only those, keeping every other line the user or the
 * installer put there.
 */
import fs from "node:fs";

export interface VersionInfo {
  commit: string | null;
  version: string | null;
  /** Where the install came from when it was fetched by URL (`source=`), and the ref asked for (`ref=`). */
  source: string | null;
  ref: string | null;
  lines: string[];
}

/**
 * The keys we write, in this order when they are added (existing lines keep their place):
 * a regex manager (Renovate's `customManagers`) reads `source=`, `ref=` and `commit=`;
 * `layout=` names the installed layout (plugins/layouts.ts); `runtime=pending` says the
 * committed install is ahead of the venv and the running server (an `upgrade --ci` run).
 */
export const VERSION_KEYS = ["commit", "version", "updated", "source", "ref", "layout", "runtime"] as const;

export function readVersionFile(file: string): VersionInfo {
  let text = "";
  try {
    text = fs.readFileSync(file, "utf8");
  } catch { /* absent: nothing known */ }
  const lines = text.split("\n");
  const get = (k: string) => {
    const l = lines.find((x) => x.trim().toLowerCase().startsWith(`${k}=`));
    const v = l?.slice(l.indexOf("=") + 1).trim();
    return v ? v : null;
  };
  return { commit: get("commit"), version: get("version"), source: get("source"), ref: get("ref"), lines };
}

/** The new text of VERSION.txt with the given keys set (added at the end when missing); a null value removes the key's line. */
export function updatedVersionText(info: VersionInfo, values: Record<string, string | null>): string {
  const lines = info.lines.filter((l, i) => !(i === info.lines.length - 1 && l === ""));
  const done = new Set<string>();
  const out = lines.flatMap((l) => {
    const k = l.slice(0, l.indexOf("=")).trim().toLowerCase();
    if (l.includes("=") && k in values) {
      done.add(k);
      return values[k] === null ? [] : [`${k}=${values[k]}`];
    }
    return [l];
  });
  const order = (k: string) => (VERSION_KEYS as readonly string[]).indexOf(k) >>> 0;
  const missing = Object.keys(values).filter((k) => !done.has(k) && values[k] !== null).sort((a, b) => order(a) - order(b));
  for (const k of missing) out.push(`${k}=${values[k]}`);
  return out.join("\n") + "\n";
}
