/**
 * `ctx.$` in a dry run: only commands known not to write run; anything else is refused
 * before it is spawned (DRY_RUN_WRITE; the tap's wrapper names the plugin). The allowlist is
 * small on purpose (README "Plugins"): a command is its words, taken from the template's
 * literal text (which must be plain words: no redirection, pipe, `;`, `$(…)`, glob or quote)
 * and its interpolated values (zx quotes each, so they stay single words); a `.pipe()` into
 * a file is refused, into a command checked. The engine's before/after comparison of the
 * install (core/dry-watch.ts) is the backstop for what this cannot see (a read-only command
 * that a repository's config turns into a writer, a zx that pipes another way).
 */
import path from "node:path";
import type { Shell } from "zx";
import { UpgradeError } from "./errors.ts";

/** The literal text of a template: words, spaces and the characters of paths and flags only. */
const PLAIN = /^[\w\s@%+=:,./-]*$/;

/** git subcommands that only read (`status` without its optional index refresh: GIT_OPTIONAL_LOCKS=0). */
const GIT_READS = new Set([
  "status", "log", "show", "diff", "rev-parse", "rev-list", "ls-files", "ls-tree", "cat-file", "merge-base",
  "describe", "for-each-ref", "show-ref", "blame", "shortlog", "version", "--version",
]);
/** git options that run a command or write a file even under a reading subcommand. */
const GIT_WRITING_ARGS = /^(--output|-O|--open-files-in-pager|--ext-diff|-c$|--config-env|--exec-path=|--textconv)/;
/** git's options before the subcommand that change nothing. */
const GIT_GLOBAL_FLAGS = new Set(["--no-pager", "--no-optional-locks", "--literal-pathspecs", "--no-replace-objects"]);
/** pip's reading commands (`index` asks the package index only). */
const PIP_READS = new Set(["check", "list", "freeze", "show", "index", "--version", "-V"]);
/** Plain utilities that read files or the system, or print, and cannot write (redirection is refused above). */
const READERS = new Set(["cat", "echo", "head", "ls", "stat", "wc", "du", "df", "uname", "which", "pwd"]);

/** What the allowlist says, for the error's hint. */
export const READ_ONLY_COMMANDS = "git status|log|show|diff|rev-parse|rev-list|ls-files|ls-tree|cat-file|merge-base|describe|for-each-ref|show-ref|blame|shortlog|--version; " +
  "python --version; pip check|list|freeze|show|index|--version (also `python -m pip …`); cat, echo, head, ls, stat, wc, du, df, uname, which, pwd";

/** zx options a plugin may pass to `ctx.$(…)` in a dry run: none of them changes the command line. */
const SAFE_OPTIONS = new Set(["cwd", "env", "quiet", "verbose", "nothrow", "timeout", "timeoutSignal", "signal", "ac", "input", "halt", "killSignal", "delimiter", "stdio"]);

/** The words of a template call as zx will run them, or null when its literal text is more than plain words. */
export function commandWords(pieces: readonly string[], values: readonly unknown[]): string[] | null {
  const out: string[] = [];
  let word: string | null = null;
  const end = () => {
    if (word !== null) out.push(word);
    word = null;
  };
  for (let i = 0; i < pieces.length; i++) {
    if (!PLAIN.test(pieces[i])) return null;
    for (const part of pieces[i].split(/(\s+)/)) {
      if (/^\s+$/.test(part)) end();
      else if (part) word = (word ?? "") + part;
    }
    if (i >= values.length) continue;
    const v = values[i];
    // zx quotes each element of an array and joins them with spaces: separate words.
    (Array.isArray(v) ? v.map(String) : [String(v ?? "")]).forEach((x, k) => {
      if (k > 0) end();
      word = (word ?? "") + x;
    });
  }
  end();
  return out;
}

function gitReads(args: string[]): boolean {
  let i = 0;
  while (GIT_GLOBAL_FLAGS.has(args[i]) || args[i] === "-C") i += args[i] === "-C" ? 2 : 1;
  return GIT_READS.has(args[i]) && !args.slice(i + 1).some((a) => GIT_WRITING_ARGS.test(a));
}

