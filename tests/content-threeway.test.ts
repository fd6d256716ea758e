// Clean merges applied as git does, and three-way views for true conflicts, on real Agent OS
// content: release ced34ea installed by hand (no records: the base is inferred from the
// source's history), two edits, upgraded to 395aab3. production-code-checklist.md gets a note
// at line 2 while upstream rewrote lines further down: `git merge-file` merges it cleanly, so
// it is merged without a question and without --on-conflict. test-pyramid.md is edited where
// upstream also changed it: the one true conflict, asked with its three-way view.
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { EXIT } from "../core/errors.ts";
import type { RunOptions } from "../core/types.ts";
import { runLifecycle } from "../core/upgrader.ts";
import { backupPlugin } from "../plugins/backup.ts";
import { contentPlugin } from "../plugins/content.ts";
import type { ContentEntry, ContentPlanX } from "../plugins/content/plan.ts";
import type { ThreeWayView } from "../plugins/content/views.ts";
import { preflightPlugin } from "../plugins/preflight.ts";
import { reportPlugin } from "../plugins/report.ts";
import { snapshotTree } from "../demo/kit/tree.ts";
import { BIN, resultOf, runCli, tsCommand } from "./helpers/cli.ts";
import { gitMergeFile, installUniversal, makeSourceRepo, NEW, OLD, otherPhasesDouble, release, removeTemps, tmpDir } from "./helpers/content-project.ts";
import { toRunOptions, resolvedWith, type FlatRunOptions } from "./helpers/run-options.ts";
import { hasTmux, quote, terminal } from "./helpers/terminal.ts";

const CHECKLIST = "standards/universal/ai-safety/production-code-checklist.md";
const PYRAMID = "standards/universal/testing/test-pyramid.md";
const NOTE_AT_2 = "> Team note: we also run the security checklist.\n";
const NOTE_AT_END = "\n## Team note\n\nWe order locks by id.\n";

const upstreamFile = (rel: string, r: string) => fs.readFileSync(path.join(release(r), rel.replace("standards/universal/", "standards/")));

let repo: { source: string; commits: string[] } | null = null;

function setup() {
  if (!repo) {
    const source = path.join(tmpDir("threeway-src"), "agent-os-enhanced");
    repo = { source, commits: makeSourceRepo(source, [{ universal: release(OLD) }, { universal: release(NEW) }]) };
  }
  const project = path.join(tmpDir("threeway"), "proj");
  const install = installUniversal(project, release(OLD));
  const checklist = path.join(install, CHECKLIST);
  const lines = fs.readFileSync(checklist, "utf8").split("\n");
  fs.writeFileSync(checklist, [lines[0], NOTE_AT_2.trimEnd(), ...lines.slice(1)].join("\n"));
  fs.appendFileSync(path.join(install, PYRAMID), NOTE_AT_END);
  return { source: repo.source, commits: repo.commits, project, install, mineChecklist: fs.readFileSync(checklist) };
}

type Setup = ReturnType<typeof setup>;

const optionsOf = (s: Setup, o: FlatRunOptions = {}): RunOptions => toRunOptions({
  source: s.source,
  target: s.project,
  dryRun: false,
  diff: false,
  onConflict: null,
  yes: true,
  json: true,
  restart: false,
  skipDeps: true,
  keepBackups: 3,
  from: null,
  interactive: false,
  ...o,
});

async function run(s: Setup, o: FlatRunOptions = {}) {
  const asked: string[] = [];
  const prompt = async (r: { target: string }) => {
    asked.push(r.target);
    return "keep" as const;
  };
  const plugins = [preflightPlugin(), backupPlugin(), contentPlugin({ prompt }), otherPhasesDouble({ backup: false }), reportPlugin()];
  const result = await runLifecycle({ resolved: resolvedWith(plugins), options: optionsOf(s, o) });
  return { result, asked, entries: Object.fromEntries(((result.plan?.entries ?? []) as ContentEntry[]).map((e) => [e.target, e])) };
}

