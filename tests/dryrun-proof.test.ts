/**
 * Issue 18 item 5: the dry run proven, through the real CLI. A config plugin that writes
 * through node:fs in pre-flight is caught by the engine's before/after comparison (named by
 * plugin and path, exit 1, never "nothing was written"); `ctx.$` refuses a command that is
 * not read-only before it runs, naming plugin and command, and runs the read-only ones; the
 * built-ins' own dry run still writes nothing and exits 0.
 */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { EXIT } from "../core/errors.ts";
import { commandWords, isReadOnly } from "../core/dry-shell.ts";
import { changesBetween, snapshotInstall } from "../core/dry-watch.ts";
import { resolveLayout } from "../core/layout.ts";
import { createContext } from "../core/context.ts";
import { createLogger } from "../core/log.ts";
import type { RunOptions } from "../core/types.ts";
import { resultOf, runCli } from "./helpers/cli.ts";
import { makeProject, makeSource, tmpDir } from "./helpers/project.ts";

const test = suite("dryrun-proof");

/** A source, a project, and a config that runs the built-ins (no venv here: deps, server and validate off) plus `plugin`. */
function setup(plugin = "") {
  const root = tmpDir("dryrun-proof");
  const src = makeSource(path.join(root, "src"), { "universal/standards/testing/new.md": "new in v2\n" });
  const proj = makeProject(path.join(root, "proj"));
  fs.writeFileSync(path.join(proj.dir, "upgrade.config.ts"), `import fs from "node:fs";
import path from "node:path";
export default {
  disable: ["deps", "server", "validate"],
  plugins: [${plugin}],
};
`);
  return { root, src, proj };
}

const dryRun = (s: ReturnType<typeof setup>, json = true) =>
  runCli(["--source", s.src.dir, "--dry-run", ...(json ? ["--json"] : [])], { cwd: s.proj.dir, timeoutMs: 120_000 });

const WRITER = `{
    name: "scribbler",
    apply(hooks) {
      hooks.preflight.tap((ctx) => {
        fs.writeFileSync(path.join(ctx.layout.installDir, "standards", "scribbled.md"), "written in a dry run\\n");
      });
    },
  }`;

