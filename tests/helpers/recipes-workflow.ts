/**
 * A GitHub Actions job executed here as the runner executes it, as far as the recipe needs:
 * steps in order; `run:` with GitHub's default Linux shell (`bash --noprofile --norc -eo
 * pipefail`), in the workspace, with the job's and step's `env`, RUNNER_TEMP, GITHUB_OUTPUT
 * and GITHUB_WORKSPACE; `${{ … }}` context lookups (vars, runner, steps, github); `if:` as
 * `<lookup> == '<text>'`; a failing step stops the job. The runner's own setup (checkout,
 * setup-node, installing the tool) is provided by the test: the workspace is a clone and the
 * tool is the shim on PATH. Other `uses:` steps are recorded with their resolved inputs.
 * Anything else the recipe might use is refused, so the runner never guesses.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

// js-yaml comes with cosmiconfig (a pinned dependency of ours); YAML 1.2, so `on:` stays a key.
const yaml = createRequire(import.meta.url)("js-yaml") as { load(text: string): unknown };

export interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, string | number>;
  env?: Record<string, string>;
  shell?: string;
}

export interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, { "runs-on": string; env?: Record<string, string>; steps: Step[] }>;
}

export const parseWorkflow = (text: string): Workflow => yaml.load(text) as Workflow;

/** The one step that installs the tool: the test's shim stands in for what it installs. */
export const INSTALL_STEP = 'npm install --global "$AGENT_OS_UPGRADE_PACKAGE"';
const PROVIDED_ACTIONS = /^actions\/(checkout|setup-node)@v\d+$/;

export interface WorkflowRun {
  /** Names of the steps that ran (the provided setup steps left out). */
  ran: string[];
  failedStep: string | null;
  failedCode: number | null;
  /** Every run step's output, in order. */
  log: string;
  /** The `uses:` steps that ran, with their inputs resolved. */
  actions: Record<string, { uses: string; with: Record<string, string> }>;
  runnerTemp: string;
}

export interface WorkflowOptions {
  workspace: string;
  /** Where RUNNER_TEMP is made. */
  root: string;
  shimBin: string;
  /** Environment the machine has (e.g. the source cache). */
  env: Record<string, string>;
  vars: Record<string, string>;
}

type Ctx = Record<string, Record<string, unknown>>;

function lookup(ctx: Ctx, expr: string): string {
  if (!/^[a-z]+(\.[\w-]+)+$/.test(expr)) throw new Error(`Unsupported expression in the recipe: ${expr}`);
  let v: unknown = ctx;
  for (const k of expr.split(".")) v = v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
  if (!(expr.split(".")[0] in ctx)) throw new Error(`Unknown context in the recipe: ${expr}`);
  return v === undefined || v === null ? "" : String(v);
}

const resolve = (ctx: Ctx, s: string | number): string => String(s).replace(/\$\{\{\s*(.+?)\s*\}\}/g, (_, e: string) => lookup(ctx, e));

function condition(ctx: Ctx, expr: string | undefined): boolean {
  if (expr === undefined) return true;
  const m = /^([\w.-]+)\s*==\s*'([^']*)'$/.exec(expr.trim());
  if (!m) throw new Error(`Unsupported if: in the recipe: ${expr}`);
  return lookup(ctx, m[1]) === m[2];
}

function runStep(script: string, cwd: string, env: NodeJS.ProcessEnv, file: string): Promise<{ code: number | null; out: string }> {
  fs.writeFileSync(file, script);
  return new Promise((done) => {
    const child = spawn("bash", ["--noprofile", "--norc", "-eo", "pipefail", file], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    child.on("close", (code) => done({ code, out }));
  });
}

function readOutputs(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!fs.existsSync(file)) return out;
  for (const line of fs.readFileSync(file, "utf8").split("\n").filter(Boolean)) {
    if (line.includes("<<")) throw new Error(`Multiline outputs are not supported by this runner: ${line}`);
    out[line.slice(0, line.indexOf("="))] = line.slice(line.indexOf("=") + 1);
  }
  return out;
}

/** Runs the workflow's one job in the workspace. */
export async function runWorkflow(text: string, o: WorkflowOptions): Promise<WorkflowRun> {
  const jobs = Object.values(parseWorkflow(text).jobs);
  if (jobs.length !== 1) throw new Error("The recipe has one job");
  const job = jobs[0];
  const runnerTemp = fs.mkdtempSync(path.join(o.root, "runner-temp-"));
  const ctx: Ctx = { vars: o.vars, runner: { temp: runnerTemp, os: "Linux" }, steps: {}, github: { workspace: o.workspace } };
  const jobEnv = Object.fromEntries(Object.entries(job.env ?? {}).map(([k, v]) => [k, resolve(ctx, v)]));
  const res: WorkflowRun = { ran: [], failedStep: null, failedCode: null, log: "", actions: {}, runnerTemp };
  for (const [i, step] of job.steps.entries()) {
    const name = step.name ?? step.uses ?? `step ${i}`;
    if ((step.uses && PROVIDED_ACTIONS.test(step.uses)) || step.run?.trim() === INSTALL_STEP) continue;
    if (!condition(ctx, step.if)) continue;
    res.ran.push(name);
    if (step.uses) {
      res.actions[name] = { uses: step.uses, with: Object.fromEntries(Object.entries(step.with ?? {}).map(([k, v]) => [k, resolve(ctx, v)])) };
      continue;
    }
    if (step.shell) throw new Error(`A step's own shell is not supported by this runner: ${step.shell}`);
    const output = path.join(runnerTemp, `output-${i}`);
    const env = {
      ...process.env, ...o.env, ...jobEnv,
      ...Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, resolve(ctx, v)])),
      PATH: `${o.shimBin}${path.delimiter}${process.env.PATH}`,
      CI: "true", GITHUB_ACTIONS: "true", GITHUB_WORKSPACE: o.workspace, RUNNER_TEMP: runnerTemp, GITHUB_OUTPUT: output, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1",
    };
    const r = await runStep(resolve(ctx, step.run ?? ""), o.workspace, env, path.join(runnerTemp, `step-${i}.sh`));
    res.log += `--- ${name} (exit ${r.code})\n${r.out}`;
    if (step.id) ctx.steps[step.id] = { outputs: readOutputs(output), outcome: r.code === 0 ? "success" : "failure" };
    if (r.code !== 0) {
      res.failedStep = name;
      res.failedCode = r.code;
      break;
    }
  }
  return res;
}

/** The lines of the workflow's run steps that call the tool (without a trailing `|| …`). */
export function workflowCliLines(text: string): string[] {
  const job = Object.values(parseWorkflow(text).jobs)[0];
  return job.steps.flatMap((s) => (s.run ?? "").split("\n"))
    .map((l) => l.trim())
    .filter((l) => l.startsWith("agent-os-upgrade "))
    .map((l) => l.replace(/\s+\|\|.*$/, ""));
}
