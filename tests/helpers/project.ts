/**
 * Real temp projects for tests: a git source checkout with the Agent OS layout, and a
 * project with an installed `.agent-os/` (`demo/kit/tree.ts` snapshots trees).
 */
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";

import { tmpDir } from "./temp.ts";

export { tmpDir };

export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" },
  }).trim();
}

export function writeFiles(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
  }
}

/** A minimal Agent OS source checkout: a git repo with one commit. */
export function makeSource(root: string, files: Record<string, string> = {}): { dir: string; commit: string } {
  fs.mkdirSync(root, { recursive: true });
  writeFiles(root, {
    "universal/standards/testing/unit.md": "# Unit tests v2\n",
    "universal/workflows/spec_execution_v1/metadata.json": "{\"name\":\"spec_execution_v1\"}\n",
    "mcp_server/__init__.py": "",
    "mcp_server/__main__.py": "print('server v2')\n",
    "mcp_server/requirements.txt": "",
    "scripts/install.sh": "#!/bin/sh\necho install\n",
    ...files,
  });
  git(root, "init", "-q", "-b", "main");
  git(root, "add", "-A");
  git(root, "commit", "-qm", "release");
  return { dir: root, commit: git(root, "rev-parse", "HEAD") };
}

/** A project with an installed `.agent-os/` (older content). */
export function makeProject(root: string, files: Record<string, string> = {}): { dir: string; install: string } {
  const install = path.join(root, ".agent-os");
  writeFiles(install, {
    "standards/universal/testing/unit.md": "# Unit tests v1\n",
    "standards/development/mine.md": "user standard\n",
    "workflows/spec_execution_v1/metadata.json": "{\"name\":\"spec_execution_v1\",\"old\":true}\n",
    "mcp_server/__init__.py": "",
    "mcp_server/__main__.py": "print('server v1')\n",
    "specs/2025-01-01-feature/spec.md": "my spec\n",
    // As upstream's installer leaves it: no record of the installed commit (a made-up one would now be refused).
    "VERSION.txt": "version=1.0.0\n",
    ...files,
  });
  fs.writeFileSync(path.join(root, ".gitignore"), "node_modules/\n");
  return { dir: root, install };
}
