/**
 * A temporary project with an Agent OS installation running the fixture MCP server, and a
 * source checkout (a real git repository) holding a newer server:
 *
 *   <root>/proj/.agent-os/{mcp_server (v1), scripts, venv, workflows/…, standards/…}
 *   <root>/proj/.cursor/mcp.json        launches <venv>/bin/python -m mcp_server
 *   <root>/source/{universal/…, mcp_server (v2 or a broken variant), scripts}   committed
 *
 * Everything is real: the venv has the installed server's requirements from local wheels.
 */
import fs from "node:fs";
import path from "node:path";
import { $ } from "zx";
import { fixtureRequirements, fixtureScriptsDir, fixtureServerDir, type ServerVersion } from "../../demo/kit/fixture-server.ts";
import { copyTree } from "../../demo/kit/tree.ts";
import { createVenv, type Venv } from "../../demo/kit/venv.ts";
import { sharedWheelhouse } from "../../demo/kit/wheels.ts";
import { tmpDir } from "./temp.ts";

function writeFiles(base: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(base, rel)), { recursive: true });
    fs.writeFileSync(path.join(base, rel), text);
  }
}

const STANDARDS: Record<string, string> = {
  "ai-safety/credential-file-protection.md": "# Credential file protection\n\nNever write to .env files without asking.\n",
  "testing/test-pyramid.md": "# Test pyramid\n\nMany unit tests, fewer integration tests, few end-to-end tests.\n",
};

const WORKFLOWS: Record<string, string> = {
  "spec_creation_v1/metadata.json": '{ "name": "spec_creation_v1", "phases": 2 }\n',
  "spec_creation_v1/phases/0/phase.md": "# Phase 0: context\n",
  "spec_execution_v1/metadata.json": '{ "name": "spec_execution_v1", "phases": 3 }\n',
  "spec_execution_v1/phases/0/phase.md": "# Phase 0: plan\n",
};

export interface McpProjectOptions {
  /** The server in the installation. Default v1. */
  installed?: ServerVersion;
  /** The server in the source checkout. Default v2. */
  source?: ServerVersion;
  /** Launch args in mcp.json. Default `["-m", "mcp_server"]` (v1 style). */
  mcpArgs?: string[];
  /** Write mcp.json with `${workspaceFolder}` instead of absolute paths, as editors allow. */
  workspaceVars?: boolean;
  /** Create the venv (with the installed server's requirements). Default true. */
  venv?: boolean;
  /** The install folder: `.agent-os` (default) or the successor's `.praxis-os`. */
  installName?: ".agent-os" | ".praxis-os";
  /** The mcp.json server name. Default "agent-os-rag" (`.praxis-os`: "praxis-os"). */
  serverName?: string;
}

export interface McpProject {
  root: string;
  project: string;
  /** `<project>/.agent-os` (or `.praxis-os`) */
  install: string;
  venv: Venv;
  mcpJson: string;
  source: string;
  sourceCommit: string;
  wheelhouse: string;
  /** The installed server's launch command, as mcp.json has it (expanded). */
  launch: { command: string; args: string[]; env: Record<string, string> };
  cleanup(): void;
}

/** Builds the temp project and source checkout (see the file comment). */
export async function createMcpProject(options: McpProjectOptions = {}): Promise<McpProject> {
  const installed = options.installed ?? "v1";
  const sourceVersion = options.source ?? "v2";
  const root = tmpDir("mcp");
  const project = path.join(root, "proj");
  const install = path.join(project, options.installName ?? ".agent-os");
  const wheelhouse = await sharedWheelhouse();

  copyTree(fixtureServerDir(installed), path.join(install, "mcp_server"));
  copyTree(fixtureScriptsDir(installed), path.join(install, "scripts"));
  writeFiles(path.join(install, "standards", "universal"), STANDARDS);
  writeFiles(path.join(install, "standards", "development"), { "team-notes.md": "# Our notes\n\nUser-owned.\n" });
  writeFiles(path.join(install, "workflows"), WORKFLOWS);
  const venvDir = path.join(install, "venv");
  const venv = options.venv === false
    ? { dir: venvDir, python: path.join(venvDir, "bin", "python") }
    : await createVenv(venvDir, { packages: fixtureRequirements(installed), wheelhouse });

  const args = options.mcpArgs ?? ["-m", "mcp_server"];
  const ws = (p: string) => options.workspaceVars ? p.replace(project, "${workspaceFolder}") : p;
  const mcpJson = path.join(project, ".cursor", "mcp.json");
  writeFiles(project, {
    ".cursor/mcp.json": JSON.stringify(
      {
        mcpServers: {
          [options.serverName ?? (options.installName === ".praxis-os" ? "praxis-os" : "agent-os-rag")]: {
            command: ws(venv.python),
            args,
            env: { PYTHONPATH: ws(install), PROJECT_ROOT: ws(project), PYTHONUNBUFFERED: "1" },
          },
        },
      },
      null,
      2,
    ) + "\n",
  });

  const source = path.join(root, "source");
  writeFiles(path.join(source, "universal", "standards"), {
    ...STANDARDS,
    "testing/test-pyramid.md": "# Test pyramid\n\nMany unit tests, fewer integration tests, few end-to-end tests (updated).\n",
  });
  writeFiles(path.join(source, "universal", "workflows"), {
    ...WORKFLOWS,
    "agent_os_upgrade_v1/metadata.json": '{ "name": "agent_os_upgrade_v1", "phases": 6 }\n',
  });
  copyTree(fixtureServerDir(sourceVersion), path.join(source, "mcp_server"));
  copyTree(fixtureScriptsDir(sourceVersion), path.join(source, "scripts"));
  // The source names its install folder, as upstream's README does (how its layout is told apart).
  const folder = options.installName ?? ".agent-os";
  writeFiles(source, { "README.md": `# Fixture source\n\nInstalls into \`${folder}/\`: see \`${folder}/standards/\`.\n` });
  const git = $({ cwd: source, quiet: true });
  await git`git init -q -b main`;
  await git`git add -A`;
  await git`git -c user.name=fixture -c user.email=fixture@example.invalid commit -q -m ${`Source with server ${sourceVersion}`}`;
  const sourceCommit = (await git`git rev-parse HEAD`).stdout.trim();

  return {
    root,
    project,
    install,
    venv,
    mcpJson,
    source,
    sourceCommit,
    wheelhouse,
    launch: { command: venv.python, args, env: { PYTHONPATH: install, PROJECT_ROOT: project, PYTHONUNBUFFERED: "1" } },
    cleanup: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}
