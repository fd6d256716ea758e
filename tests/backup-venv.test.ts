// The venv is backed up only when phase 3 will change it, on a real venv and a real
// upgrade through the built-in plugins: unchanged requirements leave it untouched and out of
// the backup; changed ones put it in, and a rollback brings back the same `pip freeze`.
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readManifest } from "../plugins/backup/manifest.ts";
import { createMcpProject, type McpProject } from "./helpers/mcp-project.ts";
import { projectOptions, projectPlugins, rollbackProject, stateOf, upgradeProject } from "./helpers/mcp-project-run.ts";
import { pipFreeze } from "../demo/kit/venv.ts";

const run = promisify(execFile);
const projects: McpProject[] = [];
test.after(() => {
  for (const p of projects) p.cleanup();
});

const options = (p: McpProject) => projectOptions(p, { yes: true, restart: false });
const upgrade = (p: McpProject) => upgradeProject(projectPlugins(p), options(p));

/** Every path under the venv with its inode, size and mtime: "untouched" means all equal. */
function fingerprint(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const st = fs.lstatSync(p);
      out.push(`${path.relative(dir, p)} ${st.ino} ${st.size} ${st.mtimeMs}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

test("requirements unchanged: the venv is untouched and not in the backup; the old server folder is in it by rename", async () => {
  const p = await createMcpProject({ installed: "v2", source: "v2" });
  projects.push(p);
  const init = path.join(p.source, "mcp_server", "__init__.py");
  fs.writeFileSync(init, fs.readFileSync(init, "utf8").replace('"2.0.0"', '"2.1.0"'));
  await run("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qam", "v2.1"], { cwd: p.source });
  const before = fingerprint(p.venv.dir);
  const r = await upgrade(p);
  assert.is(r.status, "completed", JSON.stringify(r.error));
  assert.equal(fingerprint(p.venv.dir), before);
  const e1 = (stateOf(p, r).phases["1"].evidence as Record<string, Record<string, unknown>>).backup;
  const m = readManifest(e1.backup_path as string);
  assert.not.ok(Object.keys(m.roots).some((k) => k.startsWith("install/venv")), Object.keys(m.roots).join(", "));
  assert.equal(Object.keys(m.moved).sort(), ["install/mcp_server", "install/scripts"]);
  assert.ok(fs.existsSync(path.join(e1.backup_path as string, "install/mcp_server/__init__.py")), "the swap moved the old server into the backup");
});

test("requirements changed: the venv is in the backup, and a manual rollback restores the same pip freeze", async () => {
  const p = await createMcpProject({ installed: "v1", source: "v2" });
  projects.push(p);
  const freezeBefore = await pipFreeze(p.venv);
  const r = await upgrade(p);
  assert.is(r.status, "completed", JSON.stringify(r.error));
  assert.not.equal(await pipFreeze(p.venv), freezeBefore);
  const e1 = (stateOf(p, r).phases["1"].evidence as Record<string, Record<string, unknown>>).backup;
  assert.ok(Object.keys(readManifest(e1.backup_path as string).roots).includes("install/venv"));
  const rb = await rollbackProject(projectPlugins(p), options(p));
  assert.is(rb.exitCode, 0, JSON.stringify(rb.outcome.rollbackError));
  assert.equal(await pipFreeze(p.venv), freezeBefore);
});

test.run();
