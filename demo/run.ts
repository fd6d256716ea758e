/**
 * The built-in demo: a full upgrade in a sandbox, offline, with real parts — the real Agent
 * OS content of two releases (demo/assets), a real git source checkout, a real Python venv
 * with packages from local wheels, the fixture MCP server answering a real MCP handshake.
 *
 * Act 1 upgrades release ced34ea (server v1) to 395aab3 (server v2) with user edits in place.
 * Act 2 commits a server that crashes on start and upgrades again: validation fails and the
 * installation is rolled back to exactly what act 1 left.
 *
 * Everything it needs is in `demo/` (the assets and the kit: fixture server, wheels, venv),
 * which ships in the npm package: `npx agent-os-upgrade demo` or, from a checkout, `npm run demo`.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { resolveConfig } from "../core/config.ts";
import { humanRenderer, type Sink, processSink } from "../app/render.ts";
import { runOptionsOf } from "../core/options-resolve.ts";
import { runLifecycle } from "../core/upgrader.ts";
import { builtinPlugins, depsPlugin } from "../plugins/mod.ts";
import { extractRelease, NEW_RELEASE, OLD_RELEASE, type Release } from "./kit/assets.ts";
import { fixtureRequirements, fixtureScriptsDir, type ServerVersion, writeFixtureServer } from "./kit/fixture-server.ts";
import { copyTree, diffTrees, snapshotTree } from "./kit/tree.ts";
import { createVenv } from "./kit/venv.ts";
import { UpgradeError } from "../core/errors.ts";
import { runDistDemo } from "./dist.ts";
import { offlinePipArgs, sharedWheelhouse, SYSTEM_PYTHON } from "./kit/wheels.ts";

/** What the demo runs, and why: each missing one is named before anything starts. */
const PREREQUISITES = [
  { what: "git", argv: ["git", "--version"], why: "the demo's source checkout is a git repository" },
  { what: "tar", argv: ["tar", "--version"], why: "the Agent OS releases ship as .tar.gz" },
  { what: "python3", argv: [SYSTEM_PYTHON, "--version"], why: "the Agent OS MCP server runs in a Python venv" },
  { what: "python3's venv and pip (ensurepip)", argv: [SYSTEM_PYTHON, "-c", "import venv, ensurepip"], why: "the demo builds that venv and installs the server's packages" },
] as const;

/** Refuses, naming each missing tool and how to install it, instead of failing halfway with an internal error. */
export function checkPrerequisites(run: (argv: readonly string[]) => boolean = (argv) => {
  try {
    execFileSync(argv[0], argv.slice(1), { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}): void {
  const missing: string[] = [];
  for (const p of PREREQUISITES) {
    // python3's modules only matter once python3 itself runs.
    if (p.what.startsWith("python3's") && missing.some((m) => m.startsWith("python3 "))) continue;
    if (!run(p.argv)) missing.push(`${p.what} (${p.why})`);
  }
  if (missing.length === 0) return;
  throw new UpgradeError("PREFLIGHT_FAILED", `Cannot run the demo: missing ${missing.join("; ")}`, {
    hint: "Install them and run the demo again (Debian/Ubuntu: sudo apt-get install git tar python3 python3-venv python3-pip); nothing was created",
  });
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=demo", "-c", "user.email=demo@example.invalid", ...args], { cwd, encoding: "utf8" }).trim();
}

function commitRelease(source: string, release: Release, server: ServerVersion, message: string): string {
  extractRelease(release, source);
  for (const dir of ["mcp_server", "scripts"]) fs.rmSync(path.join(source, dir), { recursive: true, force: true });
  writeFixtureServer(server, path.join(source, "mcp_server"));
  copyTree(fixtureScriptsDir(server), path.join(source, "scripts"));
  git(source, "add", "-A");
  git(source, "commit", "-qm", message);
  return git(source, "rev-parse", "HEAD");
}

function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p).split(path.sep).join("/"));
    }
  };
  walk(dir);
  return out.sort();
}

export interface DemoOptions {
  sink?: Sink;
  /** Keep the sandbox folder (its path is printed). */
  keep?: boolean;
  /** Which layout to show: agent-os-enhanced (default) or praxis-os-dist (demo/dist.ts). */
  layout?: "agent-os-enhanced" | "praxis-os-dist";
}

