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

test(`npm pack → the packed CLI runs the demo offline on ${RUNTIME}`, async () => {
  fs.rmSync(NPX_INSTALLS, { recursive: true, force: true });
  const dir = tmpDir("package");
  const tgz = await buildAndPack(dir);
  const listing = await run("tar", ["tzf", tgz], dir);
  const files = listing.out.split("\n");
  for (const f of ["package/dist/app/bin.js", "package/dist/demo/run.js", "package/dist/demo/kit/make_wheel.py", "package/dist/demo/kit/mcp-fixture/common/_common.py", "package/dist/demo/assets/universal-ced34ea.tar.gz", "package/dist/demo/assets/universal-395aab3.tar.gz"]) {
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

/** The bin of the package npx installed (the only install in this test's `_npx`). */
function packedBin(): string {
  const [hash, ...more] = fs.readdirSync(NPX_INSTALLS);
  assert.equal(more, [], "one npx install");
  return path.join(NPX_INSTALLS, hash, "node_modules", "agent-os-upgrade", "dist", "app", "bin.js");
}

test.run();
