/**
 * Conflict decisions, in order: the first per-glob rule of the config that matches, then
 * the run's policy (`--on-conflict` or the config's `onConflict`), then — only when a person
 * is at a terminal — a prompt with "show diff". Without a terminal nothing ever prompts:
 * an undecided conflict stops the run before anything is written.
 */
import { spawn } from "node:child_process";
import { Buffer } from "node:buffer";
import fs from "node:fs";
import { z } from "zod";
import { UpgradeError } from "../../core/errors.ts";
import type { ConflictPolicy } from "../../core/types.ts";
import { type ConflictRule, type Decision, DECISIONS, type PromptFn } from "./options.ts";
import { matcher } from "./paths.ts";
import type { ContentEntry } from "./plan.ts";

export interface StaticDecision {
  decision: Decision;
  by: string;
}

/**
 * Decides from the run's per-path decisions (`--decisions`), then config rules, then the
 * policy (deterministic: a dry run shows the same decisions).
 */
export function staticDeciderOf(rules: readonly ConflictRule[], policy: ConflictPolicy | null, perPath: Readonly<Record<string, Decision>> = {}) {
  const compiled = rules.map((r) => {
    const globs = Array.isArray(r.glob) ? r.glob : [r.glob];
    return { match: matcher(globs), action: r.action, label: `rule:${globs.join(",")}` };
  });
  return (target: string): StaticDecision | null => {
    if (Object.hasOwn(perPath, target)) return { decision: perPath[target], by: "decision" };
    for (const r of compiled) if (r.match(target)) return { decision: r.action, by: r.label };
    if (policy && policy !== "ask") return { decision: policy, by: "policy" };
    return null;
  };
}

const DecisionsFile = z.record(z.string().min(1), z.enum(DECISIONS as [Decision, ...Decision[]]));

/** Bounds of a decisions map: one decision per conflicting path needs far less. */
export const MAX_DECISIONS = 10_000;
export const MAX_DECISIONS_BYTES = 1 << 20;

const DECISIONS_HINT = 'Pass --decisions <file> with a JSON object such as {"standards/universal/x.md": "merge"}';

/**
 * Reads a `--decisions` file: a JSON object `{ "<installation path>": "keep"|"theirs"|"merge"|"skip"|"abort" }`.
 * Only a regular file of at most MAX_DECISIONS_BYTES is read (never past that: `/dev/zero`
 * must not fill memory), and an error never quotes the file's bytes (it may be a secret).
 */
