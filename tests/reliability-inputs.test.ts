/**
 * Issue 20 items 6 and 7, the inputs: every bad input is refused before anything starts,
 * with one line naming it, the tree untouched, no lock. `--decisions` reads only a regular
 * file of at most 1 MiB (a device, a pipe, a huge file refused without reading past the cap)
 * and never quotes its bytes; at most 10,000 decisions; a decision for a path not in the plan
 * is refused naming it (with a near miss). `rollback --to` a backup that is not there exits 2.
 * Over MCP: a NUL byte in `source`/`to` and a 200,000-key decisions map are validation errors.
 * Real CLI processes, real git, the real MCP server and the official client.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { diffTrees, snapshotTree } from "../demo/kit/tree.ts";
import { resultOf, runCli } from "./helpers/cli.ts";
import { connectUpgradeServer } from "./helpers/mcp-upgrade-project.ts";
import { makeProject, makeSource, tmpDir } from "./helpers/project.ts";

const test = suite("reliability-inputs");

function setup() {
  const root = tmpDir("reliab-inputs");
  const src = makeSource(path.join(root, "src"), { "universal/standards/testing/new.md": "new in v2\n" });
  const proj = makeProject(path.join(root, "proj"));
  fs.writeFileSync(path.join(proj.dir, "upgrade.config.ts"), `export default { disable: ["deps", "server", "migrate", "validate"] };\n`);
  return { root, src, proj, lock: path.join(proj.install, ".upgrade-lock") };
}

const errLine = (stderr: string) => stderr.split("\n").find((l) => l.startsWith("Error ["));

test("--decisions: a device, a pipe, a folder, a file over 1 MiB, a secret that is not JSON, 10,001 decisions — each exit 2 in one line, nothing written, no bytes echoed", async () => {
  const s = setup();
  const before = snapshotTree(s.proj.dir);
  const fifo = path.join(s.root, "pipe");
  execFileSync("mkfifo", [fifo]);
  const big = path.join(s.root, "big.json");
  fs.writeFileSync(big, Buffer.alloc((1 << 20) + 1, 0x20));
  const secret = path.join(s.root, "shadow");
  fs.writeFileSync(secret, "root:$y$j9T$SECRETSALT$SECRETHASH:19700:0:99999:7:::\n");
  const many = path.join(s.root, "many.json");
  fs.writeFileSync(many, JSON.stringify(Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`standards/x${i}.md`, "keep"]))));
  const cases: Array<[string, string]> = [
    ["/dev/zero", "Cannot read the decisions file /dev/zero: it is not a regular file (a device)"],
    [fifo, `Cannot read the decisions file ${fifo}: it is not a regular file (a pipe)`],
    [s.root, `Cannot read the decisions file ${s.root}: it is not a regular file (a folder)`],
    [big, `Cannot read the decisions file ${big}: it is larger than 1 MiB`],
    [secret, `Cannot read the decisions file ${secret}: it is not valid JSON`],
    [many, `Cannot read the decisions file ${many}: it holds 10001 decisions; at most 10000 are accepted (one per conflicting path)`],
    [path.join(s.root, "absent.json"), `Cannot read the decisions file ${path.join(s.root, "absent.json")}: it does not exist`],
  ];
  for (const [file, message] of cases) {
    const r = await runCli(["--source", s.src.dir, "--decisions", file], { cwd: s.proj.dir, timeoutMs: 30_000 });
    assert.is(r.signal, null, `${file}: not killed at the timeout`);
    assert.is(r.code, 2, `${file}: ${r.stdout}${r.stderr}`);
    assert.is(errLine(r.stderr), `Error [USAGE]: ${message}`);
    assert.not.match(r.stdout + r.stderr, "SECRET", "no byte of the file is echoed");
    assert.not.ok(fs.existsSync(s.lock), "no lock");
    assert.equal(diffTrees(before, snapshotTree(s.proj.dir)), [], `${file}: nothing written`);
  }
});

test("--decisions naming a path that is not in the plan: pre-flight refuses naming it, with the near miss (exit 4, nothing written)", async () => {
  const s = setup();
  const before = snapshotTree(s.proj.dir);
  const file = path.join(s.root, "decisions.json");
  fs.writeFileSync(file, JSON.stringify({ "standards/testing/unit.md": "merge", "standards/universal/testing/unit.md": "theirs", "nowhere.md": "keep" }));
  const r = await runCli(["--source", s.src.dir, "--decisions", file, "--json"], { cwd: s.proj.dir });
  assert.is(r.code, 4, r.stdout + r.stderr);
  const f = resultOf(r).findings.find((x: { code: string }) => x.code === "DECISIONS_UNKNOWN");
  assert.is(f?.message, "Cannot use the decisions: 2 paths are not in the plan: standards/testing/unit.md (did you mean standards/universal/testing/unit.md?), nowhere.md");
  assert.not.ok(fs.existsSync(s.lock), "no lock");
  assert.equal(diffTrees(before, snapshotTree(s.proj.dir)), [], "nothing written");

  // The same decisions without the typos go through.
  fs.writeFileSync(file, JSON.stringify({ "standards/universal/testing/unit.md": "theirs" }));
  const ok = await runCli(["--source", s.src.dir, "--decisions", file, "--on-conflict", "keep"], { cwd: s.proj.dir });
  assert.is(ok.code, 0, ok.stdout + ok.stderr);
});

test("rollback --to a backup that is not there (malformed, a path, absent, pruned): exit 2 in one line before anything starts", async () => {
  const s = setup();
  const up = await runCli(["--source", s.src.dir, "--on-conflict", "theirs", "--json"], { cwd: s.proj.dir });
  assert.is(up.code, 0, up.stdout + up.stderr);
  const id = resultOf(up).summary.backup_id as string;
  const pruned = "2020-01-01-000000";
  const sessions = () => fs.readdirSync(path.join(s.proj.install, ".cache/state")).map((n) => fs.readFileSync(path.join(s.proj.install, ".cache/state", n), "utf8"));
  const before = snapshotTree(s.proj.dir);
  const states = sessions();
  const cases: Array<[string, string]> = [
    ["../x", 'Cannot roll back to backup "../x": a backup id looks like 2025-10-11-143022 or 2025-10-11-143022-1'],
    ["2025-13-99", 'Cannot roll back to backup "2025-13-99": a backup id looks like 2025-10-11-143022 or 2025-10-11-143022-1'],
    [pruned, `Cannot roll back to backup "${pruned}": there is no such backup in ${path.join(s.proj.install, ".backups")}`],
  ];
  for (const [to, message] of cases) {
    const r = await runCli(["rollback", "--to", to, "--yes"], { cwd: s.proj.dir });
    assert.is(r.code, 2, `${to}: ${r.stdout}${r.stderr}`);
    assert.is(errLine(r.stderr), `Error [USAGE]: ${message}`);
    assert.match(r.stderr, "agent-os-upgrade backups list");
    assert.not.ok(fs.existsSync(s.lock), "no lock");
    assert.equal(diffTrees(before, snapshotTree(s.proj.dir)), [], `${to}: nothing changed`);
    assert.equal(sessions(), states, `${to}: the session records are untouched`);
  }
  assert.ok(fs.existsSync(path.join(s.proj.install, ".backups", id)));
});

test("MCP: a NUL byte in source or to, and a decisions map of 200,000 keys, are validation errors (not INTERNAL), answered fast", async () => {
  const s = setup();
  const before = snapshotTree(s.proj.dir);
  const srv = await connectUpgradeServer(s.proj.dir);
  try {
    const call = async (name: string, args: Record<string, unknown>): Promise<string> => {
      try {
        const r = await srv.client.callTool({ name, arguments: args }, undefined, { timeout: 60_000 });
        assert.is(r.isError, true, `${name}: an error`);
        return (r.content as Array<{ text?: string }>).map((c) => c.text ?? "").join("\n");
      } catch (err) {
        return (err as Error).message;
      }
    };
    const nulSource = await call("upgrade_plan", { source: `${s.src.dir}\0x` });
    assert.match(nulSource, /Input validation error/);
    assert.match(nulSource, "must not contain a NUL byte");
    assert.not.match(nulSource, "INTERNAL");
    const nulStart = await call("upgrade_start", { source: `${s.src.dir}\0`, on_conflict: "theirs" });
    assert.match(nulStart, "must not contain a NUL byte");
    const nulTo = await call("upgrade_rollback", { to: "2025-01-01-000000\0", confirm: true });
    assert.match(nulTo, "must not contain a NUL byte");
    assert.not.match(nulTo, "INTERNAL");
    const t0 = performance.now();
    const huge = Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`standards/x${i}.md`, "keep"]));
    const many = await call("upgrade_start", { source: s.src.dir, decisions: huge });
    assert.match(many, "at most 10000 decisions (one per conflicting path)");
    assert.ok(performance.now() - t0 < 30_000, "refused in well under the 72 s it used to take");
    assert.not.ok(fs.existsSync(s.lock), "no lock");
    assert.equal(diffTrees(before, snapshotTree(s.proj.dir)), [], "nothing written");
  } finally {
    await srv.close();
  }
});

test.run();
