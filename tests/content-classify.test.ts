// The pure parts of the content plugin: SPEC §5.2's table row by row, the .gitignore
// extraction, path safety, and option validation (exact codes and messages).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { isUpgradeError } from "../core/errors.ts";
import { contentPlugin } from "../plugins/content.ts";
import { missingLines, SECTION_HEADER, standardLines, stripComment, withFolderRenamed, withLines } from "../plugins/content/gitignore.ts";
import ignore from "ignore";
import { insideJoin, isSafeRelative, matcher, PathMap, patternLiterals } from "../plugins/content/paths.ts";
import { classify, countPlan, manifestHash } from "../plugins/content/plan.ts";
import { DEFAULT_EXCLUDES, DEFAULT_MAPPINGS, DEFAULT_USER_PATHS } from "../plugins/content/options.ts";
import { staticDeciderOf } from "../plugins/content/decide.ts";

const B = "b".repeat(64), L = "l".repeat(64), N = "n".repeat(64);
const row = (base: string | null, local: string | null, n: string | null, owner: "system" | "shared" = "system", baseKnown = true) =>
  classify({ base, local, new: n, owner, baseKnown });

test("L = N → unchanged (whatever the base)", () => {
  assert.is(row(B, N, N)?.action, "unchanged");
  assert.is(row(null, N, N)?.action, "unchanged");
  assert.is(row(null, N, N, "system", false)?.action, "unchanged");
});

test("L = B, N ≠ B → update", () => {
  assert.equal(row(B, B, N), { action: "update", reason: "changed upstream" });
});

test("L ≠ B, N = B → keep local", () => {
  assert.equal(row(B, L, B), { action: "keep_local", reason: "changed locally; upstream unchanged" });
});

test("L ≠ B, N ≠ B, L ≠ N → conflict", () => {
  assert.equal(row(B, L, N), { action: "conflict", reason: "changed locally and upstream", conflict: "both-changed" });
});

test("no L, N only → add", () => {
  assert.is(row(null, null, N)?.action, "new");
  assert.is(row(null, null, N, "system", false)?.action, "new");
});

test("N deleted upstream, L = B → delete (system and shared: an unedited copy holds nothing to lose)", () => {
  assert.equal(row(B, B, null, "system"), { action: "delete", reason: "deleted upstream" });
  assert.equal(row(B, B, null, "shared"), { action: "delete", reason: "deleted upstream" });
});

test("N deleted upstream, L ≠ B → conflict (system) / keep and report (shared)", () => {
  assert.equal(row(B, L, null, "system"), { action: "conflict", reason: "deleted upstream, changed locally", conflict: "deleted-upstream" });
  assert.equal(row(B, L, null, "shared"), { action: "keep", reason: "deleted upstream; kept because you edited it" });
  // Without a base nobody knows the file came from upstream: it is the user's.
  assert.equal(row(null, L, null, "shared", false), { action: "keep", reason: "local file (not from upstream)" });
});

test("L only (user file) → keep", () => {
  assert.equal(row(null, L, null), { action: "keep", reason: "local file (not from upstream)" });
  assert.is(row(null, L, null, "system", false)?.action, "keep");
});

test("no base known, L ≠ N → conflict, never overwritten", () => {
  assert.equal(row(null, L, N, "system", false), { action: "conflict", reason: "differs from upstream and no base is known", conflict: "no-base" });
  // A base is known but this path was never installed: both sides added it.
  assert.is(row(null, L, N, "system", true)?.conflict, "added-both");
});

test("files the user deleted: kept deleted when upstream did not change them, else conflict", () => {
  assert.equal(row(B, null, B), { action: "keep_local", reason: "deleted locally; upstream unchanged" });
  assert.equal(row(B, null, N), { action: "conflict", reason: "deleted locally, changed upstream", conflict: "deleted-locally" });
  assert.is(row(B, null, null), null);
});