function pipReads(args: string[]): boolean {
  return PIP_READS.has(args[0]) && !args.some((a) => /^--(log|report|target|prefix|root|cache-dir)/.test(a));
}

/** Whether a command (its words) is on the dry run's read-only allowlist. */
export function isReadOnly(words: string[]): boolean {
  if (!words.length) return false;
  const [cmd, ...args] = words;
  const name = path.basename(cmd);
  if (name === "git") return gitReads(args);
  if (/^pip(3(\.\d+)?)?$/.test(name)) return pipReads(args);
  if (/^python(3(\.\d+)?)?$/.test(name)) {
    if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) return true;
    return args[0] === "-m" && args[1] === "pip" && pipReads(args.slice(2));
  }
  return READERS.has(name);
}

const shown = (words: string[] | null, pieces: readonly string[]): string =>
  words ? words.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : JSON.stringify(w))).join(" ") : pieces.join("…").trim();

function refuse(what: string, message: string): UpgradeError {
  return new UpgradeError("DRY_RUN_WRITE", message, {
    hint: `A dry run runs only read-only commands (${READ_ONLY_COMMANDS}); the plugin must check ctx.dryRun before running others: report this to its author`,
    details: { command: what },
  });
}

function checkCommand(pieces: readonly string[], values: readonly unknown[]): void {
  const words = commandWords(pieces, values);
  if (words && isReadOnly(words)) return;
  const what = shown(words, pieces);
  throw refuse(what, `Cannot run \`${what}\` in a dry run: ${words ? "it is not a read-only command" : "only plain words are checked (no redirection, pipe, `;`, `$(…)` or glob)"}`);
}

/**
 * A process's `.pipe(…)` in a dry run: into a file (a path) is a write, into a command is
 * that command's check. zx's `pipe`, `pipe.stderr`, … all call the instance's `_pipe`; when a
 * zx version has none, the engine's before/after comparison still sees a file written.
 */
function guardPipe<T>(pp: T): T {
  const p = pp as { _pipe?: (source: unknown, dest: unknown, ...args: unknown[]) => unknown };
  const original = p._pipe;
  if (typeof original !== "function") return pp;
  p._pipe = function (source, dest, ...args) {
    if (typeof dest === "string") throw refuse(`pipe to ${dest}`, `Cannot pipe a command's output into "${dest}" in a dry run: it writes the file`);
    if (isTemplate(dest)) checkCommand(dest, args);
    const next = original.call(this, source, dest, ...args);
    return isTemplate(dest) ? guardPipe(next) : next;
  };
  return pp;
}

/** Environment every dry-run command gets: git does not refresh the index, Python writes no byte-code. */
export const DRY_RUN_ENV = Object.freeze({ GIT_OPTIONAL_LOCKS: "0", PYTHONDONTWRITEBYTECODE: "1" });

type AnyShell = (...a: unknown[]) => unknown;

const isTemplate = (a: unknown): a is readonly string[] => Array.isArray(a);

/** `shell`, refusing every command off the allowlist (and zx options that rewrite the command line). */
export function readOnlyShell<S extends Shell>(shell: S): S {
  const guarded = new Proxy(shell as unknown as AnyShell, {
    apply(target, self, args: unknown[]) {
      const [first, ...values] = args;
      if (isTemplate(first)) {
        const words = commandWords(first, values);
        checkCommand(first, values);
        return guardPipe(Reflect.apply(target, self, args));
      }
      const opts = (first ?? {}) as Record<string, unknown>;
      const bad = Object.keys(opts).filter((k) => !SAFE_OPTIONS.has(k) && !(k === "sync" && typeof opts[k] === "boolean"));
      if (bad.length) throw refuse(`$({ ${bad.join(", ")} })`, `Cannot use the zx option${bad.length === 1 ? "" : "s"} ${bad.join(", ")} in a dry run: ${bad.length === 1 ? "it changes" : "they change"} the command line`);
      const env = { ...(opts.env as object | undefined ?? process.env), ...DRY_RUN_ENV };
      return readOnlyShell(Reflect.apply(target, self, [{ ...opts, env }]) as S);
    },
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      return prop === "sync" && typeof value === "function" ? readOnlyShell(value as S) : value;
    },
  });
  return guarded as unknown as S;
}
