/**
 * Children die with us (issue 13): SIGKILL of the upgrade while its validation probe has
 * spawned the new MCP server over stdio leaves no process of that server behind. The
 * server is held in its start-up (as a real one building its index would be: not yet
 * reading its stdin, so blind to our death) by a wrapper around the venv's python.
 */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { startCli } from "./helpers/cli.ts";
import { createMcpProject } from "./helpers/mcp-project.ts";
import { waitForPid } from "./helpers/wait.ts";

const test = suite("crash-children");
const roots: string[] = [];
test.after.each(() => {
  for (const d of roots.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Live processes (zombies excluded): `pid` itself, its children, and its process group's members. */
function processesOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid pgrp …: comm may hold spaces, so split after its closing paren.
    const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ours = Number(name) === pid || Number(ppid) === pid || Number(pgrp) === pid;
    if (ours && state !== "Z" && state !== "X") out.push(Number(name));
  }
  return out;
}

test("SIGKILL of the upgrade during the validation probe: no process of the probed server survives", async () => {
  const p = await createMcpProject();
  roots.push(p.root);
  const py = p.venv.python;
  // The interpreter stays in the venv's bin/ (under another name), so that it is still the venv's.
  const real = `${py}-real`;
  fs.renameSync(py, real);
  const mark = path.join(p.root, "server.pid");
  const state = path.join(p.project, ".agent-os/.cache/state");
  // Pre-flight's probe of the old server runs before any session file exists; the server
  // spawned once one does is phase 4's probe of the new one (--no-restart: nothing else starts it).
  fs.writeFileSync(py, `#!/bin/sh\ncase "$*" in *mcp_server*) if ls ${state}/*.json >/dev/null 2>&1; then echo $$ > ${mark}; sleep 60; fi;; esac\nexec ${real} "$@"\n`, { mode: 0o755 });
  const { child, done } = startCli(["--source", p.source, "--on-conflict", "theirs", "--yes", "--no-restart", "--skip-deps"], { cwd: p.project, timeoutMs: 180_000 });
  const ended = done.then((r) => {
    throw new Error(`the upgrade ended (exit ${r.code}) before the probe started: ${r.stderr || r.stdout}`);
  });
  const serverPid = Number(await Promise.race([waitForPid(mark, 150_000), ended]));
  assert.ok(processesOf(serverPid).includes(serverPid), "the probed server runs");
  process.kill(child.pid!, "SIGKILL");
  await done;
  ended.catch(() => {});
  const deadline = Date.now() + 5_000;
  while (processesOf(serverPid).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.equal(processesOf(serverPid), [], `processes of the probed server (pid ${serverPid}) outlived the killed upgrade`);
});

test.run();