test("counts per class and the base the manifest records", () => {
  const e = (action: string, hashes = { base: B, local: L, new: N }) => ({ target: "x", owner: "system" as const, action: action as never, hashes });
  const entries = ["new", "update", "unchanged", "keep_local", "keep", "merge", "conflict", "delete", "error"].map((a) => e(a));
  assert.equal(countPlan(entries), { new: 1, updated: 1, unchanged: 1, kept_local: 2, merged: 1, conflicts: 1, deleted: 1, errors: 1 });
  assert.is(manifestHash(e("merge")), N, "a merged file derives from upstream's new version");
  assert.is(manifestHash(e("update")), N);
  assert.is(manifestHash(e("keep_local")), N);
  assert.is(manifestHash(e("delete")), null);
  assert.is(manifestHash(e("keep")), null);
  assert.is(manifestHash(e("conflict"), "keep"), N);
  assert.is(manifestHash(e("conflict"), "skip"), B, "skip keeps the old base so the conflict is asked again");
});

test("gitignore: lines of the standard's gitignore blocks, inline comments stripped, once each", () => {
  const md = [
    "# Title", "```gitignore", "# Agent OS - Ephemeral content", ".agent-os/.cache/          # ~1.3GB - Vector index",
    ".agent-os/venv/            # ~100MB", "```", "text", "```bash", "git status  # not ours", "```",
    "```gitignore", ".agent-os/.cache/", ".agent-os.backup.*", "```",
  ].join("\n");
  assert.equal(standardLines(md), [".agent-os/.cache/", ".agent-os/venv/", ".agent-os.backup.*"]);
  assert.is(stripComment("  foo/   # why"), "foo/");
  assert.is(stripComment("# only a comment"), "");
  assert.equal(missingLines(".agent-os/.cache\n/.agent-os/venv/ # mine\n", [".agent-os/.cache/", ".agent-os/venv/", "x", "x"]), ["x"]);
  assert.is(withLines("node_modules/", ["a", "b"]), `node_modules/\n\n${SECTION_HEADER}\na\nb\n`);
  assert.is(withLines(null, ["a"]), `${SECTION_HEADER}\na\n`);
});

test("paths: relative, normalised, inside", () => {
  for (const ok of ["a", "a/b.md", "standards/universal", ".x/y"]) assert.ok(isSafeRelative(ok), ok);
  for (const bad of ["", "/abs", "../x", "a/../b", "a/./b", "a//b", "a\\b", "C:/x", "a/"]) assert.not.ok(isSafeRelative(bad), bad);
  assert.throws(() => insideJoin("/tmp/root", "../etc/passwd"), /Cannot use path "\.\.\/etc\/passwd": it leads outside \/tmp\/root/);
  const pm = new PathMap(DEFAULT_MAPPINGS);
  assert.equal(pm.toTarget("universal/standards/a/b.md")?.target, "standards/universal/a/b.md");
  assert.equal(pm.toSource("usage/x.md")?.source, "universal/usage/x.md");
  assert.is(pm.toSource("standards/development/x.md"), null);
});

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isUpgradeError(err));
    assert.is(err.code, "CONFIG_INVALID");
    return err.message;
  }
  throw new Error("expected CONFIG_INVALID");
}

test("options: mapping paths with .. or absolute paths are refused with the key named", () => {
  assert.is(
    configError(() => contentPlugin({ mappings: [{ from: "../outside", to: "standards/universal", owner: "system" }] })),
    'options of plugin "content": mappings.0.from: must be a relative path inside its folder (no "..", not absolute, "/" separators)',
  );
  assert.match(configError(() => contentPlugin({ mappings: [{ from: "universal/standards", to: "/etc", owner: "system" }] })), /mappings\.0\.to: must be a relative path/);
  assert.match(configError(() => contentPlugin({ mappings: [{ from: "universal/x", to: "specs/x", owner: "system" }] })), /mappings\.0\.to: "specs\/x" is user-owned/);
  assert.match(configError(() => contentPlugin({ mappings: [{ from: "universal/x", to: ".backups", owner: "system" }] })), /is a record of the upgrader itself/);
  assert.match(configError(() => contentPlugin({ mappings: [{ from: "a", to: "w", owner: "system" }, { from: "b", to: "w/x", owner: "shared" }] })), /"w" overlaps "w\/x"/);
  assert.match(configError(() => contentPlugin({ rules: [{ glob: "usage/**", action: "ask" as never }] })), /rules\.0\.action/);
  assert.match(configError(() => contentPlugin({ bogus: 1 } as never)), /bogus/);
});

