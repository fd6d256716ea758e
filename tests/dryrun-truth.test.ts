// A dry run tells the whole truth (issue 21): it refuses where the real run refuses, with the
// same findings and the same exit code, and its plan covers every phase — the content, the
// server swap (files added, removed, changed), the requirements diff, each launch entry's
// migration, .gitignore. Real projects: fixture MCP servers in real venvs, a real git source.
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { EXIT } from "../core/errors.ts";
import { snapshotTree } from "../demo/kit/tree.ts";
import { resultOf, runCli } from "./helpers/cli.ts";
import type { McpProject } from "./helpers/mcp-project.ts";
import { trackedProject } from "./helpers/realinst.ts";

const projects: McpProject[] = [];
test.after(() => {
  for (const p of projects) p.cleanup();
});

type Finding = { level: string; code: string; message: string; fix?: string };
const errorsOf = (res: Record<string, unknown>) => (res.findings as Finding[]).filter((f) => f.level === "error").map((f) => ({ code: f.code, message: f.message, fix: f.fix }));

test("a server that cannot start: the dry run exits 4 with the real run's findings, and writes nothing", async () => {
  const p = await trackedProject(projects, { venv: false });
  const before = snapshotTree(p.project, { mtime: true });
  const dry = await runCli(["--source", p.source, "--dry-run", "--json"], { cwd: p.project, timeoutMs: 120_000 });
  const real = await runCli(["--source", p.source, "--json"], { cwd: p.project, timeoutMs: 120_000 });
  assert.is(real.code, EXIT.preflight, real.stdout + real.stderr);
  assert.is(dry.code, EXIT.preflight, dry.stdout + dry.stderr);
  const [d, r] = [resultOf(dry), resultOf(real)];
  assert.equal(errorsOf(d), errorsOf(r));
  assert.equal(errorsOf(d).map((f) => f.code).sort(), ["SERVER_CANNOT_START", "VENV_MISSING"]);
  assert.equal([d.error.code, d.error.message], [r.error.code, r.error.message]);
  assert.equal(snapshotTree(p.project, { mtime: true }), before);
});

test("the dry run's plan covers the server swap, the requirements diff, the launch entry and .gitignore", async () => {
  const p = await trackedProject(projects, {});
  const before = snapshotTree(p.project, { mtime: true });
  const r = await runCli(["--source", p.source, "--dry-run", "--json"], { cwd: p.project, timeoutMs: 180_000 });
  assert.is(r.code, EXIT.ok, r.stdout + r.stderr);
  assert.equal(snapshotTree(p.project, { mtime: true }), before);
  const plan = resultOf(r).plan;
  const live = (rel: string) => fs.existsSync(path.join(p.install, rel));
  const swap = plan.server_swap as { added: string[]; removed: string[]; changed: string[] };
  assert.ok(swap.added.length + swap.changed.length > 0, JSON.stringify(swap));
  for (const f of swap.added) assert.not.ok(live(f), `${f} is new`);
  for (const f of [...swap.changed, ...swap.removed]) assert.ok(live(f), `${f} is installed`);
  assert.ok([...swap.added, ...swap.changed, ...swap.removed].every((f) => /^(mcp_server|scripts)\//.test(f)));
  const req = plan.requirements as { file: string; install_needed: boolean; diff: string };
  assert.is(req.file, "mcp_server/requirements.txt");
  assert.is(req.install_needed, true);
  assert.match(req.diff, /^\+aou-fixture-[\w-]+/m, req.diff);
  const [m] = plan.launch_migrations as Array<{ file: string; server: string; status: string; before: string[]; after?: string[] }>;
  assert.equal({ file: m.file, server: m.server, status: m.status, before: m.before }, { file: ".cursor/mcp.json", server: "agent-os-rag", status: "applied", before: ["-m", "mcp_server"] });
  assert.equal(m.after, ["-m", "mcp_server", "--transport", "dual"]);
  assert.ok(Array.isArray(plan.gitignore.add));

  const human = await runCli(["--source", p.source, "--dry-run"], { cwd: p.project, timeoutMs: 180_000 });
  assert.is(human.code, EXIT.ok, human.stdout + human.stderr);
  assert.match(human.stdout, /^Server swap: \d+ changed, \d+ added, \d+ removed$/m);
  assert.match(human.stdout, /^Requirements \(mcp_server\/requirements\.txt\): changed: pip installs them into the venv in phase 3$/m);
  assert.match(human.stdout, /^Launch entry \.cursor\/mcp\.json \(Cursor\) "agent-os-rag": migrated: args \["-m","mcp_server"\] → \["-m","mcp_server","--transport","dual"\]$/m);
});

test.run();
