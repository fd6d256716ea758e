// The end of a run, as a person reads it: the summary lines of the human renderer, the same
// fields in the --json result, and the report's phase table — through the real upgrader with
// the real pre-flight, backup, content and report plugins on a real git source.
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import { evidenceOf } from "../core/evidence.ts";
import * as assert from "uvu/assert";
import { humanRenderer, jsonRenderer, type Sink } from "../app/render.ts";
import type { LogEvent } from "../core/log.ts";
import { definePlugin } from "../core/plugin.ts";
import type { Plugin } from "../core/plugin.ts";
import type { RunOptions } from "../core/types.ts";
import { runLifecycle } from "../core/upgrader.ts";
import { backupPlugin } from "../plugins/backup.ts";
import { contentPlugin } from "../plugins/content.ts";
import { preflightPlugin } from "../plugins/preflight.ts";
import { reportPlugin } from "../plugins/report.ts";
import { installUniversal, makeSourceRepo, otherPhasesDouble, read, removeTemps, tmpDir, type Tree } from "./helpers/content-project.ts";
import { toRunOptions, resolvedWith, type FlatRunOptions } from "./helpers/run-options.ts";

const OLD: Tree = {
  "standards/a.md": "one\ntwo\nthree\n",
  "standards/b.md": "b1\n",
  "standards/c.md": "c1\n",
  "workflows/w.md": "w1\n",
};
const NEW: Tree = {
  "standards/a.md": "one\nTWO upstream\nthree\n",
  "standards/b.md": "b1\nb2\n",
  "workflows/w.md": "w1\n",
  "workflows/n.md": "new\n",
};

function setup() {
  const root = tmpDir("output-summary");
  const source = path.join(root, "source");
  const commits = makeSourceRepo(source, [{ universal: OLD }, { universal: NEW }]);
  const project = path.join(root, "proj");
  const install = installUniversal(project, OLD, { commit: commits[0] });
  fs.writeFileSync(path.join(install, "standards/universal/a.md"), "one\nTWO mine\nthree\n");
  return { root, source, project, install };
}

const optionsOf = (s: ReturnType<typeof setup>, o: FlatRunOptions = {}): RunOptions => toRunOptions({
  source: s.source,
  target: s.project,
  dryRun: false,
  diff: false,
  onConflict: "merge",
  yes: false,
  json: false,
  restart: false,
  skipDeps: true,
  keepBackups: 3,
  from: null,
  interactive: false,
  ...o,
});

function capture(): Sink & { lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(l), err: (l) => lines.push(`[err] ${l}`) };
}

async function upgrade(s: ReturnType<typeof setup>, extra: Plugin[] = []) {
  const sink = capture();
  const events: LogEvent[] = [];
  const render = humanRenderer(sink);
  const result = await runLifecycle(
    { resolved: resolvedWith([preflightPlugin(), backupPlugin(), contentPlugin(), otherPhasesDouble({ backup: false }), ...extra, reportPlugin()]), options: optionsOf(s) },
    { onEvent: (e) => (events.push(e), render(e)) },
  );
  // The lines after the phase table: the summary a person acts on.
  const headline = sink.lines.findIndex((l) => /^Upgrade /.test(l));
  return { result, events, lines: sink.lines.slice(headline) };
}

test("a completed run with a merge left with conflict markers: the summary names the file and how to finish it", async () => {
  const s = setup();
  const { result, lines } = await upgrade(s);
  assert.is(result.status, "completed", JSON.stringify(result.error));
  const id = result.summary.backup_id!;
  assert.match(id, /^\d{4}-\d{2}-\d{2}-\d{6}(-\d+)?$/);
  assert.ok(fs.existsSync(path.join(s.install, ".backups", id, "MANIFEST.json")));
  assert.match(read(path.join(s.install, "standards/universal/a.md")), /^<<<<<<< /m);
  assert.equal(lines, [
    `Upgrade completed in ${lines[0].match(/in (\d+ ms|[\d.]+ s) /)![1]} (session ${result.session_id})`,
    "  Files: 1 new, 1 updated, 1 not checked (kept as they are), 1 conflicts, 1 deleted",
    "  Conflict decisions (1):",
    "    standards/universal/a.md: merge (policy), merged with 1 conflict marked",
    "  To finish by hand (1):",
    "    .agent-os/standards/universal/a.md: merged with 1 conflict marked; edit it, remove the <<<<<<< markers",
    `  Report: ${result.report_path}`,
    "  Validation report: double",
    `  Backup: ${id}; to undo this upgrade: agent-os-upgrade rollback (or agent-os-upgrade rollback --to ${id})`,
  ]);
  assert.equal(result.summary.needs_attention, [{
    path: ".agent-os/standards/universal/a.md",
    why: "merged with 1 conflict marked",
    how: "edit it, remove the <<<<<<< markers",
  }]);
});