export function readDecisionsFile(file: string): Record<string, Decision> {
  const refuse = (why: string) => new UpgradeError("USAGE", `Cannot read the decisions file ${file}: ${why}`, { hint: DECISIONS_HINT });
  let text: string;
  try {
    text = readBounded(file, refuse);
  } catch (err) {
    if (err instanceof UpgradeError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw refuse(code === "ENOENT" ? "it does not exist" : code === "EACCES" || code === "EPERM" ? "permission denied" : `${code ?? "it cannot be read"}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw refuse("it is not valid JSON");
  }
  const r = DecisionsFile.safeParse(raw);
  if (!r.success) {
    throw new UpgradeError("USAGE", `Cannot use the decisions file ${file}: ${r.error.issues.slice(0, 5).map((i) => `${i.path.map(String).join(".").slice(0, 200) || "(top level)"}: ${i.message}`).join("; ")}`, {
      hint: `Map each conflicting path (as the plan lists it) to one of ${DECISIONS.join(", ")}`,
    });
  }
  const n = Object.keys(r.data).length;
  if (n > MAX_DECISIONS) throw refuse(`it holds ${n} decisions; at most ${MAX_DECISIONS} are accepted (one per conflicting path)`);
  return r.data;
}

/** The text of a regular file of at most MAX_DECISIONS_BYTES, read without going past that bound. */
function readBounded(file: string, refuse: (why: string) => UpgradeError): string {
  // stat before open: opening a FIFO would wait for a writer.
  const st = fs.statSync(file);
  if (!st.isFile()) throw refuse(`it is not a regular file (${st.isDirectory() ? "a folder" : st.isFIFO() ? "a pipe" : st.isCharacterDevice() || st.isBlockDevice() ? "a device" : "a special file"})`);
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.alloc(MAX_DECISIONS_BYTES + 1);
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length;) n += got = fs.readSync(fd, buf, n, buf.length - n, null);
    if (n > MAX_DECISIONS_BYTES) throw refuse(`it is larger than ${MAX_DECISIONS_BYTES / 1048576} MiB`);
    return buf.subarray(0, n).toString("utf8");
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Decision keys that name no path of the plan (a typo would otherwise be silently "ask"),
 * each with a near miss when one is cheap to find: a planned path with the same file name.
 */
export function unknownDecisions(targets: Iterable<string>, decisions: Readonly<Record<string, unknown>>): Array<{ key: string; suggestion: string | null }> {
  const planned = new Set(targets);
  const unknown = Object.keys(decisions).filter((k) => !planned.has(k));
  if (!unknown.length) return [];
  const byName = new Map<string, string>();
  for (const t of planned) {
    const name = t.slice(t.lastIndexOf("/") + 1);
    if (!byName.has(name)) byName.set(name, t);
  }
  return unknown.map((key) => ({ key, suggestion: byName.get(key.slice(key.lastIndexOf("/") + 1)) ?? null }));
}

export const CONFLICT_FLAGS = "--on-conflict keep|theirs|merge|skip";

/** The error for conflicts nobody decided; pre-flight reports the same text as a finding. */
export function unresolvedMessage(targets: readonly string[]): { message: string; fix: string } {
  const shown = targets.slice(0, 20).join(", ") + (targets.length > 20 ? `, and ${targets.length - 20} more` : "");
  return {
    message: `Cannot upgrade the content without a decision: ${targets.length} conflict${targets.length === 1 ? "" : "s"} (${shown})`,
    fix: `Pass ${CONFLICT_FLAGS} (or abort), add per-glob rules to the content plugin in upgrade.config.ts, or run on a terminal to choose per file; nothing was written`,
  };
}

export interface AskOptions {
  interactive: boolean;
  prompt: PromptFn;
  diffOf: (entry: ContentEntry) => Promise<string>;
}

/** The error of a person choosing Abort: asked in pre-flight, so nothing was changed. */
export function abortedByYou(target: string): UpgradeError {
  return new UpgradeError("CONFLICTS_UNRESOLVED", "Aborted by you; nothing was changed", {
    plugin: "content",
    hook: "planContent",
    hint: `Run the upgrade again when ready to decide, or pass ${CONFLICT_FLAGS}`,
    details: { aborted_by_user: true, conflict: target },
  });
}

/**
 * Fills in every missing decision by asking ("n of N", or one answer for all remaining);
 * stops at the first Abort. Throws CONFLICTS_UNRESOLVED when nobody can be asked.
 */
export async function askMissing(entries: readonly ContentEntry[], opts: AskOptions): Promise<void> {
  const open = entries.filter((e) => e.action === "conflict" && !e.decision);
  if (open.length === 0) return;
  if (!opts.interactive) {
    const { message, fix } = unresolvedMessage(open.map((e) => e.target));
    throw new UpgradeError("CONFLICTS_UNRESOLVED", message, { hint: fix, details: { conflicts: open.map((e) => e.target) } });
  }
  for (const [i, e] of open.entries()) {
    const answer = await opts.prompt({ target: e.target, reason: e.reason ?? "conflict", index: i + 1, total: open.length, diff: () => opts.diffOf(e) });
    if (typeof answer === "string") {
      e.decision = answer;
      e.decided_by = "prompt";
      if (answer === "abort") return;
      continue;
    }
    for (const rest of open.slice(i)) {
      rest.decision = answer.decision;
      rest.decided_by = rest === e ? "prompt" : "prompt (same for all remaining)";
    }
    return;
  }
}

const SAME_FOR_ALL = "all";
const CHOICES: { name: string; value: Decision }[] = [
  { name: "Keep mine", value: "keep" },
  { name: "Take upstream (theirs)", value: "theirs" },
  { name: "Three-way merge (markers where it cannot)", value: "merge" },
  { name: "Skip (ask again next upgrade)", value: "skip" },
];

export interface TerminalPromptIO {
  /** Prints text on the terminal (a short diff). */
  print?: (text: string) => void;
  /** Shows a long diff one screen at a time; default: `$PAGER` (else `less -R`) on a terminal. */
  page?: (text: string) => Promise<void>;
  /** Rows of the terminal: a diff taller than this is paged. */
  rows?: () => number;
}

/** Ctrl-C (or a closed terminal) at a prompt: the person's Abort, not a plugin failure. */
const isExit = (err: unknown) => (err as Error)?.name === "ExitPromptError" || (err as Error)?.name === "AbortPromptError";

/** A select that answers `abort` when the person presses Ctrl-C. */
async function choose<T extends string>(config: { message: string; choices: { name: string; value: T }[]; pageSize?: number }): Promise<T | "abort"> {
  const { select } = await import("@inquirer/prompts");
  try {
    return await select<T>(config);
  } catch (err) {
    if (isExit(err)) return "abort";
    throw err;
  }
}

/** The terminal prompt: @inquirer/prompts' select, "n of N", looping on the three-way view; Ctrl-C is Abort. */
export function terminalPrompt(io: TerminalPromptIO = {}): PromptFn {
  const print = io.print ?? ((t: string) => process.stdout.write(t));
  const page = io.page ?? pager;
  const rows = io.rows ?? (() => process.stdout.rows ?? 24);
  return async (req) => {
    const remaining = req.total - req.index + 1;
    for (;;) {
      const answer = await choose<Decision | "diff" | typeof SAME_FOR_ALL>({
        message: `Conflict ${req.index} of ${req.total}: ${req.target} (${req.reason}). What now?`,
        choices: [
          { name: "Show the three-way view (your change, upstream's change, the merge)", value: "diff" },
          ...CHOICES,
          ...(remaining > 1 ? [{ name: `Same for all ${remaining} remaining…`, value: SAME_FOR_ALL } as const] : []),
          { name: "Abort the upgrade (nothing is changed)", value: "abort" },
        ],
        pageSize: 10,
      });
      if (answer === SAME_FOR_ALL) {
        const rest = remaining - 1;
        const decision = await choose<Decision | "back">({
          message: `For this conflict and the ${rest} after it:`,
          choices: [...CHOICES, { name: "Back", value: "back" }, { name: "Abort the upgrade (nothing is changed)", value: "abort" }],
        });
        if (decision === "back") continue;
        if (decision === "abort") return "abort";
        return { decision, remaining: true };
      }
      if (answer !== "diff") return answer;
      const diff = (await req.diff()).trimEnd() + "\n";
      if (diff.split("\n").length > rows() - 4) await page(diff);
      else print(diff);
    }
  };
}

/** Pipes text into `$PAGER` (default `less -R`) on the terminal; waits until the person quits it. */
export function pager(text: string, command = process.env.PAGER || "less -R"): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(command, { shell: true, stdio: ["pipe", "inherit", "inherit"] });
    child.on("error", () => {
      process.stdout.write(text);
      resolve();
    });
    child.on("close", () => resolve());
    child.stdin!.on("error", () => {}); // the pager may quit before reading it all
    child.stdin!.end(text);
  });
}
