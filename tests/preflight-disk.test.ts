/**
 * Pre-flight's disk-space estimate (issue 13): the plugins declare what they will back up and
 * write (plugins/preflight/disk.ts), and pre-flight sums that, once the plan is known. On a
 * real project the estimate must match what the upgrade really adds on disk (the backups
 * folder's growth plus the bytes it writes) within a factor of 1.5; too little free space
 * refuses before any write (exit 4, DISK_SPACE, one line with the fix).
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { REPO, resultOf, runCli } from "./helpers/cli.ts";
import { installUniversal, makeSourceRepo, type Tree } from "./helpers/content-project.ts";
import { treeDiff, treeHash } from "./helpers/crash.ts";
import { treeSize } from "../plugins/preflight/disk.ts";

const test = suite("preflight-disk");
const roots: string[] = [];
test.after.each(() => {
  for (const d of roots.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Text of `n` KiB that differs by `seed` (so no two files are alike). */
const text = (seed: string, kib: number) => Array.from({ length: kib * 16 }, (_, i) => `${seed} line ${i} ${"x".repeat(40)}\n`.slice(0, 64)).join("");

/** 40 standards of 16 KiB: upstream changes 12, deletes 4, adds 6, and ships a 256 KiB server file. */
function bigProject() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "aou-pfdisk-"));
  roots.push(root);
  const old: Tree = { "workflows/w/metadata.json": "{}\n", "usage/guide.md": "# Guide\n" };
  for (let i = 0; i < 40; i++) old[`standards/s${i}.md`] = text(`old ${i}`, 16);
  const next: Tree = { ...old };
  for (let i = 0; i < 12; i++) next[`standards/s${i}.md`] = text(`new ${i}`, 16);
  for (let i = 36; i < 40; i++) delete next[`standards/s${i}.md`];
  for (let i = 0; i < 6; i++) next[`standards/added${i}.md`] = text(`added ${i}`, 16);
  const source = path.join(root, "source");
  const commits = makeSourceRepo(source, [{ universal: old }, { universal: next, extra: { "mcp_server/data.txt": text("server", 256) } }]);
  const project = path.join(root, "project");
  installUniversal(project, old, { commit: commits[0] });
  const config = path.join(root, "disk.config.json");
  fs.writeFileSync(config, JSON.stringify({ disable: ["validate"] }));
  return { root, source, project, config };
}

const UPGRADE = (p: { source: string; config: string }) => ["--source", p.source, "--on-conflict", "theirs", "--yes", "--no-restart", "--skip-deps", "--config", p.config, "--json"];
const phase0 = (project: string, id: string) => JSON.parse(fs.readFileSync(path.join(project, ".agent-os/.cache/state", `${id}.json`), "utf8")).phases["0"].evidence.preflight;

test("the estimate is within 1.5× of what the backup really grew by plus the bytes written", async () => {
  const p = bigProject();
  const before = treeHash(p.project, false);
  const r = await runCli(UPGRADE(p), { cwd: p.project, timeoutMs: 120_000 });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const ev = phase0(p.project, resultOf(r).session_id);
  const estimate = Object.values(ev.disk_space_needs as Record<string, number>).reduce((a, b) => a + b, 0);
  assert.is(ev.disk_space_required, 2 * estimate);
  // Written: every file of the upgraded tree that is new or changed (the staged server copy is now mcp_server/).
  const after = treeHash(p.project, false);
  const written = treeDiff(before, after).filter((d) => !d.startsWith("missing "))
    .map((d) => path.join(p.project, d.replace(/^(changed|extra) /, "")))
    .filter((f) => fs.statSync(f).isFile())
    .reduce((n, f) => n + fs.statSync(f).size, 0);
  const backedUp = treeSize(path.join(p.project, ".agent-os/.backups"));
  const actual = written + backedUp;
  console.log(`\n  disk estimate ${estimate} B (${JSON.stringify(ev.disk_space_needs)}); actual ${actual} B (backups ${backedUp} + written ${written}); ratio ${(estimate / actual).toFixed(2)}`);
  assert.ok(estimate >= actual / 1.5 && estimate <= actual * 1.5, `estimate ${estimate} vs actual ${actual}`);
  // The old folder-sum counted every standard and the whole server: the estimate counts what changes.
  assert.ok(ev.disk_space_needs["backup: backup"] < 40 * 16 * 1024, JSON.stringify(ev.disk_space_needs));
});

test("too little free space refuses before any write: exit 4, DISK_SPACE with the fix, tree untouched", async () => {
  const p = bigProject();
  fs.writeFileSync(p.config.replace(/json$/, "ts"), `import { preflightPlugin } from ${JSON.stringify(path.join(REPO, "plugins/mod.ts"))};\nexport default { disable: ["validate"], plugins: [preflightPlugin({ diskFactor: 1e9 })] };\n`);
  const before = treeHash(p.project, false);
  const r = await runCli(UPGRADE({ source: p.source, config: p.config.replace(/json$/, "ts") }), { cwd: p.project, timeoutMs: 120_000 });
  assert.is(r.code, 4, r.stdout + r.stderr);
  const res = resultOf(r);
  const errors = res.findings.filter((f: { level: string }) => f.level === "error");
  assert.equal(errors.map((f: { code: string }) => f.code), ["DISK_SPACE"]);
  assert.match(errors[0].message, /^Not enough free disk space on .*: [\d.]+ MB free, [\d.]+ MB needed \(1000000000 × [\d.]+ MB: session records 0\.1 MB, backup [\d.]+ MB, new content 0\.2 MB, staged server code 0\.2 MB\)$/);
  assert.match(errors[0].fix, "agent-os-upgrade backups prune");
  assert.equal(treeDiff(before, treeHash(p.project, false)), []);
  assert.is(fs.existsSync(path.join(p.project, ".agent-os/.backups")), false);
  assert.is(fs.existsSync(path.join(p.project, ".agent-os/.cache")), false);
});

test.run();
