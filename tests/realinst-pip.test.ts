// pip you can follow (issue 10 part 5): an unreachable index fails at once with the message and
// the ways out, and the run rolls back exactly; pip's lines are streamed; each retry says why.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { EXIT } from "../core/errors.ts";
import { connectTarget, indexUrlOf, pipInstall, probeConnect } from "../plugins/server/pip.ts";
import type { McpProject } from "./helpers/mcp-project.ts";
import { snapshotTree } from "../demo/kit/tree.ts";
import { realProject, realUpgrade } from "./helpers/realinst.ts";
import { createVenv, pipFreeze } from "../demo/kit/venv.ts";

// Port 9 (discard) on loopback: nothing listens, so a connect is refused at once.
const DEAD_INDEX = "http://127.0.0.1:9/simple";
const cleanups: (() => void)[] = [];
test.after(() => {
  for (const c of cleanups) c();
});

test("the index pip would use, and where it connects (a proxy when one is set)", () => {
  assert.is(indexUrlOf(["--index-url", DEAD_INDEX], {}), DEAD_INDEX);
  assert.is(indexUrlOf(["-i", "http://x/simple"], {}), "http://x/simple");
  assert.is(indexUrlOf(["--index-url=http://y/simple"], {}), "http://y/simple");
  assert.is(indexUrlOf(["--no-index", "--find-links", "/w"], {}), null);
  assert.is(indexUrlOf([], { PIP_INDEX_URL: "http://z/simple" }), "http://z/simple");
  assert.is(indexUrlOf(["--isolated"], { PIP_INDEX_URL: "http://z/simple" }), "https://pypi.org/simple");
  assert.equal(connectTarget("https://pypi.org/simple", [], {}), { host: "pypi.org", port: 443 });
  assert.equal(connectTarget("https://pypi.org/simple", [], { HTTPS_PROXY: "http://proxy.local:3128" }), { host: "proxy.local", port: 3128 });
  assert.equal(connectTarget("https://pypi.org/simple", [], { HTTPS_PROXY: "http://proxy.local:3128", NO_PROXY: ".pypi.org" }), { host: "pypi.org", port: 443 });
});

test("the probe: refused on a dead port, null when something listens", async () => {
  assert.match(String(await probeConnect("127.0.0.1", 9, 2_000)), "ECONNREFUSED");
  const net = await import("node:net");
  const server = net.createServer().listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const port = (server.address() as { port: number }).port;
  assert.is(await probeConnect("127.0.0.1", port, 2_000), null);
  server.close();
});

test("pip's lines are streamed as they come, and a retry says why (network)", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aou-realinst-pip-"));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const venv = await createVenv(path.join(dir, "venv"));
  const req = path.join(dir, "requirements.txt");
  fs.writeFileSync(req, "aou-nothing-here==1.0\n");
  const lines: string[] = [];
  const retries: { attempt: number; of: number; failure: string }[] = [];
  const r = await pipInstall({
    python: venv.python,
    requirements: req,
    // pip's own single retry makes it name the connection error; without the probe pip runs.
    extraArgs: ["--isolated", "--index-url", DEAD_INDEX, "--retries", "1", "--timeout", "2"],
    probeIndex: false,
    retries: 1,
    retryDelayMs: 10,
    onLine: (l) => lines.push(l),
    onRetry: (t) => retries.push({ attempt: t.attempt, of: t.of, failure: t.failure }),
  });
  assert.is(r.ok, false);
  assert.equal(retries, [{ attempt: 1, of: 2, failure: "network" }]);
  assert.equal(r.attempts.map((a) => a.failure), ["network", "network"]);
  assert.match(r.error!, "network error, 2 attempts");
  assert.ok(lines.some((l) => l.startsWith("WARNING: Retrying") && l.includes("Connection refused")), lines.join("\n"));
  assert.ok(lines.some((l) => l.startsWith("ERROR:")), "pip's error line came through the stream");
});

test("upgrade against an unreachable index: refused in pre-flight (the dry run too), before any backup or write, naming the ways out", async () => {
  const p: McpProject = await realProject();
  cleanups.push(() => p.cleanup());
  const before = snapshotTree(p.project, { mtime: true });
  const packagesBefore = await pipFreeze(p.venv);
  for (const dryRun of [true, false]) {
    const result = await realUpgrade(p, { pipArgs: ["--index-url", DEAD_INDEX] }, { dryRun });
    assert.is(result.exit_code, EXIT.preflight, JSON.stringify(result.error));
    assert.is(result.session_id, null, "no session: nothing was started");
    const errors = result.findings.filter((f) => f.level === "error").map((f) => [f.code, f.message]);
    assert.equal(errors, [["PACKAGE_INDEX_UNREACHABLE", `Cannot install the server's changed requirements: the package index ${DEAD_INDEX} is unreachable (connect ECONNREFUSED 127.0.0.1:9)`]]);
    const fix = result.findings.find((f) => f.code === "PACKAGE_INDEX_UNREACHABLE")!.fix!;
    assert.match(fix, `depsPlugin({ extraArgs: [...] }) in upgrade.config.ts; offline: ["--no-index", "--find-links", "<folder of wheels>"]`);
    assert.match(fix, "or pass --skip-deps");
  }
  // Exactly as before: every file, mode, byte and mtime (no backup, no state), and the venv's packages.
  assert.equal(snapshotTree(p.project, { mtime: true }), before);
  assert.equal(await pipFreeze(p.venv), packagesBefore);
});

test.run();
