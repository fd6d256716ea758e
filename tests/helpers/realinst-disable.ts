/**
 * One test per built-in for `disable: [name]` (issue 10 part 4): the upgrade either completes
 * end to end on a real project (real venv, the fixture MCP server v1 → v2) with exactly the
 * outcome that leaving the plugin out implies, or the config is refused before anything runs.
 */
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { SessionState } from "../../core/state.ts";
import type { UpgradeResult } from "../../core/types.ts";
import { hashTree } from "../../plugins/server/stage.ts";
import { fixtureServerDir, type ServerVersion } from "../../demo/kit/fixture-server.ts";
import type { McpProject } from "./mcp-project.ts";
import { ADDED_LATER, preinstall, realProject, realUpgrade } from "./realinst.ts";
import { pipFreeze } from "../../demo/kit/venv.ts";

export interface Run {
  p: McpProject;
  result: UpgradeResult;
  state: SessionState;
  /** One plugin's record of a phase (undefined when the plugin left none). */
  ev: (phase: number, owner: string) => Record<string, any> | undefined;
  serverIs: (v: ServerVersion) => Promise<void>;
  /** The content phase ran: the standard the later release added is installed. */
  contentUpgraded: () => boolean;
  /** `pip freeze` of the venv before the upgrade. */
  packagesBefore: string[];
  mcpJsonBefore: string;
}

const projects: McpProject[] = [];
test.after(() => {
  for (const p of projects) p.cleanup();
});

/** The warning a disabled safety plugin adds to the run, once. */
export function warnsOnce(r: Run, text: string): void {
  assert.equal(r.result.summary.warnings.filter((w) => w.includes(text)).length, 1, r.result.summary.warnings.join("\n"));
}

/** Registers the test: disable `name`, upgrade, the run completes, then `check` asserts what it implies. */
export function completesWithout(name: string, what: string, check: (r: Run) => Promise<void> | void, o: { preinstall?: string[] } = {}) {
  test(`disable: ["${name}"] completes end to end: ${what}`, async () => {
    const p = await realProject();
    projects.push(p);
    if (o.preinstall) await preinstall(p, o.preinstall);
    const packagesBefore = await pipFreeze(p.venv);
    const mcpJsonBefore = fs.readFileSync(p.mcpJson, "utf8");
    const result = await realUpgrade(p, { disable: [name] });
    assert.is(result.status, "completed", JSON.stringify(result.error));
    assert.is(result.exit_code, 0);
    const state = JSON.parse(fs.readFileSync(path.join(p.install, ".cache", "state", `${result.session_id}.json`), "utf8")) as SessionState;
    assert.equal(state.completed_phases, [0, 1, 2, 3, 4, 5]);
    await check({
      p,
      result,
      state,
      packagesBefore,
      mcpJsonBefore,
      ev: (phase, owner) => (state.phases[String(phase)]?.evidence as Record<string, Record<string, any>> | undefined)?.[owner],
      serverIs: async (v) => assert.equal(await hashTree(path.join(p.install, "mcp_server")), await hashTree(fixtureServerDir(v)), `mcp_server is ${v}`),
      contentUpgraded: () => fs.existsSync(path.join(p.install, "standards/universal", ADDED_LATER)),
    });
  });
}

export const summaryOf = (r: Run) => fs.readFileSync(r.result.report_path!, "utf8");