test("a clean both-changed file is merged without a prompt and without --on-conflict; only the true conflict needs a decision", async () => {
  const s = setup();
  const { result, asked, entries } = await run(s, { decisions: { [PYRAMID]: "keep" } });
  assert.is(result.status, "completed", JSON.stringify(result.error));
  assert.equal(asked, []);
  const plan = result.plan as ContentPlanX;
  assert.is(plan.base.via, "inferred");
  assert.equal([entries[CHECKLIST].action, entries[CHECKLIST].three_way, entries[CHECKLIST].decision], ["merge", "clean", undefined]);
  assert.equal([entries[PYRAMID].action, entries[PYRAMID].three_way, entries[PYRAMID].decision, entries[PYRAMID].decided_by], ["conflict", "conflict", "keep", "decision"]);
  assert.is(plan.counts.conflicts, 1);
  assert.ok(plan.counts.merged >= 1);
  const merged = fs.readFileSync(path.join(s.install, CHECKLIST));
  assert.equal(merged, gitMergeFile(s.mineChecklist, upstreamFile(CHECKLIST, OLD), upstreamFile(CHECKLIST, NEW)), "what git merge-file makes of the same three inputs");
  const text = merged.toString("utf8");
  assert.is(text.split("\n")[1], NOTE_AT_2.trimEnd(), "the user's note stays at line 2");
  assert.ok(text.includes("## 🚨 The 5-Second Rule"), "upstream's change is in");
  assert.not.ok(text.includes("<<<<<<<"));
  assert.ok(fs.readFileSync(path.join(s.install, PYRAMID), "utf8").endsWith(NOTE_AT_END), "keep: the user's file");
  const decisions = result.summary.decisions.map((d) => `${d.target}: ${d.decision} (${d.by})`);
  assert.ok(decisions.includes(`${CHECKLIST}: merge (clean merge)`), decisions.join("\n"));
  assert.ok(decisions.includes(`${PYRAMID}: keep (decision)`));
});

test("without a terminal or a decision: refused before writing, naming only the true conflict", async () => {
  const s = setup();
  const before = snapshotTree(s.project, { mtime: true });
  const { result } = await run(s);
  assert.is(result.status, "aborted");
  assert.is(result.exit_code, EXIT.conflicts);
  assert.is(result.error?.message, `Pre-flight refused the upgrade: Cannot upgrade the content without a decision: 1 conflict (${PYRAMID})`);
  assert.equal(snapshotTree(s.project, { mtime: true }), before);
});

test("a per-file decision wins over a clean merge; --on-conflict does not", async () => {
  const s = setup();
  const { result, entries } = await run(s, { decisions: { [CHECKLIST]: "theirs" }, onConflict: "keep" });
  assert.is(result.status, "completed", JSON.stringify(result.error));
  assert.equal([entries[CHECKLIST].action, entries[CHECKLIST].three_way, entries[CHECKLIST].decision], ["conflict", "clean", "theirs"]);
  assert.equal(fs.readFileSync(path.join(s.install, CHECKLIST)), upstreamFile(CHECKLIST, NEW));
  assert.equal([entries[PYRAMID].decision, entries[PYRAMID].decided_by], ["keep", "policy"]);
});

test("CLI --dry-run --json: the plan marks clean and conflict, and carries the conflict's three-way view", async () => {
  const s = setup();
  const before = snapshotTree(s.project, { mtime: true });
  const r = await runCli(["--source", s.source, "--dry-run", "--json", "--no-validate"], { cwd: s.project, timeoutMs: 180_000 });
  assert.equal(snapshotTree(s.project, { mtime: true }), before);
  const res = resultOf(r);
  assert.is(r.code, EXIT.ok, r.stderr);
  const plan = res.plan as ContentPlanX & { views: Record<string, ThreeWayView> };
  const byTarget = Object.fromEntries((plan.entries as ContentEntry[]).map((e) => [e.target, e]));
  assert.is(byTarget[CHECKLIST].three_way, "clean");
  assert.is(byTarget[PYRAMID].three_way, "conflict");
  assert.equal(Object.keys(plan.views), [PYRAMID], "views for true conflicts only");
  const v = plan.views[PYRAMID];
  assert.match(v.yours, /^\+We order locks by id\.$/m, "your change is your note, added");
  assert.not.match(v.upstream, /We order locks by id/, "upstream's change does not mention your note (no false deletion)");
  assert.match(v.yours, /^--- base\/standards\/universal\/testing\/test-pyramid\.md\tbase\n\+\+\+ yours\/standards\/universal\/testing\/test-pyramid\.md\tyours$/m);
  assert.match(v.upstream, /^\+\+\+ upstream\/standards\/universal\/testing\/test-pyramid\.md\tupstream$/m);
  assert.match(v.merged!, /^<<<<<<< local\n[\s\S]*^We order locks by id\.\n=======\n[\s\S]*^>>>>>>> upstream$/m);
  assert.is(v.hunks, 1);
});

