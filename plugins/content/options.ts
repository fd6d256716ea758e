/**
 * Options of the content plugin. The defaults are SPEC §2's mapping and ownership table and
 * copy excludes, so zero config upgrades a stock installation; a user config can change any
 * of them. Paths are checked here, once: nothing later has to wonder whether a mapping can
 * point outside the source or the installation.
 */
import { z } from "zod";
import { CONFLICT_POLICIES } from "../../core/types.ts";
import { isSafeRelative, matcher } from "./paths.ts";
import { RECORD_PATHS } from "../ownership.ts";
import { LAYOUTS, type LayoutDecl, layoutPathsWith, layoutUserPaths } from "../layouts.ts";

/** A folder relative to the source root or the installation folder, normalised without a trailing slash. */
const relDir = z
  .string()
  .min(1)
  .transform((p) => p.replace(/\/+$/, ""))
  .refine(isSafeRelative, {
    message: "must be a relative path inside its folder (no \"..\", not absolute, \"/\" separators)",
  });

export const Mapping = z.strictObject({
  /** Folder in the source checkout, e.g. `universal/standards`. */
  from: relDir,
  /** Folder in the installation, e.g. `standards/universal`. */
  to: relDir,
  /**
   * `system`: add, update, delete what upstream deleted (an edited one is a conflict).
   * `shared`: add, update, delete what upstream deleted only when unedited (an edited one is kept and reported).
   */
  owner: z.enum(["system", "shared"]),
  /**
   * `three-way`: planned and written by this plugin (phase 2). `replace`: copied exactly by the
   * server plugin (phase 3); listed here so the installed manifest covers it.
   */
  mode: z.enum(["three-way", "replace"]).default("three-way"),
});
export type Mapping = z.output<typeof Mapping>;

/** A layout's source-backed rows of its ownership table (SPEC §2). */
export function layoutMappings(l: LayoutDecl): Mapping[] {
  return l.paths
    .filter((p) => p.source && (p.mode === "three-way" || p.mode === "replace"))
    .map((p) => ({ from: p.source!, to: p.install, owner: p.owner as "system" | "shared", mode: p.mode as "three-way" | "replace" }));
}

/** gitignore syntax, relative to the installation folder: a layout's user paths. */
export const layoutUserPatterns = (l: LayoutDecl): string[] => layoutUserPaths(l).map((p) => (p.includes(".") ? `/${p}` : `/${p}/`));

/** The first layout's (agent-os-enhanced) mappings: what a config that names none gets for that layout. */
export const DEFAULT_MAPPINGS: Mapping[] = layoutMappings(LAYOUTS[0]);

/** gitignore syntax, relative to the source root (SPEC §2 "Copy excludes"). */
export const DEFAULT_EXCLUDES = [
  "__pycache__/",
  "*.pyc",
  ".DS_Store",
  ".pytest_cache/",
  ".mypy_cache/",
  // An install left inside a server package by dogfooding is never installed.
  ...[...new Set(LAYOUTS.flatMap((l) => layoutMappings(l).filter((m) => m.mode === "replace" && m.to === l.server.folder).map((m) => m.from)))]
    .flatMap((from) => [`${from}/**/.agent-os/`, `${from}/**/.praxis-os/`, `${from}/**/.cursor/`]),
];

/** gitignore syntax, relative to the installation folder: the user's, never touched (agent-os-enhanced's). */
export const DEFAULT_USER_PATHS = layoutUserPatterns(LAYOUTS[0]);

/** Our own records: no mapping may write into them. */
export const RESERVED_PATHS = [...RECORD_PATHS, ...new Set(LAYOUTS.flatMap((l) => layoutPathsWith(l, "deps")))];

export const DECISIONS = CONFLICT_POLICIES.filter((p) => p !== "ask") as Exclude<(typeof CONFLICT_POLICIES)[number], "ask">[];
export type Decision = (typeof DECISIONS)[number];

export const ConflictRule = z.strictObject({
  /** gitignore-syntax pattern(s) matched against the path in the installation, e.g. `usage/**`. */
  glob: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  action: z.enum(DECISIONS as [Decision, ...Decision[]]),
});
export type ConflictRule = z.output<typeof ConflictRule>;

export interface PromptRequest {
  target: string;
  reason: string;
  /** This conflict's place among the undecided ones: "`index` of `total`", from 1. */
  index: number;
  total: number;
  /** Returns the unified diff local → upstream (or a note for binaries) for "show diff". */
  diff: () => Promise<string>;
}
/** A decision for this conflict, or (`remaining: true`) for this one and every one after it. */
export type PromptAnswer = Decision | { decision: Decision; remaining: true };
/** Asks a person to decide one conflict; "show diff" is the prompt's own business. */
export type PromptFn = (req: PromptRequest) => Promise<PromptAnswer>;

