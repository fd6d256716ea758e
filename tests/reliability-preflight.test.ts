/**
 * Issue 20 item 6, pre-flight cases: what phase 1 (or a raw error) used to refuse is refused
 * by pre-flight, exit 4, with a finding that names the fix, nothing written, no lock. A
 * symlinked `.cursor/mcp.json` (the file or its folder); an installed `mcp_server/__main__.py`
 * the user cannot read (Node, as root: the CLI runs as `nobody` through setpriv, a real
 * EACCES).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { BIN, REPO, resultOf, runCli, RUNTIME } from "./helpers/cli.ts";
import { makeProject, makeSource, tmpDir } from "./helpers/project.ts";

const test = suite("reliability-preflight");

function setup(disable: string[]) {
  const root = tmpDir("reliab-preflight");
  const src = makeSource(path.join(root, "src"), { "universal/standards/testing/new.md": "new in v2\n" });
  const proj = makeProject(path.join(root, "proj"));
  fs.writeFileSync(path.join(proj.dir, "upgrade.config.ts"), `export default { disable: ${JSON.stringify(disable)} };\n`);
  return { root, src, proj, lock: path.join(proj.install, ".upgrade-lock") };
}

const MCP_JSON = JSON.stringify({ mcpServers: { "agent-os-rag": { command: "python", args: ["-m", "mcp_server"] } } }, null, 2) + "\n";

for (const what of ["the file", "its folder"] as const) {
  test(`a symlinked .cursor/mcp.json (${what}): pre-flight refuses (exit 4) naming the link, nothing written`, async () => {
    const s = setup(["deps", "server", "validate"]);
    const elsewhere = path.join(s.root, "dotfiles");
    fs.mkdirSync(elsewhere);
    fs.writeFileSync(path.join(elsewhere, "mcp.json"), MCP_JSON);
    const link = what === "the file" ? path.join(s.proj.dir, ".cursor/mcp.json") : path.join(s.proj.dir, ".cursor");
    fs.mkdirSync(path.join(s.proj.dir, ".cursor"), { recursive: true });
    if (what === "its folder") fs.rmSync(link, { recursive: true });
    fs.symlinkSync(what === "the file" ? path.join(elsewhere, "mcp.json") : elsewhere, link);
    const before = snapshotTree(s.proj.dir);
    const outside = snapshotTree(elsewhere);
    const r = await runCli(["--source", s.src.dir, "--on-conflict", "theirs", "--json"], { cwd: s.proj.dir });
    assert.is(r.code, 4, r.stdout + r.stderr);
    const f = resultOf(r).findings.find((x: { code: string }) => x.code === "MCP_JSON_SYMLINK");
    assert.is(f?.message, `Cannot upgrade with "${path.join(s.proj.dir, ".cursor/mcp.json")}": ${link} -> ${fs.readlinkSync(link)} is a symbolic link`);
    assert.match(f.fix, "Replace the link by the real file or folder it points to");
    assert.is(resultOf(r).error.code, "PREFLIGHT_FAILED");
    assert.not.ok(fs.existsSync(s.lock), "no lock");
    assert.equal(diffTrees(before, snapshotTree(s.proj.dir)), [], "nothing written");
    assert.equal(diffTrees(outside, snapshotTree(elsewhere)), [], "nothing written through the link");
  });
}

if (RUNTIME === "node" && process.getuid?.() === 0) {
  test("an installed mcp_server/__main__.py the user cannot read: pre-flight finding with its fix (exit 4), not a raw EACCES", () => {
    const s = setup(["deps", "server", "migrate"]);
    // `nobody` must reach the project and write its own temp files (tsx's cache) there.
    for (let d = s.root; d !== path.dirname(d) && d.startsWith(path.dirname(path.dirname(s.root))); d = path.dirname(d)) fs.chmodSync(d, 0o755);
    spawnSync("chown", ["-R", "65534:65534", s.root]);
    const main = path.join(s.proj.install, "mcp_server/__main__.py");
    fs.chownSync(main, 0, 0);
    fs.chmodSync(main, 0o600);
    const tmp = path.join(s.root, "tmp");
    fs.mkdirSync(tmp);
    fs.chownSync(tmp, 65534, 65534);
    const before = snapshotTree(s.proj.dir);
    const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "--import", path.join(REPO, "node_modules/tsx/dist/esm/index.mjs"), BIN, "--source", s.src.dir, "--on-conflict", "theirs", "--json"], {
      cwd: s.proj.dir,
      env: { ...process.env, TMPDIR: tmp, HOME: tmp, NO_COLOR: "1" },
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.is(r.status, 4, r.stdout + r.stderr);
    const res = resultOf({ code: r.status, signal: null, stdout: r.stdout, stderr: r.stderr });
    const f = res.findings.find((x: { code: string }) => x.code === "SERVER_UNREADABLE");
    assert.is(f?.message, `Cannot read the installed MCP server: ${main} (permission denied)`);
    assert.is(f.fix, `Make it readable (\`chmod -R u+rX "${path.join(s.proj.install, "mcp_server")}"\`), or run the upgrade as the user who owns the installation; nothing was written`);
    assert.not.match(r.stderr, "INTERNAL");
    assert.not.ok(fs.existsSync(s.lock), "no lock");
    assert.equal(diffTrees(before, snapshotTree(s.proj.dir)), [], "nothing written");
    fs.rmSync(tmp, { recursive: true, force: true });
  });
}

test.run();
