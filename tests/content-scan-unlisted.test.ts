/**
 * A mapped folder the scan cannot list part of: the scan visits entries as readdir lists them,
 * so when a folder deep in the walk cannot be listed, what that folder's walk had added must be
 * taken back — the whole mapped folder is one problem, never a partial list that would plan
 * the unlisted files as deleted. Files of other mapped folders stay. As root no chmod hides a
 * folder, so the unlistable one is real another way: its absolute path is longer than PATH_MAX
 * (4096 bytes), made one relative mkdir at a time; readdir fails with ENAMETOOLONG.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { Mapping } from "../plugins/content/options.ts";
import { PathMap } from "../plugins/content/paths.ts";
import { scanLocal } from "../plugins/content/scan.ts";
import { removeTemps, tmpDir } from "./helpers/temp.ts";

const test = suite("content-scan-unlisted");
const deep: string[] = [];
test.after.each(() => {
  // rm -rf descends by relative paths, so it removes a tree deeper than PATH_MAX (fs.rmSync may not).
  for (const d of deep.splice(0)) execFileSync("rm", ["-rf", d]);
  removeTemps();
});

test("a folder deep in a mapped folder that cannot be listed: that mapped folder is one problem with no files; the other keeps its files", async () => {
  const install = tmpDir("scan-unlisted");
  deep.push(install);
  const write = (rel: string) => {
    fs.mkdirSync(path.dirname(path.join(install, rel)), { recursive: true });
    fs.writeFileSync(path.join(install, rel), `${rel}\n`);
  };
  write("standards/universal/a.md");
  write("standards/universal/b/c.md");
  write("workflows/w.md");
  // 20 levels of 200-byte names under standards/universal/deep: past PATH_MAX from the root.
  execFileSync("bash", ["-c", `cd standards/universal && mkdir deep && cd deep && for i in $(seq 20); do d=$(printf 'x%.0s' $(seq 200)); mkdir $d && cd $d; done && echo hidden > f.md`], { cwd: install });
  const mappings: Mapping[] = [
    { from: "universal/standards", to: "standards/universal", owner: "system", mode: "three-way" },
    { from: "universal/workflows", to: "workflows", owner: "system", mode: "three-way" },
  ];
  const r = await scanLocal(install, mappings, new PathMap(mappings), () => false, () => false);
  assert.equal([...r.files.keys()].sort(), ["workflows/w.md"]);
  assert.is(r.problems.length, 1, JSON.stringify(r.problems));
  assert.is(r.problems[0].code, "CONTENT_PLAN_ERROR");
  assert.is(r.problems[0].target, "standards/universal");
  assert.match(r.problems[0].message, /^Cannot list .*ENAMETOOLONG/);
});

test.run();