test("the report shows phase 5 completed with its time, and the same summary", async () => {
  const s = setup();
  const { result } = await upgrade(s);
  assert.is(result.status, "completed", JSON.stringify(result.error));
  const md = read(result.report_path!);
  const p5 = result.phases[5];
  assert.is(p5.status, "completed");
  assert.ok(md.includes(`| 5 cleanup | completed | ${p5.duration_ms} ms |`), md);
  assert.not.match(md, /running/);
  for (const p of result.phases) assert.ok(md.includes(`| ${p.phase} ${p.name} | completed | ${p.duration_ms} ms |`), `phase ${p.phase}`);
  assert.ok(md.includes("## Needs attention\n\n- `.agent-os/standards/universal/a.md`: merged with 1 conflict marked; edit it, remove the <<<<<<< markers\n"), md);
  assert.ok(md.includes("## Conflict decisions\n\n- `standards/universal/a.md`: merge (policy): merged with 1 conflict marked\n"), md);
  assert.ok(md.includes(`- Backup: ${result.summary.backup_id}\n`), md);
});

test("--json: the result carries the summary fields, snake_case", async () => {
  const s = setup();
  const sink = capture();
  const result = await runLifecycle(
    { resolved: resolvedWith([preflightPlugin(), backupPlugin(), contentPlugin(), otherPhasesDouble({ backup: false }), reportPlugin()]), options: optionsOf(s, { json: true }) },
    { onEvent: jsonRenderer(sink) },
  );
  const last = JSON.parse(sink.lines[sink.lines.length - 1]);
  assert.is(last.type, "result");
  assert.equal(Object.keys(last.summary), ["counts", "decisions", "needs_attention", "warnings", "validation_report", "backup_id"]);
  assert.equal(last.summary.counts, { new: 1, updated: 1, unchanged: 0, kept_local: 0, not_checked: 1, merged: 0, conflicts: 1, deleted: 1, errors: 0 });
  assert.equal(last.summary.decisions, [{ target: "standards/universal/a.md", decision: "merge", by: "policy", result: "merged with 1 conflict marked" }]);
  assert.equal(last.summary.needs_attention.map((a: { path: string }) => a.path), [".agent-os/standards/universal/a.md"]);
  assert.is(last.summary.backup_id, result.summary.backup_id);
  assert.is(last.report_path, result.report_path);
});

test("a rolled-back run: decisions, warnings, both reports and the restored backup; nothing left to finish", async () => {
  const s = setup();
  const failing = definePlugin({
    name: "failing-check",
    apply(hooks) {
      // A validation plugin fills its own part of the summary, from its own record.
      hooks.summarize.tap((ctx, _outcome, result) => {
        const ev = ctx.session ? evidenceOf(ctx.session.state, 4, "failing-check") : undefined;
        result.summary.validation_report = (ev?.validation_report as string | undefined) ?? null;
      });
      hooks.validate.tap((ctx, findings, ev) => {
        const report = path.join(ctx.layout.cacheDir, "upgrade-validation-test.json");
        fs.writeFileSync(report, "{}\n");
        ev.validation_report = report;
        ctx.log.warn("The server printed an error line");
        findings.error("SMOKE_FAILED", "search_standards returned nothing");
      });
    },
  });
  const { result, lines } = await upgrade(s, [failing]);
  assert.is(result.status, "rolled_back", JSON.stringify(result.error));
  const id = result.summary.backup_id!;
  assert.is(read(path.join(s.install, "standards/universal/a.md")), "one\nTWO mine\nthree\n");
  const report = path.join(s.install, ".cache/upgrade-validation-test.json");
  assert.equal(lines, [
    `Upgrade failed and was rolled back; the installation is as it was (session ${result.session_id})`,
    "  Files: 1 new, 1 updated, 1 not checked (kept as they are), 1 conflicts, 1 deleted",
    "  Conflict decisions (1):",
    "    standards/universal/a.md: merge (policy), merged with 1 conflict marked",
    "  Warnings (2):",
    "    The server printed an error line",
    "    Rolling back after phase 4 (validation): Validation failed: search_standards returned nothing",
    `  Report: ${result.report_path}`,
    `  Validation report: ${report}`,
    `  Backup: ${id}; restored, the installation is as it was before`,
  ]);
  assert.match(read(result.report_path!), /\| 5 cleanup \| not run \| - \|/);
});

test.after(removeTemps);
test.run();
