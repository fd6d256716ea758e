/**
 * `--source` and `--ref` as a run uses them: a local checkout as given; a git URL (or a local
 * clone with `--ref`) fetched into the user's cache and checked out there
 * (plugins/source/remote.ts); or, when no source is given, the one the install's record
 * names (VERSION.txt `source=` and `ref=`), for `check` and `upgrade`.
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import { resolveLayout } from "../core/layout.ts";
import { fetchSource, isGitUrl, type SourceOrigin } from "../plugins/source/remote.ts";
import { readVersionFile } from "../plugins/version-file.ts";

export interface SourceChoice {
  /** The checkout the run reads (absolute), or null when no source is known. */
  source: string | null;
  /** Where it came from when it was fetched; null for a local checkout used in place. */
  origin: SourceOrigin | null;
}

export interface SourceArgs {
  source: string | null;
  ref: string | null;
  /** The command installs or compares (upgrade, check): fall back to the source the install's record names, and fetch a URL. Else (resume, rollback) a URL is not fetched: they do not read a source. */
  useRecord?: boolean;
  signal?: AbortSignal;
}

/** The source the install's VERSION.txt names (`source=`, `ref=`), if any. */
export function recordedSource(target: string): { source: string | null; ref: string | null } {
  const v = readVersionFile(resolveLayout(target).versionFile);
  return { source: v.source, ref: v.ref };
}

/**
 * Resolves the run's source. A local path with `--ref` is fetched like a `file://` URL, so
 * the ref is checked out in the cache and the clone itself is never touched.
 */
export async function resolveSourceArgs(a: SourceArgs, cwd: string, target: string): Promise<SourceChoice> {
  let { source, ref } = a;
  if (!source && a.useRecord) {
    const rec = recordedSource(target);
    source = rec.source;
    ref ??= rec.ref;
  }
  if (!source) return { source: null, origin: null };
  if (!isGitUrl(source) && !ref) return { source: path.resolve(cwd, source), origin: null };
  if (!a.useRecord) return { source: null, origin: null };
  const url = isGitUrl(source) ? source : pathToFileURL(path.resolve(cwd, source)).href;
  const r = await fetchSource(url, ref, { signal: a.signal });
  return { source: r.checkout, origin: { url: r.url, ref: r.ref, commit: r.commit } };
}
