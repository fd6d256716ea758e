/**
 * The three ways into a run cannot drift: `runUpgrade` (the library), the CLI's flags and the
 * MCP tools' parameters all go through one resolver, from the options the plugins declare.
 * A spy plugin records the option values its run sees.
 */
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runUpgrade } from "../app/mod.ts";
import { PROGRAM } from "../app/cli.ts";
import { optionKey, parseCommandLine } from "../app/argv.ts";
import { flagsOfParams, givenByParams } from "../app/mcp/options.ts";
import { flagName, ownedOptions, type OwnedOption } from "../core/options.ts";
import { definePlugin } from "../core/plugin.ts";
import { isUpgradeError } from "../core/errors.ts";
import { BUILTIN_RUN_OPTIONS } from "../plugins/run-options.ts";
import { runCli } from "./helpers/cli.ts";
import { makeProject, makeSource } from "./helpers/project.ts";
import { tmpDir } from "./helpers/temp.ts";

const OPTIONS = ownedOptions(BUILTIN_RUN_OPTIONS).list;

/** A value unlike the default, for each kind. */
function otherValue(o: OwnedOption): unknown {
  switch (o.kind) {
    case "boolean":
      return !o.default;
    case "count":
      return 7;
    case "string":
      return "abc1234";
    case "choice":
      return o.choices![o.choices!.length - 1];
    case "decisions":
      return { "standards/universal/testing/unit.md": "merge" };
  }
}

const VALUES = Object.fromEntries(OPTIONS.map((o) => [o.name, otherValue(o)]));

function setup() {
  const root = tmpDir("library");
  return { root, src: makeSource(path.join(root, "src")), proj: makeProject(path.join(root, "proj")) };
}

test("every built-in option has a flag and a config key or a parameter (the ways in are declared, not hand-written)", () => {
  assert.ok(OPTIONS.length >= 8, OPTIONS.map((o) => o.name).join(", "));
  for (const o of OPTIONS) assert.ok(o.flag, `${o.name} has a CLI flag`);
  for (const o of OPTIONS) assert.ok(o.mcp, `${o.name} has an MCP parameter`);
});

test("runUpgrade honours every option the CLI has, and the CLI's flags give the same values", async () => {
  const s = setup();
  let seen: Record<string, unknown> | null = null;
  const spy = definePlugin({ name: "spy", apply: (h) => h.start.tap((ctx) => void (seen = { ...ctx.options.plugin })) });
  const result = await runUpgrade({ plugins: [spy] }, { source: s.src.dir, target: s.proj.dir, dryRun: true, ...VALUES });
  assert.ok(result, "a result, never a throw, for a refused run");
  assert.equal(seen, VALUES);

  // The same intent through the CLI: each option's flag, in its own form.
  const recorded = path.join(s.root, "seen.json");
  fs.writeFileSync(path.join(s.proj.dir, "upgrade.config.ts"), `import fs from "node:fs";
export default { plugins: [{ name: "spy", apply: (h) => h.start.tap((ctx) => fs.writeFileSync(${JSON.stringify(recorded)}, JSON.stringify(ctx.options.plugin))) }] };
`);
  const decisionsFile = path.join(s.root, "decisions.json");
  fs.writeFileSync(decisionsFile, JSON.stringify(VALUES.decisions));
  const flags = OPTIONS.flatMap((o) => {
    const flag = `--${flagName(o.flag!)}`;
    if (o.kind === "boolean") return [flag];
    if (o.kind === "decisions") return [flag, decisionsFile];
    if (o.bare) return [`${flag}=${VALUES[o.name]}`];
    return [flag, String(VALUES[o.name])];
  });
  const r = await runCli(["--source", s.src.dir, "--dry-run", "--json", ...flags], { cwd: s.proj.dir });
  assert.ok(fs.existsSync(recorded), r.stdout + r.stderr);
  assert.equal(JSON.parse(fs.readFileSync(recorded, "utf8")), VALUES);
});

test("an MCP call's parameters, passed on as flags to the detached CLI, parse back to the same values", () => {
  const params = Object.fromEntries(OPTIONS.filter((o) => !o.dryRunOnly).map((o) => [o.mcp!, VALUES[o.name]]));
  const given = givenByParams(params);
  const flags = flagsOfParams(params, "decisions.json");
  const p = parseCommandLine(PROGRAM, ["upgrade", ...flags]);
  for (const o of OPTIONS.filter((x) => !x.dryRunOnly)) {
    const key = optionKey(o.flag!);
    assert.ok(p.given.has(key), `${o.name}: ${flags.join(" ")}`);
    if (o.kind === "decisions") assert.is(p.opts[key], "decisions.json");
    else if (o.kind !== "boolean") assert.equal(String(p.opts[key]), String(given[o.name]));
  }
});

test("runUpgrade refuses an option no plugin declares, naming it (a typo is not silently dropped)", async () => {
  const s = setup();
  try {
    await runUpgrade({}, { source: s.src.dir, target: s.proj.dir, dryRun: true, noValidat: true });
    assert.unreachable("a typo was accepted");
  } catch (err) {
    assert.ok(isUpgradeError(err));
    assert.is((err as Error).message, "Unknown run option: noValidat");
  }
  // An option of a built-in the config leaves out is not an error: it has no effect.
  const r = await runUpgrade({ disable: ["validate"] }, { source: s.src.dir, target: s.proj.dir, dryRun: true, noValidate: true, skipDeps: true, onConflict: "theirs" });
  assert.is(r.status, "completed", JSON.stringify(r.error));
});

test.run();
