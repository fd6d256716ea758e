// disable: ["preflight"], ["content"] complete on a real install; ["backup"] is refused at config
// time (exit 3) naming the plugins that need it, before anything is written.
import * as assert from "uvu/assert";
import { test } from "uvu";
import { resultOf, runCli } from "./helpers/cli.ts";
import { snapshotTree } from "../demo/kit/tree.ts";
import { completesWithout, warnsOnce } from "./helpers/realinst-disable.ts";
import { realProject, writeRealConfig } from "./helpers/realinst.ts";

completesWithout("preflight", "no pre-flight checks or versions, everything else runs, one warning says so", async (r) => {
  await r.serverIs("v2");
  assert.ok(r.contentUpgraded(), "content upgraded");
  assert.is(r.ev(0, "preflight"), undefined);
  warnsOnce(r, `The "preflight" plugin is disabled: nothing is checked before writing`);
  assert.is(r.result.validation, "passed");
});

completesWithout("content", "the server is upgraded, the content is not; phase 2 shows skipped (no plugin)", async (r) => {
  await r.serverIs("v2");
  assert.not.ok(r.contentUpgraded(), "content left alone");
  assert.equal(r.result.plan?.entries, []);
  assert.equal(r.result.phases[2], { phase: 2, name: "content", status: "skipped", duration_ms: r.result.phases[2].duration_ms, plugins: [] });
  assert.is(r.result.validation, "passed");
});

test(`disable: ["backup"] is refused at config time: exit 3, names the plugins that need it, nothing written`, async () => {
  const p = await realProject();
  try {
    writeRealConfig(p, { disable: ["backup"] });
    const before = snapshotTree(p.root, { mtime: true });
    const r = await runCli(["--source", p.source, "--json"], { cwd: p.project, timeoutMs: 120_000 });
    assert.is(r.code, 3, r.stdout + r.stderr);
    const e = resultOf(r).error;
    assert.is(e.code, "CONFIG_INVALID");
    assert.is(e.message, `Invalid config in ${p.project}/upgrade.config.ts: disable: "backup" is needed by "content", "deps", "migrate", "mentions"`);
    assert.is(e.hint, `Keep "backup", or disable "content", "deps", "migrate", "mentions" too`);
    assert.equal(snapshotTree(p.root, { mtime: true }), before);
  } finally {
    p.cleanup();
  }
});

test.run();
