/**
 * The demo on praxis-os's newest layout (`agent-os-upgrade demo --layout praxis-os-dist`):
 * a `dist/` + `ouroboros` source with two releases (demo/kit/dist-source.ts), a project with
 * release 1 installed as upstream's installer does (five agents' launch entries, a venv, no
 * version record) and the user's edits (a standard, a code partition in `config/mcp.yaml`).
 *
 * Act 1 upgrades to release 2: content and config merged, `ouroboros/` replaced, its new
 * requirement installed, every agent's launch entry started. Act 2 rolls it back by hand:
 * the project is byte-identical to before act 1.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { humanRenderer, type Sink } from "../app/render.ts";
import { resolveConfig } from "../core/config.ts";
import { runOptionsOf } from "../core/options-resolve.ts";
import { runLifecycle, runManualRollback } from "../core/upgrader.ts";
import { builtinPlugins, depsPlugin } from "../plugins/mod.ts";
import { installDist } from "./kit/dist-install.ts";
import { editStandardAsUser, makeDistSource, USER_STANDARD_EDITS } from "./kit/dist-source.ts";
import { editMcpYamlAsUser, USER_PARTITION } from "./kit/dist-texts.ts";
import { diffTrees, snapshotTree } from "./kit/tree.ts";
import { offlinePipArgs, sharedWheelhouse } from "./kit/wheels.ts";

/** Our own records and byte-code: not part of "the project as it was". */
const ours = (rel: string) => /^\.praxis-os\/(\.cache|\.backups|\.upgrade)(\/|$)/.test(rel) || rel.includes("__pycache__");

/** Release 1 installed into `project` with the user's edits; returns what act 1 shows. */
async function setUp(root: string, project: string, say: (l?: string) => void) {
  const dist = makeDistSource(path.join(root, "praxis-os"));
  const wheelhouse = await sharedWheelhouse();
  fs.mkdirSync(path.join(project, ".vscode"), { recursive: true });
  fs.writeFileSync(path.join(project, ".vscode/settings.json"), JSON.stringify({ "editor.tabSize": 2 }, null, 2) + "\n");
  const installed = await installDist(project, dist.dir, "v1", { wheelhouse });
  const edited = Object.keys(USER_STANDARD_EDITS)[0];
  const file = path.join(installed.install, "standards/universal", edited);
  fs.writeFileSync(file, editStandardAsUser(edited, fs.readFileSync(file, "utf8")));
  const config = path.join(installed.install, "config/mcp.yaml");
  fs.writeFileSync(config, editMcpYamlAsUser(fs.readFileSync(config, "utf8")));
  say(`  source: praxis-os dist/ layout, release 1 ${dist.commits.v1.slice(0, 7)} → release 2 ${dist.commits.v2.slice(0, 7)}`);
  say(`  installed: release 1 into .praxis-os/ with launch entries for ${installed.agents.length} agents; user edits: ${edited}, a code partition in config/mcp.yaml`);
  return { dist, wheelhouse, install: installed.install, edited };
}

/** Runs the dist demo; 0 when the upgrade completed and the rollback gave the project back byte for byte. */
export async function runDistDemo(sink: Sink, keep: boolean): Promise<number> {
  const say = (l = "") => sink.out(l);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "agent-os-upgrade-demo-"));
  const project = path.join(root, "webapp");
  try {
    say(`Sandbox: ${root}`);
    say("Setting up: a praxis-os source with two releases, a project with release 1 installed, a venv …");
    const s = await setUp(root, project, say);
    const before = snapshotTree(project, { skip: ours });
    const resolved = resolveConfig({ plugins: [depsPlugin({ extraArgs: offlinePipArgs(s.wheelhouse), retries: 0 })] }, null, builtinPlugins());
    const core = { source: s.dist.dir, target: project, dryRun: false, yes: true, json: false, interactive: false };
    const options = runOptionsOf(resolved, core, {}, "library");
    const render = humanRenderer(sink, { tty: false });

    say();
    say("Act 1: upgrade to release 2 (content and config merged three-way, ouroboros replaced, a new dependency)");
    const r1 = await runLifecycle({ resolved, options }, { onEvent: render });
    if (r1.status !== "completed") return 1;
    const state = JSON.parse(fs.readFileSync(path.join(s.install, ".cache/state", `${r1.session_id}.json`), "utf8"));
    const entries = state.phases["4"].evidence.validate.launch_entries as { agent: string; ok: boolean }[];
    say(`  layout: ${r1.layout?.install}; launch entries started by validation: ${entries.map((e) => `${e.agent} ${e.ok ? "ok" : "FAILED"}`).join(", ")}`);
    say(`  your partition in config/mcp.yaml kept: ${fs.readFileSync(path.join(s.install, "config/mcp.yaml"), "utf8").includes(USER_PARTITION.trim().split("\n")[0]) ? "yes" : "no"}`);

    say();
    say("Act 2: roll the upgrade back by hand");
    const r2 = await runManualRollback({ resolved, options }, { onEvent: render });
    const differences = diffTrees(before, snapshotTree(project, { skip: ours }));
    say(`  project after the rollback is byte-identical to before act 1: ${differences.length === 0 ? "yes" : "NO"}`);
    for (const d of differences.slice(0, 20)) say(`    ${d}`);
    const ok = r2.exitCode === 0 && differences.length === 0;
    say();
    say(ok ? "Demo finished: a praxis-os dist/ install upgraded, then rolled back exactly." : "Demo did not end as expected.");
    return ok ? 0 : 1;
  } finally {
    if (keep) say(`(sandbox kept: ${root})`);
    else fs.rmSync(root, { recursive: true, force: true });
  }
}