test("decisions: first matching rule, then the policy, else undecided", () => {
  const d = staticDeciderOf([{ glob: "usage/**", action: "keep" }, { glob: ["*.json", "workflows/a/"], action: "theirs" }], "merge");
  assert.equal(d("usage/x.md"), { decision: "keep", by: "rule:usage/**" });
  assert.equal(d("workflows/a/b.md"), { decision: "theirs", by: "rule:*.json,workflows/a/" });
  assert.equal(d("workflows/meta.json"), { decision: "theirs", by: "rule:*.json,workflows/a/" });
  assert.equal(d("standards/universal/x.md"), { decision: "merge", by: "policy" });
  assert.is(staticDeciderOf([], "ask")("x"), null);
  assert.is(staticDeciderOf([], null)("x"), null);
});

test("matcher: the literal shortcut answers exactly as `ignore` does (defaults, anchors, classes, case, negations)", () => {
  const sets: string[][] = [
    DEFAULT_EXCLUDES,
    DEFAULT_USER_PATHS,
    ["**/drafts", "/top.md", "docs/*.tmp", "a?c/", "x[0-9].md", "  spaced.md  "],
    ["*.pyc", "!keep.pyc", "# a comment", "", "Build/"],
    ["multi\nline.md"],
  ];
  const paths = [
    "standards/universal/a.md", "mcp_server/x/__pycache__/m.cpython-312.pyc", "universal/usage/__PYCACHE__/y.md",
    "a.pyc", "deep/keep.pyc", "deep/KEEP.PYC", "x/.DS_Store", "x/.ds_store", "mcp_server/sub/.agent-os/f.md", "mcp_server/.cursor/rules",
    "standards/development/mine.md", "standards/developmentx/mine.md", "specs/s.md", "x/specs/s.md", "config.json", "x/config.json",
    "drafts", "a/b/drafts/c.md", "top.md", "a/top.md", "docs/t.tmp", "docs/sub/t.tmp", "abc/f", "aXc/f", "x1.md", "xa.md", "spaced.md", "a/spaced.md",
    "build/out.js", "BUILD/out.js", "multi", "line.md", "s/line.md",
  ];
  for (const patterns of sets) {
    const ig = ignore().add(patterns);
    const m = matcher(patterns);
    for (const p of paths) assert.is(m(p), ig.ignores(p), `${JSON.stringify(patterns)} on ${p}`);
  }
  // The shortcut is taken for the defaults, and given up where a rule has no literal part or an escape.
  assert.equal(patternLiterals(DEFAULT_EXCLUDES), ["__pycache__", ".pyc", ".ds_store", ".pytest_cache", ".mypy_cache", "mcp_server", "mcp_server", "mcp_server", "dist/ouroboros", "dist/ouroboros", "dist/ouroboros"]);
  assert.equal(patternLiterals(["*"]), null);
  assert.equal(patternLiterals(["*.*"]), ["."]);
  assert.equal(patternLiterals(["\\#literal"]), null);
  assert.equal(patternLiterals(["!only-negated", "# c"]), []);
});

test("gitignore in a migration: lines renamed in place, the old folder then ignored whole; planned again (a resume), the file does not change", () => {
  const wanted = [".praxis-os/.backups/", ".agent-os/"];
  const migrate = (text: string) => {
    const moved = withFolderRenamed(text, ".agent-os", ".praxis-os", wanted).text;
    return withLines(moved, missingLines(moved, wanted));
  };
  const user = "node_modules/\n.agent-os/venv/\n.agent-os/\n# .agent-os/ notes\ndist/\n";
  const once = migrate(user);
  assert.is(once, `node_modules/\n.praxis-os/venv/\n.praxis-os/\n# .agent-os/ notes\ndist/\n\n${SECTION_HEADER}\n.praxis-os/.backups/\n.agent-os/\n`);
  assert.is(migrate(once), once);
  assert.equal(withFolderRenamed(once, ".agent-os", ".praxis-os", wanted).renamed, []);
  // Without a line of the user's naming the whole folder: our own `.agent-os/` survives a second pass (a resumed apply).
  const plain = migrate("node_modules/\n.agent-os/venv/\n");
  assert.is(plain, `node_modules/\n.praxis-os/venv/\n\n${SECTION_HEADER}\n.praxis-os/.backups/\n.agent-os/\n`);
  assert.is(migrate(plain), plain);
});

test.run();
