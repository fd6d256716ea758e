/**
 * Issue 20 item 8: the MCP server's start-up sweep of `agent-os-upgrade-mcp-*` folders in the
 * shared temp dir removes only the ended runs this user made for this project. A real run
 * folder (made by `runCliDetached`, whose CLI child has ended) is removed; the same folder
 * claimed by another project, one without an owner record (another tool's or an older
 * version's), one owned by another user (Node, as root: chown), one whose child is alive, and
 * a symlink to a folder are all left exactly as they were.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { runCliDetached, sweepRunFolders } from "../app/mcp/runner.ts";
import { RUNTIME } from "./helpers/cli.ts";
import { makeProject, tmpDir } from "./helpers/project.ts";

const test = suite("reliability-mcp-sweep");

const runFolders = () => new Set(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith("agent-os-upgrade-mcp-")));

/** The owner record a real run writes (read while `agent-os-upgrade status` runs for `project`). */
async function ownerRecordOfARun(project: string): Promise<string> {
  const before = runFolders();
  const run = runCliDetached(["status", "--json", "--target", project]);
  let record: string | null = null;
  while (record === null) {
    const made = [...runFolders()].filter((n) => !before.has(n));
    try {
      if (made.length === 1) record = fs.readFileSync(path.join(os.tmpdir(), made[0], "owner.json"), "utf8");
    } catch { /* being written */ }
    if (record === null) await new Promise((r) => setTimeout(r, 5));
  }
  const r = await run;
  assert.is(r.exitCode, 0, r.stderr);
  return record;
}

function folder(owner: Record<string, unknown> | null, pid: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agent-os-upgrade-mcp-"));
  if (owner) fs.writeFileSync(path.join(dir, "owner.json"), JSON.stringify(owner));
  fs.writeFileSync(path.join(dir, "pid"), String(pid));
  fs.writeFileSync(path.join(dir, "events.ndjson"), "{}\n");
  return dir;
}

test("only this user's ended runs for this project are swept", async () => {
  const root = tmpDir("reliab-sweep");
  const project = path.join(root, "proj");
  const other = path.join(root, "other");
  makeProject(project);
  fs.mkdirSync(other);
  const uid = process.getuid?.() ?? null;
  const live = spawn("sleep", ["60"], { stdio: "ignore" });
  const kept: string[] = [];
  try {
    const record = await ownerRecordOfARun(project);
    assert.equal(JSON.parse(record), { uid, project: path.resolve(project) });
    // The folder a killed server leaves: its owner record, its ended child's pid.
    const mine = folder(JSON.parse(record), 999999999);
    kept.push(folder({ uid, project: other }, 999999999));
    kept.push(folder(null, 999999999));
    kept.push(folder({ uid, project }, live.pid!));
    const target = fs.mkdtempSync(path.join(root, "linked-"));
    fs.writeFileSync(path.join(target, "owner.json"), JSON.stringify({ uid, project }));
    const link = path.join(os.tmpdir(), `agent-os-upgrade-mcp-link${process.pid}`);
    fs.symlinkSync(target, link);
    kept.push(link);
    if (RUNTIME === "node" && uid === 0) {
      const foreign = folder({ uid: 65534, project }, 999999999);
      fs.chownSync(foreign, 65534, 65534);
      kept.push(foreign);
    }

    const removed = sweepRunFolders(project);
    assert.equal(removed, [mine], "only the ended run of this user and project");
    assert.not.ok(fs.existsSync(mine));
    for (const k of kept) assert.ok(fs.lstatSync(k), `left alone: ${k}`);
    assert.ok(fs.existsSync(path.join(target, "owner.json")), "nothing removed through the link");
  } finally {
    live.kill("SIGKILL");
    for (const k of kept) fs.rmSync(k, { recursive: true, force: true });
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test.run();