/** Runs the demo; returns 0 when both acts ended as they should. */
export async function runDemo(opts: DemoOptions = {}): Promise<number> {
  const sink = opts.sink ?? processSink;
  const say = (l = "") => sink.out(l);
  checkPrerequisites();
  if (opts.layout === "praxis-os-dist") return await runDistDemo(sink, opts.keep ?? false);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "agent-os-upgrade-demo-"));
  const source = path.join(root, "agent-os-enhanced");
  const project = path.join(root, "my-project");
  const install = path.join(project, ".agent-os");
  try {
    say(`Sandbox: ${root}`);
    say("Setting up: a source checkout with two releases, a project with the older one installed, a venv …");
    fs.mkdirSync(source, { recursive: true });
    git(source, "init", "-q", "-b", "main");
    const c1 = commitRelease(source, OLD_RELEASE, "v1", "Agent OS Enhanced v1.3.0");
    // The project: release 1 installed (SPEC §2 mapping), as the upstream installer would.
    const rel1 = path.join(root, "release-1");
    extractRelease(OLD_RELEASE, rel1);
    copyTree(path.join(rel1, "universal/standards"), path.join(install, "standards/universal"));
    copyTree(path.join(rel1, "universal/workflows"), path.join(install, "workflows"));
    copyTree(path.join(rel1, "universal/usage"), path.join(install, "usage"));
    writeFixtureServer("v1", path.join(install, "mcp_server"));
    copyTree(fixtureScriptsDir("v1"), path.join(install, "scripts"));
    fs.writeFileSync(path.join(install, "VERSION.txt"), `version=1.3.0\ncommit=${c1}\n`);
    const wheelhouse = await sharedWheelhouse();
    const venv = await createVenv(path.join(install, "venv"), { packages: fixtureRequirements("v1"), wheelhouse });
    fs.mkdirSync(path.join(project, ".cursor"), { recursive: true });
    fs.writeFileSync(path.join(project, ".cursor/mcp.json"), JSON.stringify({
      mcpServers: { "agent-os-rag": { command: venv.python, args: ["-m", "mcp_server"], env: { PYTHONPATH: install, PYTHONUNBUFFERED: "1" } } },
    }, null, 2) + "\n");
    fs.writeFileSync(path.join(project, ".gitignore"), "node_modules/\n");

    // Release 2 upstream; meanwhile the user edited things.
    const c2 = commitRelease(source, NEW_RELEASE, "v2", "Dual-transport release");
    const changedUpstream = git(source, "diff", "--name-only", "--diff-filter=M", c1, c2, "--", "universal/standards").split("\n").filter((f) => f.endsWith(".md"));
    const edited = changedUpstream[0].replace(/^universal\/standards\//, "standards/universal/");
    const p = path.join(install, edited);
    fs.writeFileSync(p, `<!-- team note: we follow this strictly -->\n${fs.readFileSync(p, "utf8")}`);
    fs.mkdirSync(path.join(install, "standards/development"), { recursive: true });
    fs.writeFileSync(path.join(install, "standards/development/our-conventions.md"), "# Our conventions\n\nTabs, not spaces.\n");
    fs.mkdirSync(path.join(install, "specs/2025-10-20-login"), { recursive: true });
    fs.writeFileSync(path.join(install, "specs/2025-10-20-login/srd.md"), "# Login\n");
    say(`  source: ${files(path.join(source, "universal")).length} content files at ${c2.slice(0, 7)}; installed: ${c1.slice(0, 7)}`);
    say(`  user edits: ${edited} (also changed upstream), standards/development/our-conventions.md, specs/…`);

    const resolved = resolveConfig({
      onConflict: "merge",
      plugins: [depsPlugin({ extraArgs: offlinePipArgs(wheelhouse), retries: 0 })],
    }, null, builtinPlugins());
    const options = runOptionsOf(resolved, { source, target: project, dryRun: false, yes: true, json: false, interactive: false }, {}, "library");
    const render = humanRenderer(sink, { tty: false });

    say();
    say(`Act 1: upgrade ${c1.slice(0, 7)} → ${c2.slice(0, 7)} (new content, server v2 with a new dependency and a new launch argument)`);
    const r1 = await runLifecycle({ resolved, options }, { onEvent: render });
    if (r1.status !== "completed") return 1;
    const mcp = JSON.parse(fs.readFileSync(path.join(project, ".cursor/mcp.json"), "utf8")).mcpServers["agent-os-rag"].args;
    const state = JSON.parse(fs.readFileSync(path.join(install, ".cache/state", `${r1.session_id}.json`), "utf8"));
    say(`  content: ${JSON.stringify(state.phases["2"].evidence.content.plan_counts)}`);
    say(`  tools registered by the new server: ${state.phases["4"].evidence.validate.tools_registered.join(", ")}`);
    say(`  .cursor/mcp.json args now: ${mcp.join(" ")}`);
    say(`  your edit to ${edited} was merged: ${fs.readFileSync(path.join(install, edited), "utf8").startsWith("<!-- team note") ? "yes" : "no"}`);

    say();
    say("Act 2: upstream commits a server that crashes on start; upgrade again");
    const ignore = (rel: string) => rel.startsWith(".cache") || rel.startsWith(".backups") || rel === "UPDATE_LOG.txt" || rel.includes("__pycache__");
    const before = snapshotTree(install, { skip: ignore });
    commitRelease(source, NEW_RELEASE, "v2-crash", "A broken server");
    const r2 = await runLifecycle({ resolved, options }, { onEvent: render });
    const differences = diffTrees(before, snapshotTree(install, { skip: ignore }));
    const same = differences.length === 0;
    say(`  installation after the automatic rollback is byte-identical to before act 2: ${same ? "yes" : "NO"}`);
    for (const d of differences.slice(0, 20)) say(`    ${d}`);
    say();
    say(r2.status === "rolled_back" && same ? "Demo finished: one upgrade completed, one failed and was rolled back exactly." : "Demo did not end as expected.");
    return r2.status === "rolled_back" && same ? 0 : 1;
  } finally {
    if (opts.keep) say(`(sandbox kept: ${root})`);
    else fs.rmSync(root, { recursive: true, force: true });
  }
}
