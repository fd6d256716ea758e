/**
 * The repository stands alone: a clone into an empty folder (no sibling fixture folder or anything
 * else beside it) holds every fixture the suite, the benches and the demo read, and the
 * suite's own fixture loading works from it. `node_modules` is linked in, standing for the
 * `npm ci` a fresh clone gets; nothing else comes from this checkout.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { REPO } from "./helpers/cli.ts";
import { tmpDir } from "./helpers/temp.ts";

const test = suite("standalone");

/** Files of a folder, recursively, relative and sorted. */
function filesUnder(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

// The sibling folder the project was started from; spelled in parts so this file names it nowhere.
const SIBLING_NAME = ["sha", "red"].join("");
const SIBLING = `\\.\\./${SIBLING_NAME}`;

test("a clone into an empty folder loads the suite's fixtures from itself, and nothing reads a sibling fixture folder", async () => {
  const empty = tmpDir("clone");
  const clone = path.join(empty, "agent-os-upgrade");
  execFileSync("git", ["clone", "-q", "--no-hardlinks", REPO, clone], { stdio: "ignore" });
  fs.symlinkSync(path.join(REPO, "node_modules"), path.join(clone, "node_modules"), "dir");
  assert.equal(fs.readdirSync(empty), ["agent-os-upgrade"], "nothing beside the clone");

  // No tracked file names the old sibling folder (this test excepted, which must name it).
  const grep = (() => {
    try {
      return execFileSync("git", ["grep", "-n", "-e", SIBLING, "-e", `${SIBLING_NAME}/fixtures`, "--", ".", ":!tests/standalone.test.ts"], { cwd: clone, encoding: "utf8" });
    } catch (err) {
      if ((err as { status?: number }).status === 1) return ""; // no match
      throw err;
    }
  })();
  assert.is(grep, "");

  // The suite's own loaders, imported from the clone: the content tests' release() and the
  // backup tests' and benches' generateInstall().
  const content = await import(pathToFileURL(path.join(clone, "tests/helpers/content-project.ts")).href);
  const assets = await import(pathToFileURL(path.join(clone, "demo/kit/assets.ts")).href);
  assert.ok(assets.releaseTarball(content.OLD).startsWith(clone + path.sep), assets.releaseTarball(content.OLD));
  const old = content.release(content.OLD);
  const files = filesUnder(old);
  // demo/assets/README.md: release ced34ea has 92 files, 395aab3 130.
  assert.is(files.length, 92);
  assert.ok(files.includes(".universal-manifest.json"));
  assert.is(filesUnder(content.release(content.NEW)).length, 130);

  const gen = await import(pathToFileURL(path.join(clone, "bench/gen-install.ts")).href);
  const project = path.join(empty, "project");
  gen.generateInstall(project, { files: 300, bytes: 1 << 20, venv: false });
  const installed = filesUnder(path.join(project, ".agent-os", "standards", "universal"));
  assert.equal(installed, filesUnder(path.join(old, "standards")));
});

test.run();
