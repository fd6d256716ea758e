// Every agent's launch entry (issue 22 item 2), on real files: found by what it runs and the
// installation it names, never by its key; VS Code's settings read with their comments; an
// edit changes only that entry's args, every other byte of the file kept.
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { findLaunchEntries, readLaunchFile, withEntryArgs } from "../plugins/server/entries.ts";
import { tmpDir, writeFiles } from "./helpers/project.ts";

const SETTINGS = `{
  // the team's editor settings
  "editor.tabSize": 2,
  "cline.mcpServers": {
    "praxis-os": {
      "command": "\${workspaceFolder}/.praxis-os/venv/bin/python",
      "args": ["-m", "ouroboros"], // needs --transport
      "env": { "PYTHONPATH": "\${workspaceFolder}/.praxis-os" }
    },
    "github": { "command": "npx", "args": ["github-mcp"] },
  },
  "claude-code.mcpServers": {
    "other-project": { "command": "/elsewhere/.praxis-os/venv/bin/python", "args": ["-m", "ouroboros", "--transport", "dual"], "env": { "PYTHONPATH": "/elsewhere/.praxis-os" } },
    "ours-too": { "command": "python3", "args": ["-m", "ouroboros"], "cwd": ".praxis-os" }
  }
}
`;

function project() {
  const dir = path.join(tmpDir("entries"), "proj");
  const install = path.join(dir, ".praxis-os");
  fs.mkdirSync(install, { recursive: true });
  writeFiles(dir, {
    ".vscode/settings.json": SETTINGS,
    ".cursor/mcp.json": JSON.stringify({ mcpServers: { webapp: { command: `${install}/venv/bin/python`, args: ["-m", "ouroboros", "--transport", "dual"], env: { PYTHONPATH: install } } } }, null, 2) + "\n",
    ".mcp.json": JSON.stringify({ mcpServers: { docs: { command: "npx", args: ["docs-mcp"] } } }) + "\n",
    ".vscode/mcp.json": "{ broken",
  });
  return { dir, install };
}

test("the entries that run this installation's server, in every agent's file; others' and other servers' left out", () => {
  const p = project();
  const found = findLaunchEntries(p.dir, p.install);
  assert.equal(found.entries.map((e) => [e.agent, path.relative(p.dir, e.file), e.name]).sort(), [
    ["Claude Code (VS Code)", ".vscode/settings.json", "ours-too"],
    ["Cline", ".vscode/settings.json", "praxis-os"],
    ["Cursor", ".cursor/mcp.json", "webapp"],
  ]);
  assert.equal(found.invalid.map((i) => [path.relative(p.dir, i.file), i.error]), [[".vscode/mcp.json", "InvalidSymbol at line 1"]]);
});

test("an edit in a file with comments changes that entry's args only: comments, other keys and entries kept", () => {
  const p = project();
  const file = path.join(p.dir, ".vscode/settings.json");
  const read = readLaunchFile(file);
  assert.is(read.status, "ok");
  if (read.status !== "ok") return;
  assert.is(read.strict, false);
  const out = withEntryArgs(read, ["cline.mcpServers"], "praxis-os", ["-m", "ouroboros", "--transport", "dual"]);
  const before = SETTINGS.split("\n");
  const after = out.split("\n");
  // Only the args line differs; the comment on it is the user's and stays.
  const changed = after.filter((l, i) => l !== before[i]);
  assert.equal(changed.length, 1, out);
  assert.match(changed[0], /"args": \["-m", "ouroboros", "--transport", "dual"\], \/\/ needs --transport$/);
  assert.is(after.length, before.length);
  const again = readLaunchFile(file);
  assert.ok(again.status === "ok");
});

test("a strict JSON file is written back in its own indentation, other servers untouched", () => {
  const p = project();
  const file = path.join(p.dir, ".cursor/mcp.json");
  fs.writeFileSync(file, JSON.stringify({ mcpServers: { webapp: { command: "python3", args: ["-m", "ouroboros"], env: { PYTHONPATH: p.install } }, github: { command: "npx" } } }, null, 4) + "\n");
  const read = readLaunchFile(file);
  if (read.status !== "ok") throw new Error(read.status);
  const out = withEntryArgs(read, ["mcpServers"], "webapp", ["-m", "ouroboros", "--transport", "dual"]);
  assert.equal(JSON.parse(out), { mcpServers: { webapp: { command: "python3", args: ["-m", "ouroboros", "--transport", "dual"], env: { PYTHONPATH: p.install } }, github: { command: "npx" } } });
  assert.match(out, /^ {4}"mcpServers"/m);
});

test.run();
