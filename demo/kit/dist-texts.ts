/**
 * The small text files of the fixture `dist/` releases (config template, scripts, install
 * guide, packaging), per release. Written for the fixture from upstream's facts (file names,
 * keys, arguments: see `makeDistSource`); none of upstream's text.
 */
import type { OuroborosRelease } from "./dist-server.ts";

const MCP_YAML_HEADER = (release: OuroborosRelease) => `# ============================================================================
# Ouroboros MCP server configuration (agent-os-upgrade fixture, release ${release})
# ============================================================================
# What prAxIs OS indexes and how it searches this project.
# Paths are relative to .praxis-os/ (the folder above config/).
${release === 1 ? "# After installing, point the code partition below at your sources." : "# After installing, point the code partitions below at your repositories."}

version: "1.0"
`;

const STANDARDS_INDEX: Record<OuroborosRelease, string> = {
  1: `
indexes:
  # Standards index: the markdown under standards/ (usually fine as it is).
  standards:
    source_paths:
      - "standards/"
    vector:
      model: "BAAI/bge-small-en-v1.5"  # offline, MIT licensed
      dimension: 384
      chunk_size: 800  # larger chunks keep more context
      chunk_overlap: 100
    fts: {}
`,
  2: `
indexes:
  # Standards index: the markdown under standards/ (usually fine as it is).
  standards:
    source_paths:
      - "standards/"
    vector:
      model: "BAAI/bge-small-en-v1.5"  # offline, MIT licensed
      dimension: 384
      chunk_size: 1000  # docs read better with whole sections per chunk
      chunk_overlap: 150
    fts: {}
    metadata_filtering:
      enabled: true
`,
};

const CODE_INDEX = `
  # Code index: one partition per repository (customize the paths!).
  code:
    enabled: true
    partitions:
      project:
        path: ..
        domains:
          code:
            include_paths:
              - src/
            exclude_patterns: null  # .gitignore is respected
    languages:
      - "python"
    vector:
      model: "microsoft/codebert-base"
      dimension: 768
      chunk_size: 200
      chunk_overlap: 20
    graph: {}
`;

/** `dist/config/mcp.yaml` of a release: release 2 changes the header comment and the standards index only. */
export const mcpYaml = (release: OuroborosRelease): string => MCP_YAML_HEADER(release) + STANDARDS_INDEX[release] + CODE_INDEX;

/** The user's edit after installing: a second code partition, with a comment (a region release 2 does not touch). */
export const USER_PARTITION = `      sdk:  # our SDK, added after install
        path: ../../sdk
        domains:
          code:
            include_paths:
              - lib/
`;

/** `mcp.yaml` as a user edits it after installing: `USER_PARTITION` added under `partitions:`. */
export function editMcpYamlAsUser(text: string): string {
  const anchor = "    languages:\n";
  if (!text.includes(anchor)) throw new Error("Cannot add the user's partition: no '    languages:' line in mcp.yaml");
  return text.replace(anchor, USER_PARTITION + anchor);
}

/** `dist/scripts/` of a release: release 2 edits the upgrade script, drops one and adds one. */
export const distScripts = (release: OuroborosRelease): Record<string, string> => release === 1
  ? {
    "upgrade-praxis-os.py": `"""Fixture stand-in for upstream's upgrade script (release 1): it only names itself."""\n\nprint("upgrade-praxis-os release 1")\n`,
    "build-index.py": `"""Fixture stand-in for an index builder: only in release 1 (an upgrade must remove it)."""\n\nprint("build-index release 1")\n`,
  }
  : {
    "upgrade-praxis-os.py": `"""Fixture stand-in for upstream's upgrade script (release 2): it only names itself."""\n\nprint("upgrade-praxis-os release 2")\n`,
    "validate-installation.py": `"""Fixture stand-in for an installation check: new in release 2."""\n\nprint("validate-installation release 2")\n`,
  };

/** `scripts/install-praxis-os.py`: a stub (the kit's `installDist` does what it would). */
export const INSTALL_SCRIPT = `"""Fixture stub of praxis-os's installer: use agent-os-upgrade's demo/kit/dist-install.ts (installDist)."""

import sys

print("install-praxis-os: fixture stub; see installation/00-START.md", file=sys.stderr)
sys.exit(1)
`;

const STEPS = ["00-START", "01-directories", "02-copy-files", "03-cursorrules", "04-gitignore", "05-venv-mcp", "06-mcp-config", "07-validate"];

/** `installation/00-START.md … 07-validate.md`: one short paragraph per step (release 2 edits step 05). */
export function installationGuide(release: OuroborosRelease): Record<string, string> {
  const text: Record<string, string> = {
    "00-START": "Install prAxIs OS into `.praxis-os/` of your project, one step per file (01 to 07).",
    "01-directories": "Create `.praxis-os/{standards/development,specs/approved,specs/completed,specs/review,workspace/design,workspace/analysis,workspace/scratch,config}`.",
    "02-copy-files": "Copy `dist/universal/standards` to `standards/universal`, `dist/universal/workflows` to `workflows`, `dist/universal/usage` to `usage`, `dist/ouroboros` to `ouroboros`, `dist/config/mcp.yaml` to `config/mcp.yaml`.",
    "03-cursorrules": "Write `.cursorrules` (and `.clinerules`, `.claude/CLAUDE.md`, `.github/copilot-instructions.md`) pointing the assistant at `.praxis-os/`.",
    "04-gitignore": "Add `.praxis-os/.cache/`, `.praxis-os/venv/`, `.praxis-os/workspace/` and `.praxis-os/.mcp_server_state.json` to `.gitignore`.",
    "05-venv-mcp": release === 1
      ? "Run `python -m venv .praxis-os/venv`, then `.praxis-os/venv/bin/pip install -r .praxis-os/ouroboros/requirements.txt`."
      : "Run `python -m venv .praxis-os/venv`, then `.praxis-os/venv/bin/python -m pip install -r .praxis-os/ouroboros/requirements.txt` (Python 3.11 or newer).",
    "06-mcp-config": "Add the server to each agent: `<venv>/bin/python -m ouroboros --transport dual` with `PYTHONPATH=<project>/.praxis-os` and `PROJECT_ROOT=<project>`, absolute paths.",
    "07-validate": "Restart the agent and call `get_server_info`; then `pos_search_project` with a query.",
  };
  return Object.fromEntries(STEPS.map((s, i) => [`${s}.md`, `# Step ${i}: ${s.slice(3).replace(/-/g, " ")}\n\n${text[s]}\n`]));
}

/** `pyproject.toml` of a release. */
export const pyproject = (release: OuroborosRelease): string => `[project]
name = "praxis-os"
version = "${release}.0.0"
description = "prAxIs OS (agent-os-upgrade fixture release ${release})"
requires-python = ">=3.11"
`;

/** The source's README.md. */
export const SOURCE_README = "# prAxIs OS (fixture)\n\nReleases of praxis-os's `dist/` layout built by agent-os-upgrade's demo kit for its tests.\n";
