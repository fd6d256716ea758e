// Issue 23 with issue 19's flow: a bot migrates the project in CI (`migrate --ci --yes
// --pr-body`), the pull request is merged, and a teammate whose clone has the old venv pulls
// it. Their `.agent-os/` then holds only what git ignores (the old venv): `status` names the
// new folder and says the runtime is behind, `sync` makes `.praxis-os/venv` and validates the
// server through the committed launch entry, writing nothing git tracks.
import fs from "node:fs";
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fixtureRequirements } from "../demo/kit/fixture-server.ts";
import { createVenv } from "../demo/kit/venv.ts";
import { resultOf, runCli } from "./helpers/cli.ts";
import { migrateProject } from "./helpers/migrate-project.ts";
import { git } from "./helpers/project.ts";
import { removeTemps } from "./helpers/temp.ts";

const T = 240_000;
const commit = (dir: string, msg: string) => git(dir, "-c", "user.name=bot", "-c", "user.email=bot@example.invalid", "commit", "-qm", msg);

test("a bot's migration pull request, then a teammate's pull: status says behind, sync makes .praxis-os/venv and validates, git sees nothing written", async () => {
  const p = await migrateProject();
  fs.appendFileSync(path.join(p.project, ".gitignore"), "__pycache__/\n");
  git(p.project, "init", "-q");
  git(p.project, "add", "-A");
  commit(p.project, "Agent OS installed");
  const mate = path.join(p.root, "mate");
  git(p.root, "clone", "-q", p.project, mate);
  await createVenv(path.join(mate, ".agent-os/venv"), { packages: fixtureRequirements("v1"), wheelhouse: p.wheelhouse });

  const body = path.join(p.root, "pr.md");
  const r = await runCli(["migrate", "--ci", "--yes", "--json", "--source", p.source, "--pr-body", body], { cwd: p.project, timeoutMs: T });
  assert.is(r.code, 0, r.stdout + r.stderr);
  const pr = fs.readFileSync(body, "utf8");
  assert.ok(pr.startsWith("# Move Agent OS to praxis-os "), pr.slice(0, 200));
  assert.match(pr, "- Moved: `.agent-os/` → `.praxis-os/` (agent-os-enhanced → praxis-os-2025-10)");
  assert.match(pr, "agent-os-upgrade sync");
  assert.match(pr, "Your clone's `.agent-os/` then holds only what git ignores there");
  git(p.project, "add", "-A");
  commit(p.project, "Move Agent OS to praxis-os (bot)");

  git(mate, "pull", "-q");
  assert.equal(fs.readdirSync(path.join(mate, ".agent-os")), ["venv"]);
  const st = await runCli(["status"], { cwd: mate, timeoutMs: T });
  assert.is(st.code, 0, st.stderr);
  assert.match(st.stdout, `Installation: ${path.join(mate, ".praxis-os")}`);
  assert.match(st.stdout, "the installation moved to .praxis-os/ and its venv is still at .agent-os/venv; run `agent-os-upgrade sync`");

  const s = await runCli(["sync", "--json", "--yes"], { cwd: mate, timeoutMs: T });
  assert.is(s.code, 0, s.stdout + s.stderr);
  const res = resultOf(s);
  assert.equal(res.phases.map((x: { status: string }) => x.status), ["completed", "completed", "skipped", "completed", "completed", "completed"]);
  assert.match(fs.readFileSync(path.join(mate, ".praxis-os/venv/pyvenv.cfg"), "utf8"), path.join(mate, ".praxis-os"));
  assert.is(git(mate, "status", "--porcelain"), "", "nothing git tracks was written");
  const again = await runCli(["status"], { cwd: mate, timeoutMs: T });
  assert.not.match(again.stdout, "Runtime behind");
  removeTemps();
});

test.run();
