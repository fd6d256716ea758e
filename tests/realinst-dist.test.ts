// praxis-os's dist/ + ouroboros layout end to end (issue 22's must-show): release 1 installed
// the way upstream's installer does (five agents' launch entries, no version record), a user
// edit to a standard and a user partition in config/mcp.yaml, upgraded to release 2 with the
// real CLI: content and config merged (the user's key and comment kept), ouroboros/ replaced
// exactly, requirements installed, every agent's entry started by validation; then rollback
// gives the project back byte for byte.
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { EXIT } from "../core/errors.ts";
import { hashTree } from "../plugins/server/stage.ts";
import { USER_PARTITION } from "../demo/kit/dist-texts.ts";
import { USER_STANDARD_EDITS } from "../demo/kit/dist-source.ts";
import { snapshotTree } from "../demo/kit/tree.ts";
import { pipFreeze } from "../demo/kit/venv.ts";
import { resultOf, runCli } from "./helpers/cli.ts";
import { createDistProject, type DistProject } from "./helpers/dist-project.ts";
import { writeRealConfig } from "./helpers/realinst.ts";

const test = suite("realinst-dist");
const projects: DistProject[] = [];
test.after(() => {
  for (const p of projects) p.cleanup();
});

/** What the upgrade writes that is ours alone (records, byte-code): left out of "byte for byte". */
const ours = (rel: string) => /^\.praxis-os\/(\.cache|\.backups|\.upgrade)(\/|$)/.test(rel) || rel.includes("__pycache__");

/** The file as release 2 ships it, from the source's history. */
const atV2 = (p: DistProject, rel: string) => execFileSync("git", ["-C", p.source, "show", `v2:${rel}`], { encoding: "utf8" });

/** `git merge-file -p` of three texts: what a clean three-way merge gives. */
function mergeFile(p: DistProject, ours: string, base: string, theirs: string): string {
  const dir = fs.mkdtempSync(path.join(p.root, "merge-"));
  const f = (n: string, t: string) => (fs.writeFileSync(path.join(dir, n), t), path.join(dir, n));
  const out = execFileSync("git", ["merge-file", "-p", f("o", ours), f("b", base), f("t", theirs)], { encoding: "utf8" });
  fs.rmSync(dir, { recursive: true });
  return out;
}

async function distProject(): Promise<DistProject> {
  const p = await createDistProject();
  projects.push(p);
  writeRealConfig(p);
  return p;
}

test("a dist/ouroboros install upgrades to release 2: merged content and config, exact server, every agent's entry validated", async () => {
  const p = await distProject();
  const standard = Object.keys(USER_STANDARD_EDITS).find((rel) => !rel.startsWith("meta-framework/"))!;
  const localStandard = fs.readFileSync(path.join(p.install, "standards/universal", standard), "utf8");
  const localConfig = fs.readFileSync(path.join(p.install, "config/mcp.yaml"), "utf8");
  const baseOf = (rel: string) => execFileSync("git", ["-C", p.source, "show", `v1:${rel}`], { encoding: "utf8" });
  const settingsBefore = JSON.parse(fs.readFileSync(path.join(p.project, ".vscode/settings.json"), "utf8"));

  const r = await runCli(["--source", p.source, "--json"], { cwd: p.project, timeoutMs: 240_000 });
  assert.is(r.code, EXIT.ok, r.stdout + r.stderr);
  const res = resultOf(r);
  assert.equal(res.layout, { source: "praxis-os-dist", install: "praxis-os-dist" });
  assert.is(res.validation, "passed");

  // Content: the user's edit merged with release 2's change, as git merge-file merges them.
  const srcStandard = `dist/universal/standards/${standard}`;
  assert.is(fs.readFileSync(path.join(p.install, "standards/universal", standard), "utf8"), mergeFile(p, localStandard, baseOf(srcStandard), atV2(p, srcStandard)));
  // Config: the user's partition and its comment kept, release 2's change in.
  const config = fs.readFileSync(path.join(p.install, "config/mcp.yaml"), "utf8");
  assert.is(config, mergeFile(p, localConfig, baseOf("dist/config/mcp.yaml"), atV2(p, "dist/config/mcp.yaml")));
  assert.ok(config.includes(USER_PARTITION.trim().split("\n")[0]), "the user's partition is kept");
  // The server package replaced exactly; its new requirement installed.
  assert.equal(await hashTree(path.join(p.install, "ouroboros")), await hashTree(path.join(p.source, "dist/ouroboros"), ["__pycache__/", "*.pyc"]));
  assert.ok((await pipFreeze(p.venv)).includes("aou-fixture-b==1.0"));
  // Every agent's entry already had --transport: unchanged, and each one started the new server.
  const state = JSON.parse(fs.readFileSync(path.join(p.install, ".cache/state", `${res.session_id}.json`), "utf8"));
  const checks = state.phases["4"].evidence.validate.launch_entries as { agent: string; ok: boolean }[];
  assert.equal(checks.map((c) => c.agent).sort(), ["Claude Code (VS Code)", "Claude Code CLI", "Cline", "Copilot", "Cursor"]);
  assert.ok(checks.every((c) => c.ok), JSON.stringify(checks));
  assert.equal(JSON.parse(fs.readFileSync(path.join(p.project, ".vscode/settings.json"), "utf8")), settingsBefore, "settings.json untouched");
});

test("rollback --yes after the dist upgrade gives the project back byte for byte", async () => {
  const p = await distProject();
  const before = snapshotTree(p.project, { skip: ours });
  const r = await runCli(["--source", p.source, "--json"], { cwd: p.project, timeoutMs: 240_000 });
  assert.is(r.code, EXIT.ok, r.stdout + r.stderr);
  assert.not.equal(snapshotTree(p.project, { skip: ours }), before, "the upgrade changed the project");
  const back = await runCli(["rollback", "--yes", "--json"], { cwd: p.project, timeoutMs: 240_000 });
  assert.is(back.code, EXIT.ok, back.stdout + back.stderr);
  assert.equal(snapshotTree(p.project, { skip: ours }), before);
});

test("with migrate disabled, an entry without --transport makes the run fail validation and roll back, not report healthy", async () => {
  const p = await distProject();
  writeRealConfig(p, { disable: ["migrate"] });
  // The user's Cursor entry lost its --transport: ouroboros refuses to start without it.
  const file = path.join(p.project, ".cursor/mcp.json");
  const mcp = JSON.parse(fs.readFileSync(file, "utf8"));
  const key = Object.keys(mcp.mcpServers)[0];
  mcp.mcpServers[key].args = ["-m", "ouroboros"];
  fs.writeFileSync(file, JSON.stringify(mcp, null, 2) + "\n");
  const before = snapshotTree(p.project, { skip: ours });
  const r = await runCli(["--source", p.source, "--json"], { cwd: p.project, timeoutMs: 240_000 });
  assert.is.not(r.code, EXIT.ok, r.stdout + r.stderr);
  const res = resultOf(r);
  assert.not.equal(res.validation, "passed");
  assert.ok(JSON.stringify(res).includes("LAUNCH_ENTRY_STALE"), r.stdout);
  assert.equal(snapshotTree(p.project, { skip: ours }), before, "rolled back exactly");
});

test.run();
