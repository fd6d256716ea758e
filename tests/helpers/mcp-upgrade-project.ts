/**
 * A project to upgrade through the MCP tools, everything real: a source checkout with two
 * releases in its git history (an edit, a rename, a deletion, a new workflow, server v1 → v2
 * with a new Python dependency), a project with release 1 installed (VERSION.txt names its
 * commit), a venv from local wheels, `.cursor/mcp.json`, and an `upgrade.config.ts` that
 * points pip at the wheelhouse (no network here).
 *
 *   <root>/source/   release 1, then release 2 (HEAD)
 *   <root>/proj/.agent-os/   release 1, with the user's edit to EDITED (changed upstream too)
 */
import type { Buffer } from "node:buffer";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client";
// @ts-types="../../node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.d.ts"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { BIN, REPO, tsCommand } from "./cli.ts";
import { fixtureRequirements, fixtureScriptsDir, fixtureServerDir, type ServerVersion } from "../../demo/kit/fixture-server.ts";
import { copyTree } from "../../demo/kit/tree.ts";
import { createVenv } from "../../demo/kit/venv.ts";
import { offlinePipArgs, sharedWheelhouse } from "../../demo/kit/wheels.ts";
import { tmpDir } from "./temp.ts";

const PYRAMID_1 = [
  "# Test pyramid",
  "",
  "Many unit tests, fewer integration tests, few end-to-end tests.",
  "",
  "## Unit tests",
  "",
  "Fast, isolated, one behaviour each.",
  "",
  "## Integration tests",
  "",
  "Real parts wired together.",
  "",
].join("\n");
const PYRAMID_2 = PYRAMID_1.replace("Real parts wired together.", "Real parts wired together, real databases included.");

const RELEASE_1: Record<string, string> = {
  "standards/testing/test-pyramid.md": PYRAMID_1,
  "standards/ai-safety/credential-file-protection.md": "# Credential file protection\n\nNever write to .env files without asking.\n",
  "standards/ai-safety/old-name.md": "# Production code checklist\n\nRun the tests.\n",
  "workflows/spec_creation_v1/metadata.json": '{ "name": "spec_creation_v1", "phases": 2 }\n',
  "workflows/spec_creation_v1/phases/0/phase.md": "# Phase 0: context\n",
  "workflows/spec_creation_v1/phases/1/obsolete.md": "# Obsolete step\n",
};

const RELEASE_2: Record<string, string> = {
  ...Object.fromEntries(Object.entries(RELEASE_1).filter(([k]) => !k.endsWith("old-name.md") && !k.endsWith("obsolete.md"))),
  "standards/testing/test-pyramid.md": PYRAMID_2,
  "standards/ai-safety/production-code-checklist.md": "# Production code checklist\n\nRun the tests.\n",
  "workflows/agent_os_upgrade_v1/metadata.json": '{ "name": "agent_os_upgrade_v1", "phases": 6 }\n',
};

/** The user-edited file, also changed upstream: a conflict that merges cleanly. */
export const EDITED = "standards/universal/testing/test-pyramid.md";
export const USER_LINE = "<!-- team note: we follow this strictly -->";
/** EDITED after a merge: the user's line and upstream's change. */
export const MERGED = `${USER_LINE}\n${PYRAMID_2}`;

const MAP: Array<[string, string]> = [["standards/", "standards/universal/"], ["workflows/", "workflows/"]];

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=fixture", "-c", "user.email=fixture@example.invalid", "-c", "commit.gpgsign=false", ...args], { cwd, encoding: "utf8" }).trim();
}

function writeFiles(base: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(base, rel)), { recursive: true });
    fs.writeFileSync(path.join(base, rel), text);
  }
}

function commitRelease(source: string, files: Record<string, string>, server: ServerVersion, message: string): string {
  for (const dir of ["universal", "mcp_server", "scripts"]) fs.rmSync(path.join(source, dir), { recursive: true, force: true });
  writeFiles(path.join(source, "universal"), files);
  copyTree(fixtureServerDir(server), path.join(source, "mcp_server"));
  copyTree(fixtureScriptsDir(server), path.join(source, "scripts"));
  git(source, "add", "-A");
  git(source, "commit", "-qm", message);
  return git(source, "rev-parse", "HEAD");
}

export interface UpgradeProject {
  root: string;
  project: string;
  install: string;
  source: string;
  commits: [string, string];
  python: string;
  /** Where the pause plugin meets the test (see pause-plugin.ts). */
  pauseDir: string;
  cleanup(): void;
}

export interface UpgradeProjectOptions {
  /** The server of release 2. Default v2. */
  server?: ServerVersion;
  /** Add the pause plugin (tests/helpers/pause-plugin.ts), holding on files in `<root>/pause`. */
  pause?: boolean;
}

