// The conflict prompt: "n of N", "same for all remaining", Abort before any write (no lock,
// no backup, no state) — through the injected prompt seam on the real upgrader, and on a
// real terminal (tmux) with the real CLI, @inquirer/prompts and the pager.
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { humanRenderer, type Sink } from "../app/render.ts";
import { EXIT } from "../core/errors.ts";
import type { RunOptions } from "../core/types.ts";
import { runLifecycle } from "../core/upgrader.ts";
import { backupPlugin } from "../plugins/backup.ts";
import { contentPlugin } from "../plugins/content.ts";
import type { PromptAnswer, PromptRequest } from "../plugins/content/options.ts";
import { preflightPlugin } from "../plugins/preflight.ts";
import { reportPlugin } from "../plugins/report.ts";
import { BIN, tsCommand } from "./helpers/cli.ts";
import { installUniversal, makeSourceRepo, otherPhasesDouble, read, removeTemps, tmpDir, type Tree } from "./helpers/content-project.ts";
import { snapshotTree } from "../demo/kit/tree.ts";
import { toRunOptions, resolvedWith } from "./helpers/run-options.ts";
import { hasTmux, quote, terminal } from "./helpers/terminal.ts";

const lines = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix} line ${i + 1}`).join("\n") + "\n";

const OLD: Tree = {
  "standards/a.md": lines("base", 40),
  "standards/b.md": "b\n",
  "standards/c.md": "c\n",
  "workflows/w.md": "w\n",
};
const NEW: Tree = {
  "standards/a.md": lines("upstream", 40),
  "standards/b.md": "b upstream\n",
  "standards/c.md": "c upstream\n",
  "workflows/w.md": "w\n",
};

/** Three conflicts (a.md has a diff taller than a small terminal). */
function setup() {
  const root = tmpDir("output-prompt");
  const source = path.join(root, "source");
  const commits = makeSourceRepo(source, [{ universal: OLD }, { universal: NEW }]);
  const project = path.join(root, "proj");
  const install = installUniversal(project, OLD, { commit: commits[0] });
  fs.writeFileSync(path.join(install, "standards/universal/a.md"), lines("mine", 40));
  fs.writeFileSync(path.join(install, "standards/universal/b.md"), "b mine\n");
  fs.writeFileSync(path.join(install, "standards/universal/c.md"), "c mine\n");
  return { root, source, project, install };
}

const optionsOf = (s: ReturnType<typeof setup>): RunOptions => toRunOptions({
  source: s.source,
  target: s.project,
  dryRun: false,
  diff: false,
  onConflict: null,
  yes: false,
  json: false,
  restart: false,
  skipDeps: true,
  keepBackups: 3,
  from: null,
  interactive: true,
});

async function run(s: ReturnType<typeof setup>, answer: (r: PromptRequest) => PromptAnswer) {
  const asked: string[] = [];
  const out: string[] = [];
  const sink: Sink = { out: (l) => out.push(l), err: (l) => out.push(l) };
  const prompt = async (r: PromptRequest) => (asked.push(`${r.index} of ${r.total}: ${r.target}`), answer(r));
  const plugins = [preflightPlugin(), backupPlugin(), contentPlugin({ prompt }), otherPhasesDouble({ backup: false }), reportPlugin()];
  const result = await runLifecycle({ resolved: resolvedWith(plugins), options: optionsOf(s) }, { onEvent: humanRenderer(sink) });
  return { result, asked, out };
}

test("prompt seam: each conflict is asked as 'n of N'; 'same for all remaining' decides the rest without asking", async () => {
  const s = setup();
  const { result, asked } = await run(s, (r) => (r.index === 1 ? "keep" : { decision: "theirs", remaining: true }));
  assert.is(result.status, "completed", JSON.stringify(result.error));
  assert.equal(asked, ["1 of 3: standards/universal/a.md", "2 of 3: standards/universal/b.md"]);
  assert.equal(result.summary.decisions.map((d) => [d.target, d.decision, d.by]), [
    ["standards/universal/a.md", "keep", "prompt"],
    ["standards/universal/b.md", "theirs", "prompt"],
    ["standards/universal/c.md", "theirs", "prompt (same for all remaining)"],
  ]);
  assert.is(read(path.join(s.install, "standards/universal/a.md")), lines("mine", 40));
  assert.is(read(path.join(s.install, "standards/universal/b.md")), "b upstream\n");
  assert.is(read(path.join(s.install, "standards/universal/c.md")), "c upstream\n");
});

test("prompt seam: Abort ends the run in pre-flight: 'Aborted by you; nothing was changed', no lock, no backup, no state", async () => {
  const s = setup();
  const before = snapshotTree(s.project, { mtime: true });
  const { result, asked, out } = await run(s, (r) => (r.index === 1 ? "keep" : "abort"));
  assert.equal(asked, ["1 of 3: standards/universal/a.md", "2 of 3: standards/universal/b.md"]);
  assert.is(result.status, "aborted");
  assert.is(result.exit_code, EXIT.conflicts);
  assert.is(result.session_id, null);
  assert.is(result.error?.message, "Aborted by you; nothing was changed");
  assert.equal(snapshotTree(s.project, { mtime: true }), before);
  assert.not.ok(fs.existsSync(path.join(s.install, ".backups")));
  // The person's Abort is not a failure of pre-flight: no ✗ line.
  assert.equal(out[0], "– phase 0 pre-flight  aborted (by you)");
  assert.equal(out.slice(1), ["Aborted by you; nothing was changed"]);
});

// ---- a real terminal ----

const { tmux, waitFor } = terminal("output");


test("on a real terminal: 'n of N', 'Same for all … remaining', a long diff paged by less, Abort leaves nothing behind", async () => {
  if (!hasTmux) {
    console.warn("tmux is not installed: the terminal test is skipped (apt-get install -y tmux)");
    return;
  }
  const s = setup();
  const before = snapshotTree(s.project, { mtime: true });
  const [cmd, argv] = tsCommand(BIN, ["--source", s.source, "--no-validate"]);
  const line = `cd ${quote(s.project)} && ${[cmd, ...argv].map(quote).join(" ")}; echo EXIT=$?; sleep 60`;
  tmux("new-session", "-d", "-s", "t", "-x", "120", "-y", "24", "-e", "PAGER=less -R", "-e", "DENO_NO_UPDATE_CHECK=1", "-e", "NO_COLOR=1", line);
  try {
    const first = await waitFor(/Conflict 1 of 3/, 180_000); // a loaded machine starts the CLI slowly
    assert.match(first, /Conflict 1 of 3: standards\/universal\/a\.md \(changed locally and upstream\)\. What now\?/);
    assert.match(first, /Same for all 3 remaining…/);
    assert.match(first, /Abort the upgrade \(nothing is changed\)/);

    tmux("send-keys", "-t", "t", "Enter"); // the three-way view is the first choice
    const paged = await waitFor(/## Your change \(base → yours\)/);
    assert.match(paged, /^--- base\/standards\/universal\/a\.md\s+base$/m, "your change starts from the base, not from upstream");
    assert.match(paged, /^-base line 1$/m);
    assert.not.match(paged, /Upstream's change/, "a view taller than the terminal is paged, not dumped");
    tmux("send-keys", "-t", "t", "q");
    await waitFor(/Conflict 1 of 3[\s\S]*Show the three-way view/);
    for (let i = 0; i < 6; i++) tmux("send-keys", "-t", "t", "Down");
    await waitFor(/❯ Abort the upgrade/);
    tmux("send-keys", "-t", "t", "Enter");
    const end = await waitFor(/EXIT=\d+/, 120_000);
    assert.match(end, /^Aborted by you; nothing was changed$/m, end);
    assert.match(end, /EXIT=6/);
    assert.not.match(end, /Error \[|Plugin "content" failed/);
  } finally {
    tmux("kill-server");
  }
  assert.equal(snapshotTree(s.project, { mtime: true }), before);
  assert.not.ok(fs.existsSync(path.join(s.install, ".backups")));
});

test.after(removeTemps);
test.run();