test("a plugin writing through node:fs in pre-flight: the dry run names the plugin and the path, exit 1, not 'nothing was written'", async () => {
  const s = setup(WRITER);
  const r = await dryRun(s);
  assert.is(r.code, EXIT.failed, r.stdout + r.stderr);
  const res = resultOf(r);
  assert.is(res.status, "failed");
  assert.is(res.error.code, "DRY_RUN_WRITE");
  const [c, ...rest] = res.error.details.changed as Array<{ path: string; change: string; during: Array<{ plugin: string; hooks: string[] }> }>;
  assert.equal(rest, [], JSON.stringify(res.error.details));
  assert.equal([c.path, c.change], [".agent-os/standards/scribbled.md", "created"]);
  assert.equal(c.during[0], { plugin: "scribbler", hooks: ["preflight"] }, JSON.stringify(c.during));
  assert.ok(c.during.every((d) => d.hooks.includes("preflight")), "only plugins running pre-flight then");
  assert.match(res.error.message, /^The dry run changed 1 path: \.agent-os\/standards\/scribbled\.md \(created while plugins? "scribbler"/);

  fs.rmSync(path.join(s.proj.install, "standards", "scribbled.md"));
  const human = await dryRun(s, false);
  assert.is(human.code, EXIT.failed, human.stdout + human.stderr);
  assert.match(human.stderr, /^Error \[DRY_RUN_WRITE\]: The dry run changed 1 path: \.agent-os\/standards\/scribbled\.md \(created while plugins? "scribbler"/m);
  assert.match(human.stdout, /^Dry run failed: it changed the paths listed above$/m);
  assert.not.match(human.stdout, /Dry run finished/);
});

test("a plugin running `touch` through ctx.$ in a dry run: refused before it runs, naming plugin and command, exit 1", async () => {
  const s = setup(`{
    name: "toucher",
    apply(hooks) {
      hooks.preflight.tap(async (ctx) => {
        const head = await ctx.$\`git -C \${ctx.options.source} rev-parse HEAD\`;
        if (!/^[0-9a-f]{40}$/.test(head.stdout.trim())) throw new Error("a read-only command did not run: " + head.stdout);
        await ctx.$\`touch \${path.join(ctx.layout.installDir, "touched")}\`;
      });
    },
  }`);
  const before = snapshotTree(s.proj.dir, { mtime: true });
  const r = await dryRun(s);
  assert.is(r.code, EXIT.failed, r.stdout + r.stderr);
  const err = resultOf(r).error;
  const touched = path.join(s.proj.install, "touched");
  assert.equal([err.code, err.plugin, err.hook], ["DRY_RUN_WRITE", "toucher", "preflight"]);
  assert.is(err.message, `Plugin "toucher" failed in hook "preflight": Cannot run \`touch ${touched}\` in a dry run: it is not a read-only command`);
  assert.match(err.hint, /^A dry run runs only read-only commands \(git status\|log/);
  assert.equal(diffTrees(before, snapshotTree(s.proj.dir, { mtime: true })), [], "nothing written");
});

test("the built-ins' own dry run: 'nothing was written', exit 0, the tree unchanged to the mtime", async () => {
  const s = setup();
  const before = snapshotTree(s.proj.dir, { mtime: true });
  const r = await dryRun(s, false);
  assert.is(r.code, EXIT.ok, r.stdout + r.stderr);
  assert.match(r.stdout, /^Dry run finished, nothing was written in \d/m);
  assert.equal(diffTrees(before, snapshotTree(s.proj.dir, { mtime: true })), []);
});

test("the allowlist: read-only forms pass, writers and shell syntax do not (the words as zx will run them)", () => {
  const words = (t: TemplateStringsArray, ...v: unknown[]) => commandWords(t, v);
  const ok = (w: string[] | null) => w !== null && isReadOnly(w);
  const install = "/p/.agent-os";
  assert.equal(words`git -C ${"/a b"} log ${["-1", "--format=%H"]}`, ["git", "-C", "/a b", "log", "-1", "--format=%H"]);
  assert.equal(words`${install}/venv/bin/python -m pip check`, ["/p/.agent-os/venv/bin/python", "-m", "pip", "check"]);
  for (const w of [words`git status --short`, words`git --no-pager diff --stat`, words`git -C ${"/x"} rev-parse HEAD`, words`python3 --version`,
    words`${install}/venv/bin/python -m pip freeze`, words`pip3 list`, words`cat ${"a; rm -rf /"}`, words`echo hello`]) assert.ok(ok(w), String(w));
  for (const w of [words`touch x`, words`git commit -m x`, words`git diff --output=${"f"}`, words`git -c core.pager=x log`, words`git log > out`,
    words`git log; rm x`, words`ls $(rm x)`, words`python -c ${"open('x','w')"}`, words`pip install x`, words`pip --log ${"f"} check`,
    words`python -m pip download x`, words`rm -rf ${install}`, words`sh -c ${"ls"}`, words``]) assert.not.ok(ok(w), String(w));
});

test("ctx.$ in a dry run: a read-only pipe runs; piping into a file or a writer is refused; zx options that rewrite the command are refused", async () => {
  const dir = tmpDir("dryrun-proof-pipe");
  const ctx = createContext({
    layout: resolveLayout(dir),
    options: { target: dir, dryRun: true } as RunOptions,
    log: createLogger(() => {}),
    signal: new AbortController().signal,
    session: () => null,
    evidence: () => undefined,
    plan: () => null,
  });
  const refused = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      return [(err as { code: string }).code, (err as Error).message];
    }
    return null;
  };
  assert.is((await ctx.$`echo hi`.pipe`wc -c`).stdout.trim(), "3");
  const file = path.join(dir, "out.txt");
  assert.equal(refused(() => ctx.$`echo hi`.pipe(file)), ["DRY_RUN_WRITE", `Cannot pipe a command's output into "${file}" in a dry run: it writes the file`]);
  assert.equal(refused(() => ctx.$`echo hi`.pipe.stderr(file)), ["DRY_RUN_WRITE", `Cannot pipe a command's output into "${file}" in a dry run: it writes the file`]);
  assert.equal(refused(() => ctx.$`echo hi`.pipe`wc -c`.pipe`touch ${file}`), ["DRY_RUN_WRITE", `Cannot run \`touch ${file}\` in a dry run: it is not a read-only command`]);
  assert.equal(refused(() => ctx.$({ prefix: "touch x;" })`git --version`), ["DRY_RUN_WRITE", "Cannot use the zx option prefix in a dry run: it changes the command line"]);
  assert.is((await ctx.$({ cwd: dir })`pwd`).stdout.trim(), fs.realpathSync(dir));
  assert.equal(fs.readdirSync(dir), [], "nothing written");
});

test("the walk: venv three levels deep, .backups one, .cache's own records, the project's MCP files; a folder explained by a listed entry is not listed too", () => {
  const root = tmpDir("dryrun-proof-walk");
  const install = path.join(root, ".agent-os");
  const site = path.join(install, "venv/lib/python3.11/site-packages");
  const cache = path.join(install, ".cache");
  for (const f of [path.join(site, "pkg/mod.py"), path.join(install, ".backups/2026-01-01-000000/MANIFEST.json"), path.join(install, "standards/a.md"), path.join(root, ".cursor/mcp.json"),
    path.join(cache, "state/s.json"), path.join(cache, "upgrade-summary-1.md")]) {
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, "x\n");
  }
  const layout = resolveLayout(root);
  const before = snapshotInstall(layout);
  assert.ok(before.has(".agent-os/venv/lib/python3.11/site-packages"));
  assert.not.ok(before.has(".agent-os/venv/lib/python3.11/site-packages/pkg"));
  assert.ok(before.has(".agent-os/.backups/2026-01-01-000000"));
  assert.not.ok(before.has(".agent-os/.backups/2026-01-01-000000/MANIFEST.json"));
  assert.ok(before.has(".cursor/mcp.json") && !before.has(".cursor"));
  fs.writeFileSync(path.join(site, "pkg/mod.py"), "not ours to watch\n");
  fs.appendFileSync(path.join(root, ".cursor/mcp.json"), "{}\n");
  fs.mkdirSync(path.join(site, "newpkg"));
  fs.rmSync(path.join(install, "standards/a.md"));
  fs.mkdirSync(path.join(cache, "vector_index")); // the server's, not ours
  fs.writeFileSync(path.join(cache, "state/s.json"), "ours, changed\n");
  fs.writeFileSync(path.join(cache, "upgrade-validation-2.json"), "{}\n");
  const changes = changesBetween(before, snapshotInstall(layout), []).map((c) => [c.path, c.change, c.during]);
  assert.equal(changes, [
    [".agent-os/.cache/state/s.json", "changed", []],
    [".agent-os/.cache/upgrade-validation-2.json", "created", []],
    [".agent-os/standards/a.md", "removed", []],
    [".agent-os/venv/lib/python3.11/site-packages", "changed", []], // a package added: site-packages' own mtime
    [".cursor/mcp.json", "changed", []],
  ]);
});

test.run();
