/**
 * A project to migrate (issue 23), from the real histories: agent-os-enhanced installed at
 * 4a65907 as that commit's own docs say (no version record), with the fixture server v1 in
 * `mcp_server/`, a real venv, Cursor's launch entry as upstream's guide wrote it, a
 * `.gitignore` with upstream's lines between the user's own, a `.cursorrules` and a spec that
 * name `.agent-os/`, a team standard, and an edit to a standard upstream also changed. The
 * source is a clone of praxis-os at HEAD (October 2025: the same shape, folder renamed) plus
 * one commit putting the fixture server v2 in `mcp_server/` (the bundles hold no server code).
 */
import fs from "node:fs";
import path from "node:path";
import { rewriteAsDist } from "../../demo/kit/dist-source.ts";
import { writeFixtureServer } from "../../demo/kit/fixture-server.ts";
import { fixtureRequirements } from "../../demo/kit/fixture-server.ts";
import { createVenv } from "../../demo/kit/venv.ts";
import { offlinePipArgs, sharedWheelhouse } from "../../demo/kit/wheels.ts";
import { REPO } from "./cli.ts";
import { git } from "./project.ts";
import { tmpDir } from "./temp.ts";
import { cloneAt, installAsDocumented } from "./upstream-history.ts";

export const INSTALLED_AT = "4a65907";

export interface MigrateProject {
  root: string;
  project: string;
  /** `<project>/.agent-os` */
  install: string;
  /** A clone of agent-os-enhanced at the installed commit (the base's files). */
  at: string;
  /** The praxis-os clone to migrate to. */
  source: string;
  /** The standard the user edited (install-relative), upstream changed it too. */
  edited: string;
  spec: string;
  wheelhouse: string;
}

export const USER_NOTE = "<!-- team note: we read this before every review -->";

export const CURSORRULES = [
  "# Our rules",
  "",
  "Before coding, search the standards: call aos_search_standards, or read .agent-os/standards/universal/ directly.",
  "Workflows live in `.agent-os/workflows/`.",
  "Never edit node_modules/.",
  "",
].join("\n");

export const SPEC = "# Login spec\n\nSee .agent-os/standards/development/team.md for our conventions.\n";
export const TEAM_STANDARD = "# Team conventions\n\nTwo reviewers per change.\n";

export const GITIGNORE_HEAD = "node_modules/\n*.log\n";
export const GITIGNORE_TAIL = "dist/\n.env\n";

/** The lines upstream's installer added at 4a65907 (its gitignore-requirements standard's block). */
export const AGENT_OS_LINES = [".agent-os/.cache/", ".agent-os/venv/", ".agent-os/mcp_server/__pycache__/", ".agent-os/scripts/__pycache__/", ".agent-os.backup.*", ".agent-os/.upgrade_lock"];

/** A standard both the user and upstream (by praxis-os HEAD) changed. */
function editedStandard(at: string, source: string): string {
  // HEAD~ in a dist source: its last commit only moves the files.
  const head = fs.existsSync(path.join(source, "dist")) ? "HEAD~" : "HEAD";
  const changed = git(source, "diff", "--name-only", "--diff-filter=M", `${git(at, "rev-parse", "HEAD")}`, head, "--", "universal/standards")
    .split("\n").filter((f) => f.endsWith(".md"));
  if (!changed.length) throw new Error("no standard changed upstream since the installed commit");
  return `standards/universal/${changed[0].slice("universal/standards/".length)}`;
}

/**
 * `target`: "october" (default) migrates to praxis-os HEAD of the bundle with the fixture
 * server v2 in `mcp_server/`; "dist" to that history plus one commit rewriting it as the
 * `dist/` layout (demo/kit/dist-source.ts `rewriteAsDist`: `universal/` → `dist/universal/`,
 * `ouroboros/` release 2, `config/mcp.yaml`), the shape upstream's November rewrite has.
 */
export async function migrateProject(target: "october" | "dist" = "october"): Promise<MigrateProject> {
  const at = cloneAt("agent-os-enhanced", INSTALLED_AT, "mig-installed");
  const source = cloneAt("praxis-os", undefined, "mig-source");
  if (target === "dist") {
    rewriteAsDist(source);
  } else {
    fs.rmSync(path.join(source, "mcp_server"), { recursive: true, force: true });
    writeFixtureServer("v2", path.join(source, "mcp_server"));
    git(source, "add", "-A");
    git(source, "commit", "-qm", "fixture server v2 (the bundle holds no server code)");
  }

  const root = tmpDir("mig");
  const project = path.join(root, "proj");
  fs.mkdirSync(project, { recursive: true });
  const install = installAsDocumented(at, project, INSTALLED_AT);
  fs.rmSync(path.join(install, "mcp_server"), { recursive: true, force: true });
  writeFixtureServer("v1", path.join(install, "mcp_server"));
  const wheelhouse = await sharedWheelhouse();
  await createVenv(path.join(install, "venv"), { packages: fixtureRequirements("v1"), wheelhouse });

  const edited = editedStandard(at, source);
  const file = path.join(install, edited);
  fs.writeFileSync(file, `${USER_NOTE}\n${fs.readFileSync(file, "utf8")}`);
  const spec = "specs/2025-10-20-login/srd.md";
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(project, rel)), { recursive: true });
    fs.writeFileSync(path.join(project, rel), text);
  };
  write(`.agent-os/${spec}`, SPEC);
  write(".agent-os/standards/development/team.md", TEAM_STANDARD);
  write(".cursorrules", CURSORRULES);
  write(".gitignore", `${GITIGNORE_HEAD}# Agent OS - Ephemeral content (do not commit)\n${AGENT_OS_LINES.join("\n")}\n${GITIGNORE_TAIL}`);
  // As 4a65907's installation/05-venv-mcp.md writes it (a tool of the user's added to autoApprove).
  write(".cursor/mcp.json", JSON.stringify({
    mcpServers: {
      "agent-os-rag": {
        command: "${workspaceFolder}/.agent-os/venv/bin/python",
        args: ["-m", "mcp_server"],
        env: { PROJECT_ROOT: "${workspaceFolder}", PYTHONPATH: "${workspaceFolder}/.agent-os", PYTHONUNBUFFERED: "1" },
        autoApprove: ["search_standards", "aos_get_current_phase"],
      },
    },
  }, null, 2) + "\n");
  write("upgrade.config.ts", `import { depsPlugin, serverPlugin, validatePlugin } from ${JSON.stringify(path.join(REPO, "plugins/mod.ts"))};
export default {
  plugins: [
    depsPlugin({ extraArgs: ${JSON.stringify(offlinePipArgs(wheelhouse))}, retries: 0 }),
    serverPlugin({ startTimeoutMs: 10_000 }),
    validatePlugin({ timeoutMs: 10_000, probeBeforeTimeoutMs: 10_000 }),
  ],
};
`);
  return { root, project, install, at, source, edited, spec, wheelhouse };
}