/** Builds the project and source described in the file comment, under a fresh temp folder. */
export async function createUpgradeProject(opts: UpgradeProjectOptions = {}): Promise<UpgradeProject> {
  const root = tmpDir("mcpup");
  const source = path.join(root, "source");
  const project = path.join(root, "proj");
  const install = path.join(project, ".agent-os");
  const pauseDir = path.join(root, "pause");
  fs.mkdirSync(pauseDir);
  fs.mkdirSync(source, { recursive: true });
  git(source, "init", "-q", "-b", "main");
  const c1 = commitRelease(source, RELEASE_1, "v1", "release 1");
  const c2 = commitRelease(source, RELEASE_2, opts.server ?? "v2", "release 2");

  for (const [rel, text] of Object.entries(RELEASE_1)) {
    const m = MAP.find(([from]) => rel.startsWith(from))!;
    writeFiles(install, { [m[1] + rel.slice(m[0].length)]: text });
  }
  copyTree(fixtureServerDir("v1"), path.join(install, "mcp_server"));
  copyTree(fixtureScriptsDir("v1"), path.join(install, "scripts"));
  fs.writeFileSync(path.join(install, "VERSION.txt"), `version=1.0.0\ncommit=${c1}\n`);
  writeFiles(install, { "standards/development/team-notes.md": "# Our notes\n\nUser-owned.\n", "specs/2025-10-20-login/srd.md": "# Login\n" });
  fs.writeFileSync(path.join(install, EDITED), `${USER_LINE}\n${PYRAMID_1}`);

  const wheelhouse = await sharedWheelhouse();
  const venv = await createVenv(path.join(install, "venv"), { packages: fixtureRequirements("v1"), wheelhouse });
  writeFiles(project, {
    ".cursor/mcp.json": JSON.stringify({
      mcpServers: { "agent-os-rag": { command: venv.python, args: ["-m", "mcp_server"], env: { PYTHONPATH: install, PYTHONUNBUFFERED: "1" } } },
    }, null, 2) + "\n",
    ".gitignore": "node_modules/\n",
    "upgrade.config.ts": `import { depsPlugin } from ${JSON.stringify(path.join(REPO, "plugins/mod.ts"))};
import { pausePlugin } from ${JSON.stringify(path.join(REPO, "tests/helpers/pause-plugin.ts"))};
export default {
  plugins: [
    depsPlugin({ extraArgs: ${JSON.stringify(offlinePipArgs(wheelhouse))}, retries: 0 }),
    ${opts.pause ? `pausePlugin(${JSON.stringify(pauseDir)}),` : ""}
  ],
};
`,
  });
  return {
    root,
    project,
    install,
    source,
    commits: [c1, c2],
    python: venv.python,
    pauseDir,
    // Retried: a detached upgrade a failed test left behind may still be writing.
    cleanup: () => fs.rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 }),
  };
}

/** A connected MCP client of `agent-os-upgrade mcp`, started like an IDE would (real stdio). */
export interface UpgradeServer {
  client: Client;
  /** The server's pid (to kill it as an IDE reload would). */
  pid: number;
  stderr: () => string;
  close(): Promise<void>;
}

/** Starts `agent-os-upgrade mcp --target <project> [extra]` on the runtime under test and connects the official client. */
export async function connectUpgradeServer(project: string, extra: string[] = [], env: Record<string, string> = {}): Promise<UpgradeServer> {
  const [command, args] = tsCommand(BIN, ["mcp", "--target", project, ...extra]);
  const transport = new StdioClientTransport({
    command,
    args,
    env: { ...process.env as Record<string, string>, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env },
    stderr: "pipe",
  });
  let err = "";
  transport.stderr?.on("data", (b: Buffer) => (err += b.toString()));
  const client = new Client({ name: "aou-mcp-test", version: "1.0.0" });
  await client.connect(transport, { timeout: 60_000 });
  return { client, pid: transport.pid!, stderr: () => err, close: () => client.close() };
}

function treeHashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.name === "__pycache__") continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out[r] = createHash("sha256").update(fs.readFileSync(path.join(d, e.name))).digest("hex");
    }
  };
  walk(dir, "");
  return out;
}

/** What is not as a completed upgrade to release 2 (with EDITED merged) leaves it: empty when all is. */
export function notUpgraded(p: UpgradeProject): string[] {
  const problems: string[] = [];
  for (const dir of ["mcp_server", "scripts"]) {
    if (JSON.stringify(treeHashes(path.join(p.source, dir))) !== JSON.stringify(treeHashes(path.join(p.install, dir)))) problems.push(`${dir}/ is not the source's`);
  }
  const at = (rel: string) => path.join(p.install, rel);
  if (fs.readFileSync(at(EDITED), "utf8") !== MERGED) problems.push(`${EDITED} is not the merge`);
  for (const rel of ["standards/universal/ai-safety/production-code-checklist.md", "workflows/agent_os_upgrade_v1/metadata.json"]) if (!fs.existsSync(at(rel))) problems.push(`${rel} is missing`);
  for (const rel of ["standards/universal/ai-safety/old-name.md", "workflows/spec_creation_v1/phases/1/obsolete.md"]) if (fs.existsSync(at(rel))) problems.push(`${rel} is still there`);
  const site = fs.readdirSync(at("venv/lib")).map((v) => at(`venv/lib/${v}/site-packages/aou_fixture_b`));
  if (!site.some((d) => fs.existsSync(d))) problems.push("the venv lacks aou-fixture-b");
  if (fs.existsSync(at(".upgrade-lock"))) problems.push("the lock is still there");
  return problems;
}

/** Resolves with the file's text once it exists and is not empty. */
export async function waitForFile(file: string, timeoutMs = 120_000): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    if (text) return text;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${file}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
