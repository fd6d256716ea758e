/** The command line parser against the real command table: commands, options, negations, help, mistakes. */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { helpText, parseCommandLine, UsageError } from "../app/argv.ts";
import { PROGRAM } from "../app/cli.ts";

const test = suite("argv");
const parse = (...argv: string[]) => parseCommandLine(PROGRAM, argv);
const usage = (argv: string[]): string => {
  try {
    parse(...argv);
  } catch (err) {
    assert.instance(err, UsageError);
    return (err as Error).message;
  }
  throw new Error(`no usage error for ${argv.join(" ")}`);
};

test("no command is the default upgrade; global options may come before the command", () => {
  const p = parse("--target", "proj", "--dry-run", "--on-conflict", "keep", "--keep-backups", "2");
  assert.is(p.command.name, "upgrade");
  assert.is(p.named, false);
  assert.equal(p.opts, { target: "proj", dryRun: true, onConflict: "keep", keepBackups: 2, restart: true, validate: true });
  const s = parse("--json", "--target=x", "status", "abc");
  assert.is(s.command.name, "status");
  assert.equal(s.args, ["abc"]);
  assert.equal(s.opts, { json: true, target: "x" });
});

test("--no-x sets x to false and counts as given; its default is true and not given", () => {
  const p = parse("resume", "--no-restart", "--skip-deps");
  assert.is(p.opts.restart, false);
  assert.is(p.opts.validate, true);
  assert.ok(p.given.has("restart") && p.given.has("skipDeps"));
  assert.not.ok(p.given.has("validate"));
});

test("-y and -V are the short forms; the last of a repeated option wins", () => {
  assert.is(parse("-y").opts.yes, true);
  assert.is(parse("-V").version, true);
  assert.is(parse("--target", "a", "--target", "b").opts.target, "b");
});

test("help: --help, -h, `help <command>`; the program's or the command's", () => {
  assert.is(parse("--help").named, false);
  assert.ok(parse("-h").help);
  const h = parse("help", "rollback");
  assert.ok(h.help && h.named);
  assert.is(h.command.name, "rollback");
  const root = helpText(PROGRAM);
  for (const c of PROGRAM.commands) assert.match(root, new RegExp(`^  ${c.name}\\b`, "m"));
  const up = helpText(PROGRAM, parse("upgrade", "--help").command);
  assert.match(up, "Usage: agent-os-upgrade upgrade [options]");
  assert.match(up, /--on-conflict <policy>\s+how to resolve conflicts: ask, keep, theirs, merge, skip, abort/);
  assert.match(up, "Global options:");
});

test("mistakes are usage errors in one line, with the near miss named", () => {
  assert.is(usage(["--dry-ru"]), "unknown option '--dry-ru' (Did you mean --dry-run?)");
  assert.is(usage(["stauts"]), "unknown command 'stauts' (Did you mean status?)");
  assert.is(usage(["status", "--force"]), "unknown option '--force' for 'status'");
  assert.is(usage(["--target"]), "option '--target <dir>' argument missing");
  assert.is(usage(["--target", "--json"]), "option '--target <dir>' argument missing");
  assert.is(usage(["--json=yes"]), "option '--json' takes no value");
  assert.is(usage(["status", "a", "b"]), "too many arguments for 'status': expected at most 1, got 2");
  assert.is(usage(["--keep-backups", "0"]), "option '--keep-backups <n>' argument '0' is invalid. expected a whole number of at least 1");
  // An unknown option is named before the word after it is taken for a command.
  assert.is(usage(["--bogus", "value"]), "unknown option '--bogus'");
});

test("`--` ends the options: what follows is an argument", () => {
  assert.equal(parse("status", "--", "--odd-id").args, ["--odd-id"]);
});

test.run();
