/**
 * What a model reads when its client shows it only the text of a tool result: the refusal's
 * findings with their fixes, the conflicts with their three-way views, `validation: skipped`,
 * the installation, from → to, and the next step in terms of the tools. Real server, official
 * client, real stdio, a real project (real git source, venv, fixture MCP server). Assertions
 * read `content[0].text` only; the second text block must be the structured result as JSON.
 */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { connectUpgradeServer, createUpgradeProject, EDITED, type UpgradeProject, type UpgradeServer, USER_LINE } from "./helpers/mcp-upgrade-project.ts";

const test = suite("mcp-text");

let p: UpgradeProject;
const servers: UpgradeServer[] = [];

test.before(async () => {
  p = await createUpgradeProject();
});

test.after(async () => {
  for (const s of servers) await s.close().catch(() => {});
  p?.cleanup();
});

async function server(extra: string[] = []): Promise<UpgradeServer> {
  const s = await connectUpgradeServer(p.project, extra);
  servers.push(s);
  return s;
}

/** The result's first text block, after checking that the second one is its structured content as JSON. */
async function textOf(s: UpgradeServer, name: string, args: Record<string, unknown>): Promise<string> {
  const r = await s.client.callTool({ name, arguments: args }, undefined, { timeout: 180_000, resetTimeoutOnProgress: true });
  const blocks = r.content as Array<{ type: string; text: string }>;
  assert.is(r.isError ?? false, false, blocks[0]?.text);
  assert.is(blocks.length, 2);
  assert.equal(JSON.parse(blocks[1].text), r.structuredContent, "the JSON in text is the structured content");
  return blocks[0].text;
}

test("a refusal's text lists every finding with its fix above the error, and the next step in tool terms", async () => {
  const s = await server();
  const missing = path.join(p.root, "no-such-source");
  const text = await textOf(s, "upgrade_start", { source: missing });
  const lines = text.split("\n");
  assert.is(lines[0], "refused");
  const errorAt = lines.findIndex((l) => l.startsWith("Error [PREFLIGHT_FAILED]: "));
  const findings = lines.slice(0, errorAt).filter((l) => l.startsWith("error: "));
  assert.ok(findings.length >= 1, text);
  assert.ok(findings.some((l) => l.includes(missing)), text);
  for (const f of findings) assert.match(lines[lines.indexOf(f) + 1], /^  fix: \S/, `each finding carries its fix: ${f}`);
  assert.match(lines[lines.length - 1], /^next: Nothing was changed: .*upgrade_start/);
  assert.not.match(text, /--on-conflict|run on a terminal/);
});

test("needs_decision text: each conflict's three-way view (your change, upstream's, the merge) and what to call", async () => {
  const s = await server();
  const file = path.join(p.install, EDITED);
  const mine = fs.readFileSync(file, "utf8");
  fs.writeFileSync(file, mine.replace("Real parts wired together.", "Real parts wired together, no mocks."));
  try {
    const text = await textOf(s, "upgrade_start", { source: p.source });
    assert.match(text, /^needs_decision$/m);
    const at = (s: string) => {
      const i = text.indexOf(s);
      assert.ok(i >= 0, `"${s}" in:\n${text}`);
      return i;
    };
    const head = at(`conflict: ${EDITED} (changed locally and upstream)`);
    const yours = at("  your change (base → yours):");
    const upstream = at("  upstream's change (base → upstream):");
    const merged = at("  merged (what merge writes; 1 conflict marked):");
    assert.ok(head < yours && yours < upstream && upstream < merged, "in that order");
    const yourPart = text.slice(yours, upstream);
    assert.match(yourPart, `\n+${USER_LINE}\n`);
    assert.match(yourPart, "\n+Real parts wired together, no mocks.\n");
    assert.not.match(text.slice(upstream, merged), USER_LINE, "upstream's change never shows the user's line as removed");
    assert.match(text.slice(merged), "<<<<<<< local\nReal parts wired together, no mocks.\n=======\nReal parts wired together, real databases included.\n>>>>>>> upstream\n");
    assert.match(text, /^next: .*call upgrade_start again with decisions/m);
    assert.not.match(text, /--on-conflict|run on a terminal/, "no CLI advice for a model");
  } finally {
    fs.writeFileSync(file, mine);
  }
});

test("no_validate: the text says validation: skipped, names the installation and from → to, and lists no empty tool list", async () => {
  const s = await server();
  const text = await textOf(s, "upgrade_start", { source: p.source, no_validate: true });
  const lines = text.split("\n");
  assert.match(lines[0], /^completed \(session [0-9a-f-]{36}\)$/);
  assert.ok(lines.includes("installation: .agent-os"), text);
  assert.ok(lines.includes(`from ${p.commits[0]} (VERSION.txt) → ${p.commits[1]}`), text);
  assert.ok(lines.includes("validation: skipped (no_validate): the upgraded MCP server was NOT checked; tell the user to check it"), text);
  assert.ok(lines.some((l) => /^backup: \S+$/.test(l)), text);
  assert.ok(lines.includes(`decision: ${EDITED} → merge (clean merge): merged cleanly`), text);
  assert.not.match(text, /tools of the new server: *$/m);
});

test("--read-only serves a prompt that names only its own tools", async () => {
  const s = await server(["--read-only"]);
  const got = await s.client.getPrompt({ name: "upgrade-agent-os", arguments: { source: p.source } });
  const text = (got.messages[0].content as { text: string }).text;
  for (const tool of ["upgrade_status", "upgrade_plan", "backups_list"]) assert.match(text, tool);
  for (const tool of ["upgrade_start", "upgrade_continue", "upgrade_rollback"]) assert.not.match(text, tool);
});

test.run();
