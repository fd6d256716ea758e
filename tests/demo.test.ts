/** The main job, end to end with every built-in plugin: the demo's two acts must end as promised. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runDemo } from "../demo/run.ts";

test("the demo: an upgrade completes with a merged user edit, a broken server is rolled back exactly", async () => {
  const lines: string[] = [];
  const code = await runDemo({ sink: { out: (l) => lines.push(l), err: (l) => lines.push(l) } });
  const text = lines.join("\n");
  assert.is(code, 0, text);
  assert.match(text, "tools registered by the new server: get_server_info, list_workflows, search_standards");
  assert.match(text, ".cursor/mcp.json args now: -m mcp_server --transport dual");
  assert.match(text, "was merged: yes");
  assert.match(text, "byte-identical to before act 2: yes");
});

test("the demo on praxis-os's dist/ layout: every agent's entry started, the user's config kept, rolled back exactly", async () => {
  const lines: string[] = [];
  const code = await runDemo({ layout: "praxis-os-dist", sink: { out: (l) => lines.push(l), err: (l) => lines.push(l) } });
  const text = lines.join("\n");
  assert.is(code, 0, text);
  assert.match(text, "layout: praxis-os-dist; launch entries started by validation: Cursor ok, Cline ok, Claude Code (VS Code) ok, Claude Code CLI ok, Copilot ok");
  assert.match(text, "your partition in config/mcp.yaml kept: yes");
  assert.match(text, "byte-identical to before act 1: yes");
});

test.run();