test("status after the upgrade: from → to, the backup and how to undo, the files to finish by hand", async () => {
  const s = setup();
  const { result } = await run(s, { decisions: { [PYRAMID]: "merge" } });
  assert.is(result.status, "completed", JSON.stringify(result.error));
  const plan = result.plan as ContentPlanX;
  const r = await runCli(["status"], { cwd: s.project, timeoutMs: 120_000 });
  assert.is(r.code, EXIT.ok, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  const at = lines.findIndex((l) => l.startsWith("Newest session "));
  assert.equal(lines.slice(at), [
    `Newest session ${result.session_id}: completed, ${plan.base.ref!.slice(0, 12)} → ${s.commits[1].slice(0, 12)}`,
    `  Backup: ${result.summary.backup_id}; to undo this upgrade: agent-os-upgrade rollback`,
    `  To finish by hand (1): ${PYRAMID} (conflict markers, or files a merge could not take)`,
    // No line about the server: no server plugin ran here (the double's record is its own, not the server plugin's).
  ]);
});

// ---- a real terminal ----

const { tmux, waitFor } = terminal("threeway");

test("on a real terminal: only the true conflict is asked, its three-way view is shown, Ctrl-C is Abort (exit 6, nothing changed)", async () => {
  if (!hasTmux) {
    console.warn("tmux is not installed: the terminal test is skipped (apt-get install -y tmux)");
    return;
  }
  const s = setup();
  const before = snapshotTree(s.project, { mtime: true });
  const [cmd, argv] = tsCommand(BIN, ["--source", s.source, "--no-validate"]);
  const line = `cd ${quote(s.project)} && ${[cmd, ...argv].map(quote).join(" ")}; echo EXIT=$?; sleep 60`;
  tmux("new-session", "-d", "-s", "t", "-x", "160", "-y", "40", "-e", "PAGER=less -R", "-e", "DENO_NO_UPDATE_CHECK=1", "-e", "NO_COLOR=1", line);
  try {
    const first = await waitFor(/Conflict 1 of 1/, 180_000);
    assert.match(first, /Conflict 1 of 1: standards\/universal\/testing\/test-pyramid\.md \(changed locally and upstream\)\. What now\?/);
    assert.not.match(first, /production-code-checklist/, "a clean merge is not asked");
    assert.not.match(first, /Same for all/, "one conflict: no 'same for all'");
    tmux("send-keys", "-t", "t", "Enter"); // the three-way view is the first choice
    const view = await waitFor(/## Your change \(base → yours\)/);
    assert.match(view, /^# conflict: standards\/universal\/testing\/test-pyramid\.md \(changed locally and upstream\)$/m);
    assert.match(view, /^--- base\/standards\/universal\/testing\/test-pyramid\.md\tbase|^--- base\/standards\/universal\/testing\/test-pyramid\.md\s+base$/m);
    tmux("send-keys", "-t", "t", "G"); // the end of the view: the merge with its markers
    const end = await waitFor(/>>>>>>> upstream|## Merged/);
    assert.match(end, /## Merged \(what "merge" writes; 1 conflict marked|>>>>>>> upstream/);
    tmux("send-keys", "-t", "t", "q");
    await waitFor(/Conflict 1 of 1[\s\S]*three-way view/);
    tmux("send-keys", "-t", "t", "C-c");
    const out = await waitFor(/EXIT=\d+/, 120_000);
    assert.match(out, /^Aborted by you; nothing was changed$/m, out);
    assert.match(out, /EXIT=6/);
    assert.not.match(out, /Error \[|Plugin "content" failed|force closed/);
  } finally {
    tmux("kill-server");
  }
  assert.equal(snapshotTree(s.project, { mtime: true }), before);
  assert.not.ok(fs.existsSync(path.join(s.install, ".backups")));
});

test.after(removeTemps);
test.run();
