// pip you can follow (issue 10 part 5): an unreachable index fails at once with the message and
// the ways out, and the run rolls back exactly; pip's lines are streamed; each retry says why.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { EXIT } from "../core/errors.ts";
import type { SessionState } from "../core/state.ts";
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

test("upgrade against an unreachable index: pip is never started, the message and hint name the ways out, rolled back exactly", async () => {
  const p: McpProject = await realProject();
  cleanups.push(() => p.cleanup());
  const ours = (rel: string) => rel.startsWith(".agent-os/.cache") || rel.startsWith(".agent-os/.backups") || rel.includes("__pycache__");
  const before = snapshotTree(p.project, { skip: ours });
  const packagesBefore = await pipFreeze(p.venv);
  const result = await realUpgrade(p, { pipArgs: ["--index-url", DEAD_INDEX] });
  assert.is(result.status, "rolled_back", JSON.stringify(result));
  assert.is(result.exit_code, EXIT.rolledBack);
  const e = result.error as { code: string; message: string; hint: string };
  assert.is(e.code, "SERVER_FAILED");
  assert.ok(e.message.endsWith(`Cannot install the server's Python dependencies: the package index ${DEAD_INDEX} is unreachable (connect ECONNREFUSED 127.0.0.1:9)`), e.message);
  assert.match(e.hint, "Make the package index reachable, or point pip at one it can reach in the deps plugin's extraArgs in upgrade.config.ts");
  assert.match(e.hint, `["--index-url","${DEAD_INDEX}"]`);
  assert.match(e.hint, `depsPlugin({ extraArgs: ["--no-index", "--find-links", "<folder of wheels>"] })`);
  assert.match(e.hint, `or pass --skip-deps`);
  const state = JSON.parse(fs.readFileSync(path.join(p.install, ".cache", "state", `${result.session_id}.json`), "utf8")) as SessionState;
  const deps = (state.phases["3"]?.evidence as Record<string, any>).deps.deps;
  assert.equal(deps.attempts, [], "pip was never started");
  assert.equal(deps.unreachable_index, { url: DEAD_INDEX, error: "connect ECONNREFUSED 127.0.0.1:9" });
  // Exactly as before: every file, mode and byte, and the venv's packages.
  assert.equal(snapshotTree(p.project, { skip: ours }), before);
  assert.equal(await pipFreeze(p.venv), packagesBefore);
  console.log(`  (unreachable index: phase 3 took ${result.phases[3].duration_ms} ms)`);
});

test.run();
