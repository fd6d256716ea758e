/** Config: discovery, zero config, the project's own example, and the exact messages for invalid files. */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { CONFIG_ALIASES } from "../app/options.ts";
import { loadConfigFile, resolveConfig } from "../core/config.ts";
import { builtinPlugins } from "../plugins/mod.ts";
import { REPO, resultOf, runCli } from "./helpers/cli.ts";
import { makeProject, makeSource, tmpDir } from "./helpers/project.ts";
import { snapshotTree } from "../demo/kit/tree.ts";

const test = suite("config");

function setup() {
  const root = tmpDir();
  const src = makeSource(path.join(root, "src"));
  const proj = makeProject(path.join(root, "proj"));
  return { root, src, proj };
}

test("the project's own upgrade.config.ts loads, validates and replaces the built-in preflight", async () => {
  const { file, raw } = await loadConfigFile(REPO);
  assert.is(file, path.join(REPO, "upgrade.config.ts"));
  const r = resolveConfig(raw, file, builtinPlugins());
  assert.is(r.optionValues.onConflict, "ask");
  assert.is(r.config.source, path.resolve(REPO, "../agent-os-enhanced"));
  const names = r.plugins.map((p) => p.name);
  assert.equal(names, [...builtinPlugins().map((p) => p.name), "main-branch-only"]);
  assert.is.not(r.plugins[0], builtinPlugins()[0]);
});

test("zero config: the built-in plugins with defaults", async () => {
  const { proj } = setup();
  const { file, raw } = await loadConfigFile(proj.dir);
  assert.is(file, null);
  assert.equal(resolveConfig(raw, file, builtinPlugins()).plugins.map((p) => p.name), builtinPlugins().map((p) => p.name));
});

test("a package.json key is found", async () => {
  const { proj } = setup();
  fs.writeFileSync(path.join(proj.dir, "package.json"), JSON.stringify({ name: "p", "agent-os-upgrade": { keepBackups: 5 } }));
  const { file, raw } = await loadConfigFile(proj.dir);
  assert.is(file, path.join(proj.dir, "package.json"));
  assert.is(resolveConfig(raw, file, builtinPlugins()).optionValues.keepBackups, 5);
});

const invalid: Array<{ name: string; body: string; expect: (file: string) => string; exit: number }> = [
  {
    name: "syntax error",
    body: "export default {\n  keepBackups: 3,,\n};\n",
    expect: (f) => `Error [CONFIG_LOAD_FAILED]: Cannot load config ${f}:`,
    exit: 3,
  },
  {
    name: "unknown key",
    body: "export default { keepBackups: 3, colour: \"blue\" };\n",
    expect: (f) => `Error [CONFIG_INVALID]: Invalid config in ${f}: colour: unknown key`,
    exit: 3,
  },
  {
    name: "wrong type",
    body: "export default { keepBackups: \"three\" };\n",
    expect: (f) => `Error [CONFIG_INVALID]: Invalid config in ${f}: keepBackups: Invalid input: expected number, received string`,
    exit: 3,
  },
  {
    name: "bad enum value",
    body: "export default { onConflict: \"sometimes\" };\n",
    expect: (f) => `Error [CONFIG_INVALID]: Invalid config in ${f}: onConflict: Invalid option: expected one of "ask"|"keep"|"theirs"|"merge"|"skip"|"abort"`,
    exit: 3,
  },
  {
    name: "not a plugin",
    body: "export default { plugins: [{ name: \"x\" }] };\n",
    expect: (f) => `Error [CONFIG_INVALID]: Invalid config in ${f}: plugins.0: expected a plugin object { name, apply(hooks) }`,
    exit: 3,
  },
  {
    name: "bad plugin options",
    body: `import { preflightPlugin } from "agent-os-upgrade/plugins";\nexport default { plugins: [preflightPlugin({ diskFactor: -1 })] };\n`,
    expect: (f) => `Error [CONFIG_INVALID]: Invalid config in ${f}: options of plugin "preflight": diskFactor: Too small: expected number to be >0`,
    exit: 3,
  },
];

for (const c of invalid) {
  test(`an invalid upgrade.config.ts (${c.name}) gets one clear message, exit 3, nothing changed`, async () => {
    const s = setup();
    const file = path.join(s.proj.dir, "upgrade.config.ts");
    fs.writeFileSync(file, c.body);
    const before = snapshotTree(s.root, { mtime: true });
    const r = await runCli(["--source", s.src.dir], { cwd: s.proj.dir });
    assert.is(r.code, c.exit, r.stdout + r.stderr);
    const first = r.stderr.split("\n")[0];
    assert.ok(first.startsWith(c.expect(file)), `got: ${first}`);
    assert.match(r.stderr, "  hint: ");
    assert.not.match(r.stderr, "    at ");
    assert.equal(snapshotTree(s.root, { mtime: true }), before);
    const j = await runCli(["--source", s.src.dir, "--json"], { cwd: s.proj.dir });
    assert.is(resultOf(j).exit_code, c.exit);
  });
}

test("`init` writes a starter config that loads as it is", async () => {
  const s = setup();
  const r = await runCli(["init"], { cwd: s.proj.dir });
  assert.is(r.code, 0, r.stderr);
  const again = await runCli(["init"], { cwd: s.proj.dir });
  assert.is(again.code, 2);
  assert.match(again.stderr, "already exists");
  const { file, raw } = await loadConfigFile(s.proj.dir, null, CONFIG_ALIASES());
  assert.is(file, path.join(s.proj.dir, "upgrade.config.ts"));
  assert.is(resolveConfig(raw, file, builtinPlugins()).optionValues.keepBackups, 3);
});

test.run();
