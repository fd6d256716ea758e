// disable: ["validate"], ["deps"], ["report"] on a real install (see helpers/realinst-disable.ts).
import fs from "node:fs";
import * as assert from "uvu/assert";
import { test } from "uvu";
import { completesWithout, summaryOf, warnsOnce } from "./helpers/realinst-disable.ts";
import { pipFreeze } from "../demo/kit/venv.ts";

completesWithout("validate", "no MCP check, the summary says not validated, one warning says so", async (r) => {
  await r.serverIs("v2");
  assert.is(r.result.validation, undefined);
  assert.is(r.ev(4, "validate"), undefined);
  assert.is(r.ev(4, "user-files")!.user_files_unchanged, true);
  assert.match(summaryOf(r), "- Validation: not validated (no plugin checked the MCP server)");
  warnsOnce(r, `The "validate" plugin is disabled: the new MCP server is not checked`);
});

completesWithout("deps", "the venv is not touched (it already had the new server's packages)", async (r) => {
  await r.serverIs("v2");
  assert.is(r.ev(3, "deps"), undefined);
  assert.equal(await pipFreeze(r.p.venv), r.packagesBefore);
  assert.is(r.result.validation, "passed");
}, { preinstall: ["aou-fixture-b==1.0"] });

completesWithout("report", "no summary file, no VERSION.txt or UPDATE_LOG entry; the terminal summary and the rollback hint stay", async (r) => {
  await r.serverIs("v2");
  assert.is(r.result.report_path, undefined);
  assert.is(r.result.validation, "passed");
  assert.equal(fs.readdirSync(`${r.p.install}/.cache`).filter((f) => f.startsWith("upgrade-summary-")), []);
  assert.is(fs.existsSync(`${r.p.install}/VERSION.txt`), false);
  assert.is(fs.existsSync(`${r.p.install}/UPDATE_LOG.txt`), false);
  // The summary is the engine's and its owners' (content, backup, validate), not the report's.
  assert.ok(r.result.summary.backup_id, "the backup id, for `rollback --to`");
  assert.ok(Object.keys(r.result.summary.counts).length > 0, "files by class");
  assert.match(String(r.result.summary.validation_report), /upgrade-validation-/);
});

test.run();