export const ContentOptions = z
  .strictObject({
    /** Default: the run's layout's (plugins/layouts.ts). */
    mappings: z.array(Mapping).min(1).optional(),
    excludes: z.array(z.string().min(1)).default(DEFAULT_EXCLUDES),
    /** Default: the run's layout's user paths. */
    userPaths: z.array(z.string().min(1)).optional(),
    /** First matching rule decides a conflict; then `--on-conflict`; then a prompt on a terminal. */
    rules: z.array(ConflictRule).default([]),
    /** Files above this size are compared by hash only: no text diff, no merge. */
    largeFileBytes: z.number().int().positive().default(2 * 1024 * 1024),
    gitignore: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** The standard that lists the lines, relative to the installation folder. */
        standard: z.string().min(1).refine(isSafeRelative, { message: "must be a relative path inside the installation" })
          .default("standards/universal/installation/gitignore-requirements.md"),
        /** Our own records, relative to the installation folder. */
        own: z.array(z.string().min(1)).default([".backups/", ".upgrade-lock", ".cache/"]),
      })
      .default({ enabled: true, standard: "standards/universal/installation/gitignore-requirements.md", own: [".backups/", ".upgrade-lock", ".cache/"] }),
    /** Replaces the interactive prompt (tests, other front ends). Only used when the run is interactive. */
    prompt: z.custom<PromptFn>((v) => typeof v === "function", { message: "expected a function" }).optional(),
  })
  .superRefine((o, ctx) => {
    if (!o.mappings) return;
    const tos = o.mappings.map((m) => m.to);
    const userOwned = matcher(o.userPaths ?? DEFAULT_USER_PATHS);
    o.mappings.forEach((m, i) => {
      // Zod runs this even when a path already failed its own check: those are reported.
      if (!isSafeRelative(m.to) || !isSafeRelative(m.from)) return;
      for (const [j, other] of tos.entries()) {
        if (j !== i && (other === m.to || other.startsWith(m.to + "/"))) {
          ctx.addIssue({ code: "custom", path: ["mappings", i, "to"], message: `"${m.to}" overlaps "${other}": each installation path must come from one mapping` });
        }
      }
      if (userOwned(`${m.to}/x`)) {
        ctx.addIssue({ code: "custom", path: ["mappings", i, "to"], message: `"${m.to}" is user-owned (see userPaths): an upgrade never writes there` });
      }
      const top = m.to.split("/")[0];
      if (RESERVED_PATHS.includes(top)) {
        ctx.addIssue({ code: "custom", path: ["mappings", i, "to"], message: `"${m.to}" is a record of the upgrader itself` });
      }
    });
  });

export type ContentOptionsInput = z.input<typeof ContentOptions>;
export type ContentOptions = z.output<typeof ContentOptions>;
/** The options of one run: the paths the config left out filled from the run's layout. */
export type ContentSettings = ContentOptions & {
  mappings: Mapping[];
  userPaths: string[];
  /**
   * Where the installed commit kept the mapped folders, when not where the source keeps them:
   * a migration across layouts (`universal/standards` then, `dist/universal/standards` now).
   * The base is read through these; absent, through `mappings`.
   */
  baseMappings?: Mapping[];
};

/** `baseLayout`: in a migration, the layout the installation moves from (its paths name the base's files). */
export function settingsFor(opts: ContentOptions, layout: LayoutDecl, baseLayout?: LayoutDecl | null): ContentSettings {
  const mappings = opts.mappings ?? layoutMappings(layout);
  // A config that names its own mappings names them for both sides.
  const base = !opts.mappings && baseLayout ? layoutMappings(baseLayout) : null;
  const differs = base && JSON.stringify(base.map((m) => [m.from, m.to])) !== JSON.stringify(mappings.map((m) => [m.from, m.to]));
  return { ...opts, mappings, userPaths: opts.userPaths ?? layoutUserPatterns(layout), ...(differs ? { baseMappings: base! } : {}) };
}

/** Parsed options with a layout's paths (agent-os-enhanced unless named): for benches and tests that plan without a run. */
export const contentSettings = (input: ContentOptionsInput = {}, layout: LayoutDecl = LAYOUTS[0]): ContentSettings => settingsFor(ContentOptions.parse(input), layout);
