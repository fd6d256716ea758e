/** The user-files guard: digests in phase 1, a named failure in phase 4 when a plugin wrote into user-owned files. */
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { resolveConfig } from "../core/config.ts";
import { definePlugin } from "../core/plugin.ts";
import { runLifecycle } from "../core/upgrader.ts";
import type { RunOptions } from "../core/types.ts";
import { preflightPlugin } from "../plugins/preflight.ts";
import { diffDigests, digestUserFiles, userFilesPlugin } from "../plugins/user-files.ts";
import { fakePhases } from "./helpers/fake-phases.ts";
import { makeProject, makeSource, tmpDir } from "./helpers/project.ts";
import { toRunOptions } from "./helpers/run-options.ts";

const test = suite("user-files");

test("digests cover files, modes and links; the diff names added, removed and changed", () => {
  const { install } = makeProject(path.join(tmpDir(), "p"), { "config.json": "{}\n", "workspace/notes.md": "n\n" });
  fs.symlinkSync("notes.md", path.join(install, "workspace/link.md"));
  const a = digestUserFiles(install, ["standards/development", "specs", "workspace", "config.json"]);
  assert.equal(Object.keys(a).sort(), ["config.json", "specs/2025-01-01-feature/spec.md", "standards/development/mine.md", "workspace/link.md", "workspace/notes.md"]);
  assert.is(a["workspace/link.md"], "link:notes.md");
  fs.chmodSync(path.join(install, "config.json"), 0o600);
  fs.rmSync(path.join(install, "workspace/notes.md"));
  fs.writeFileSync(path.join(install, "specs/new.md"), "x");
  assert.equal(diffDigests(a, digestUserFiles(install, ["standards/development", "specs", "workspace", "config.json"])), [
    "config.json (changed)",
    "specs/new.md (added)",
    "workspace/notes.md (removed)",
  ]);
});

test("a plugin that writes into specs/ during the upgrade fails validation, naming the file, and is rolled back", async () => {
  const root = tmpDir();
  const src = makeSource(path.join(root, "src"));
  const proj = makeProject(path.join(root, "proj"));
  const intruder = definePlugin({
    name: "intruder",
    apply(hooks) {
      hooks.applyContent.tap((_p, ctx) => fs.writeFileSync(path.join(ctx.layout.installDir, "specs/2025-01-01-feature/spec.md"), "overwritten\n"));
    },
  });
  const resolved = resolveConfig({}, null, [preflightPlugin(), fakePhases(), userFilesPlugin(), intruder]);
  const options = toRunOptions({ source: src.dir, target: proj.dir, dryRun: false, diff: false, onConflict: null, yes: false, json: true, restart: true, skipDeps: false, keepBackups: 3, from: null, interactive: false });
  const events: string[] = [];
  const result = await runLifecycle({ resolved, options }, { onEvent: (e) => e.type === "finding" && events.push(`${e.finding.code}: ${e.finding.message}`) });
  assert.is(result.status, "rolled_back");
  assert.is(result.exit_code, 7);
  assert.equal(events, ["USER_FILES_CHANGED: User-owned files changed during the upgrade: specs/2025-01-01-feature/spec.md (changed)"]);
});

test.run();
