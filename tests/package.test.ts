/**
 * The npm package carries the demo: `npm run build && npm pack`, then the packed CLI runs
 * `agent-os-upgrade demo` to its end with no network (npm `--offline`, Deno
 * `--cached-only`; the demo's pip reads only its local wheels). On Node through
 * `npx --package=<tgz>`, as the README says; on Deno through the packed bin.
 *
 * npm's cache for this test is a folder of its own under node_modules/.cache (not the temp
 * dir: it is kept between runs, so only a first run on a machine downloads the
 * dependencies); its `_npx` installs are removed before and after.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { REPO, RUNTIME } from "./helpers/cli.ts";
import { tmpDir } from "./helpers/temp.ts";
import { makeProject, makeSource } from "./helpers/project.ts";

const test = suite("package");

const NPM_CACHE = path.join(REPO, "node_modules", ".cache", "aou-package-test");
const NPX_INSTALLS = path.join(NPM_CACHE, "_npx");

interface Run {
  code: number | null;
  out: string;
}

function run(cmd: string, args: string[], cwd: string, timeoutMs = 300_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd,
      env: { ...process.env, npm_config_cache: NPM_CACHE, npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false", DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** `npm run build && npm pack` into `dir`; returns the tarball's path. */
async function buildAndPack(dir: string): Promise<string> {
  const build = await run("npm", ["run", "build"], REPO);
  assert.is(build.code, 0, build.out);
  const pack = await run("npm", ["pack", "--silent", "--pack-destination", dir], REPO);
  assert.is(pack.code, 0, pack.out);
  return path.join(dir, pack.out.trim().split("\n").pop()!);
}

test.after(() => fs.rmSync(NPX_INSTALLS, { recursive: true, force: true }));

let tgz = "";

test(`npm pack → the packed CLI runs the demo offline on ${RUNTIME}`, async () => {
  fs.rmSync(NPX_INSTALLS, { recursive: true, force: true });
  const dir = tmpDir("package");
  tgz = await buildAndPack(dir);
  const listing = await run("tar", ["tzf", tgz], dir);
  const files = listing.out.split("\n");
  for (const f of ["package/dist/app/bin.js", "package/dist/demo/run.js", "package/dist/demo/kit/make_wheel.py", "package/dist/demo/kit/mcp-fixture/common/_common.py", "package/dist/demo/kit/dist-fixture/ouroboros/__main__.py", "package/dist/demo/kit/dist-fixture/ouroboros-v2/release.py", "package/dist/demo/assets/universal-ced34ea.tar.gz", "package/dist/demo/assets/universal-395aab3.tar.gz"]) {
    assert.ok(files.includes(f), `${f} is in the package`);
  }
  assert.equal(files.filter((f) => f.startsWith("package/tests/") || f.startsWith("package/dist/tests/")), [], "no tests in the package");

  // Install (from the registry only when this machine's test cache lacks a dependency) …
  const install = await run("npx", ["--yes", "--prefer-offline", `--package=${tgz}`, "agent-os-upgrade", "--version"], dir);
  assert.is(install.code, 0, install.out);
  assert.is(install.out.trim(), "0.1.0");
  // … then the demo, with npm forbidden to reach the network.
  const demo = RUNTIME === "node"
    ? await run("npx", ["--yes", "--offline", `--package=${tgz}`, "agent-os-upgrade", "demo"], dir)
    : await run(path.join(REPO, "node_modules/.bin/deno"), ["run", "--cached-only", "-A", packedBin(), "demo"], dir);
  assert.is(demo.code, 0, demo.out);
  assert.match(demo.out, "installation after the automatic rollback is byte-identical to before act 2: yes");
  assert.match(demo.out, "Demo finished: one upgrade completed, one failed and was rolled back exactly.");
});

/** The packed CLI in `cwd`, offline: through npx on Node, the installed bin on Deno. */
function packedCli(args: string[], cwd: string): Promise<Run> {
  return RUNTIME === "node"
    ? run("npx", ["--yes", "--offline", `--package=${tgz}`, "agent-os-upgrade", ...args], cwd)
    : run(path.join(REPO, "node_modules/.bin/deno"), ["run", "--cached-only", "-A", packedBin(), ...args], cwd);
}

test(`a third-party plugin against the packed package (${RUNTIME}): zod from the package, its own finding and evidence, a built-in's channel and reader`, async () => {
  assert.ok(tgz, "the package was built by the test above");
  const root = tmpDir("package-plugin");
  const src = makeSource(path.join(root, "src"));
  const proj = makeProject(path.join(root, "proj"));
  // The example exactly as the repository ships it, beside a config that imports it.
  fs.mkdirSync(path.join(proj.dir, "plugins"));
  fs.copyFileSync(path.join(REPO, "examples/plugin/release-notes.ts"), path.join(proj.dir, "plugins/release-notes.ts"));
  fs.writeFileSync(path.join(proj.dir, "upgrade.config.ts"), `import { defineConfig } from "agent-os-upgrade";
import { releaseNotesPlugin } from "./plugins/release-notes.ts";
export default defineConfig({ plugins: [releaseNotesPlugin()] });
`);
  const flags = ["--source", src.dir, "--json", "--no-validate", "--skip-deps", "--no-restart", "--on-conflict", "theirs"];

  // Without the notes: its pre-flight finding refuses the run, attributed to it, nothing written.
  const refused = await packedCli(flags, proj.dir);
  assert.is(refused.code, 4, refused.out);
  const r1 = JSON.parse(refused.out.trim().split("\n").filter((l) => l.startsWith("{")).pop()!);
  const finding = r1.findings.find((f: { code: string }) => f.code === "RELEASE_NOTES_MISSING");
  assert.equal(finding, { level: "error", code: "RELEASE_NOTES_MISSING", message: "Cannot upgrade without RELEASE_NOTES.md", fix: "Write RELEASE_NOTES.md in the project root, saying what this upgrade brings", plugin: "release-notes" });

  fs.writeFileSync(path.join(proj.dir, "RELEASE_NOTES.md"), "# Notes\nThe new standards.\n");
  const done = await packedCli(flags, proj.dir);
  assert.is(done.code, 0, done.out);
  const r2 = JSON.parse(done.out.trim().split("\n").filter((l) => l.startsWith("{")).pop()!);
  const state = JSON.parse(fs.readFileSync(path.join(proj.install, ".cache/state", `${r2.session_id}.json`), "utf8"));
  // Its evidence, under its name, passed its gate.
  assert.equal(state.phases["0"].evidence["release-notes"], { notes_found: true, notes_bytes: 27 });
  // The backup plugin backed up what it added to the backup scope (the channel).
  const manifest = fs.readFileSync(path.join(r2.backup_path, "MANIFEST.json"), "utf8");
  assert.match(manifest, "RELEASE_NOTES.md");
  fs.rmSync(root, { recursive: true, force: true });
});

/** The bin of the package npx installed (the only install in this test's `_npx`). */
function packedBin(): string {
  const [hash, ...more] = fs.readdirSync(NPX_INSTALLS);
  assert.equal(more, [], "one npx install");
  return path.join(NPX_INSTALLS, hash, "node_modules", "agent-os-upgrade", "dist", "app", "bin.js");
}

test.run();
