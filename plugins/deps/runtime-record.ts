/**
 * Is this machine's runtime (venv, running server) behind the committed installation? An
 * install is committed in the project's git, its venv and server state are not: after a
 * teammate's upgrade is pulled, the venv may lack the new requirements and a running server
 * runs the old code. `agent-os-upgrade sync` brings the runtime up to date; `status` says
 * when it is behind.
 *
 * What this machine last synced is kept machine-local, in the git-ignored `.cache/`
 * (`runtime-sync.json`: the sha256 of the requirements file installed, of the server folder
 * validated, the venv's path and its site-packages' inode and mtime), never in the committed VERSION.txt (a write there would
 * be churn in every teammate's git). With no record, the venv itself is asked, through its
 * own interpreter (`importlib.metadata` against the requirements' specifiers), and a running
 * server's start time is compared with its code's — read, never guessed.
 *
 * Light on purpose (no zod, no zx): `status` reads it on its start-up path, and the deps and
 * validate plugins read its channel.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { defineChannel } from "../../core/channel.ts";
import { INSTALL_DIR_NAMES, type Layout } from "../../core/layout.ts";
import { pidAlive, processCmdline, processStartedMs } from "../../core/proc.ts";
import type { UpgradeContext } from "../../core/types.ts";
import { LAYOUTS } from "../layouts.ts";
import { detectInstallLayout } from "../layouts/detect.ts";
import { RECORD_NAME } from "./runtime-paths.ts";

export const SYNC_COMMAND = "agent-os-upgrade sync";

/** What a sync run hands the deps and validate plugins (set by the runtime-sync plugin). */
export interface RuntimeSyncPlan {
  /** The committed requirements file: installed from in place (the run's "source" is the installation). */
  requirements: string;
  /** Install it into the venv. */
  install: boolean;
  /** Make a new venv first (none here, or one made for another folder). */
  createVenv: boolean;
}
export const RuntimeSync = defineChannel<RuntimeSyncPlan>("runtime-sync.plan");
/** The sync plan of this run; undefined in an upgrade. */
export const runtimeSyncOf = (ctx: UpgradeContext): RuntimeSyncPlan | undefined => ctx.channels.get(RuntimeSync);

/** What a sync run does, decided before it starts and kept in its session (`options.plugin.runtimeSync`), so that `resume` finishes the same sync. */
export interface SyncPlan {
  requirements: string | null;
  requirementsSha: string | null;
  install: boolean;
  createVenv: boolean;
}
/** The run-option key a sync's session keeps its plan under (set by app/commands/sync.ts, not a flag). */
export const SYNC_PLAN_KEY = "runtimeSync";

/** The sync plan a session's options hold; null for an upgrade's session. */
export function syncPlanOf(options: { plugin?: Record<string, unknown> } | Record<string, unknown>): SyncPlan | null {
  const v = (options.plugin as Record<string, unknown> | undefined)?.[SYNC_PLAN_KEY] as SyncPlan | undefined;
  return v && typeof v === "object" && typeof v.install === "boolean" && typeof v.createVenv === "boolean" ? v : null;
}

export interface RuntimeRecord {
  schema_version: 1;
  /** null: the installation has no requirements file. */
  requirements_sha256: string | null;
  server_sha256: string;
  venv: string;
  /** The venv's site-packages folders as this sync left them (inode and mtime): a pip run or a restore since changes it, and the venv is asked again. */
  venv_stamp: string;
  synced_at: string;
}

export interface RuntimeCheck {
  behind: boolean;
  /** No venv, no record, no venv of a moved install: this machine never had a runtime for it (the install guide's job; `sync` makes one). */
  fresh: boolean;
  /** One short clause per reason, e.g. "the venv lacks aou-fixture-b". */
  reasons: string[];
  install: boolean;
  createVenv: boolean;
  /** The server's code changed since this machine last ran it: restart and validate. */
  serverChanged: boolean;
  requirements: string | null;
  requirementsSha: string | null;
  serverSha: string;
  record: RuntimeRecord | null;
}

const START_SLACK_MS = 1_000;
const SKIP = new Set(["__pycache__", ".DS_Store", ".pytest_cache", ".mypy_cache"]);
const sha = (b: string | Uint8Array) => createHash("sha256").update(b).digest("hex");

/** The server folder's files (byte-code left out), as one sha256 over sorted `path\0sha256` lines. */
export function hashServer(dir: string): string {
  const lines: string[] = [];
  const walk = (abs: string, rel: string) => {
    let names: string[];
    try {
      names = fs.readdirSync(abs).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (SKIP.has(name) || name.endsWith(".pyc")) continue;
      const a = path.join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(a);
      if (st.isDirectory()) walk(a, r);
      else if (st.isFile()) lines.push(`${r}\0${sha(fs.readFileSync(a))}`);
      else if (st.isSymbolicLink()) lines.push(`${r}\0->${fs.readlinkSync(a)}`);
    }
  };
  walk(dir, "");
  return sha(lines.join("\n"));
}

const newestMtime = (dir: string): number => {
  let newest = 0;
  const walk = (abs: string) => {
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
      if (SKIP.has(e.name) || e.name.endsWith(".pyc")) continue;
      const a = path.join(abs, e.name);
      if (e.isDirectory()) walk(a);
      else newest = Math.max(newest, fs.lstatSync(a).mtimeMs);
    }
  };
  try {
    walk(dir);
  } catch {
    return 0;
  }
  return newest;
};

export const recordFile = (layout: Layout): string => path.join(layout.cacheDir, RECORD_NAME);

export function readRecord(layout: Layout): RuntimeRecord | null {
  try {
    const r = JSON.parse(fs.readFileSync(recordFile(layout), "utf8"));
    return r && r.schema_version === 1 && typeof r.server_sha256 === "string" && typeof r.venv === "string" && typeof r.venv_stamp === "string" ? r as RuntimeRecord : null;
  } catch {
    return null; // absent or unreadable: the venv itself is asked
  }
}

/** Inode and mtime of each `lib/python3.N/site-packages` of the venv: what any install, uninstall or restore changes. */
export function venvStamp(venvDir: string): string {
  try {
    const lib = path.join(venvDir, "lib");
    return fs.readdirSync(lib).filter((n) => n.startsWith("python")).sort().map((n) => {
      const st = fs.statSync(path.join(lib, n, "site-packages"));
      return `${n}:${st.ino}:${st.mtimeMs}`;
    }).join(",");
  } catch {
    return "";
  }
}

/** The record of a runtime that matches the committed installation now. */
export function recordNow(layout: Layout, check: Pick<RuntimeCheck, "requirementsSha" | "serverSha">): RuntimeRecord {
  return { schema_version: 1, requirements_sha256: check.requirementsSha, server_sha256: check.serverSha, venv: layout.venvDir, venv_stamp: venvStamp(layout.venvDir), synced_at: new Date().toISOString() };
}

/** The folder a venv was made for, from `pyvenv.cfg`'s `command = … -m venv [opts] <dir>` (Python 3.11+); null when it does not say. */
export function venvMadeFor(venvDir: string): string | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(venvDir, "pyvenv.cfg"), "utf8");
  } catch {
    return null;
  }
  const command = /^command\s*=\s*(.+)$/m.exec(text)?.[1]?.trim();
  const dir = command ? /\s-m\s+venv\s+(?:--?\S+\s+)*(\S+)$/.exec(command)?.[1] : undefined;
  return dir ? path.resolve(dir) : null;
}

/** The base interpreter the first of these venvs was made with (`pyvenv.cfg` `home`), for making a new one; else `python3`. */
export function basePython(venvDirs: readonly string[]): string {
  for (const dir of venvDirs) {
    try {
      const home = /^home\s*=\s*(.+)$/m.exec(fs.readFileSync(path.join(dir, "pyvenv.cfg"), "utf8"))?.[1]?.trim();
      const py = home ? ["python3", "python"].map((n) => path.join(home, n)).find((p) => fs.existsSync(p)) : undefined;
      if (py) return py;
    } catch {
      // no venv there, or no pyvenv.cfg
    }
  }
  return "python3";
}

// Each active requirement against the venv's installed distributions, with the venv's own packaging (pip's vendored copy).
const PROBE = `
import json, sys
from importlib import metadata
try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement
out = []
for raw in open(sys.argv[1], encoding="utf-8"):
    line = raw.split(" #")[0].split("\\t#")[0].strip()
    if not line or line.startswith("#"):
        continue
    if line.startswith("-"):
        out.append(line + " (a pip option: cannot tell)")
        continue
    line = line.split(" --hash")[0].strip()
    try:
        req = Requirement(line)
    except Exception as e:
        out.append(line + " (cannot read it)")
        continue
    if req.marker is not None and not req.marker.evaluate():
        continue
    try:
        v = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        out.append(str(req))
        continue
    if req.specifier and not req.specifier.contains(v, prereleases=True):
        out.append(f"{req} (has {v})")
print(json.dumps(out))
`;

/** The requirements the venv does not satisfy, asked through its own interpreter; an error when it cannot answer. */
export function unsatisfied(python: string, requirements: string): { missing: string[] } | { error: string } {
  const r = spawnSync(python, ["-I", "-B", "-c", PROBE, requirements], { encoding: "utf8", timeout: 30_000 });
  if (r.error) return { error: r.error.message };
  if (r.status !== 0) return { error: (r.stderr || `exit ${r.status}`).trim().split("\n").at(-1)! };
  try {
    return { missing: JSON.parse(r.stdout) as string[] };
  } catch {
    return { error: `unexpected output: ${r.stdout.slice(0, 200)}` };
  }
}

/** A server of this installation running now (its state file's pid, alive, running this install's code), with its start time. */
function runningServer(installDir: string, module: string): { pid: number; startedMs: number | null } | null {
  try {
    const s = JSON.parse(fs.readFileSync(path.join(installDir, ".mcp_server_state.json"), "utf8"));
    const pid = Number(s?.pid);
    if (!pidAlive(pid)) return null;
    const cmd = processCmdline(pid) ?? "";
    if (!cmd.includes(`-m ${module}`) && !cmd.includes(installDir)) return null;
    return { pid, startedMs: processStartedMs(pid) };
  } catch {
    return null;
  }
}

const rel = (layout: Layout, p: string) => path.relative(layout.projectRoot, p) || ".";

/** The venv of the other install folder of this project (`.agent-os/venv` beside a migrated `.praxis-os/`), when it has one. */
export function siblingVenv(layout: Layout): string | null {
  const other = INSTALL_DIR_NAMES.map((n) => path.join(layout.projectRoot, n, "venv")).find((v) => v !== layout.venvDir && fs.existsSync(path.join(v, "bin", "python")));
  return other ?? null;
}

/** The requirements' side: a venv to make, requirements to install; `fresh` when this machine never had a runtime for it. */
function venvSide(layout: Layout, requirements: string | null, record: RuntimeRecord | null, reqSha: string | null) {
  const reasons: string[] = [];
  if (!requirements) return { reasons, install: false, createVenv: false, fresh: false };
  const python = path.join(layout.venvDir, "bin", "python");
  if (!fs.existsSync(python)) {
    const other = siblingVenv(layout);
    reasons.push(other ? `the installation moved to ${rel(layout, layout.installDir)}/ and its venv is still at ${rel(layout, other)}` : `there is no venv at ${rel(layout, layout.venvDir)}`);
    return { reasons, install: true, createVenv: true, fresh: !other && !record };
  }
  const madeFor = venvMadeFor(layout.venvDir);
  if (madeFor && madeFor !== path.resolve(layout.venvDir)) {
    reasons.push(`the venv at ${rel(layout, layout.venvDir)} was made for another folder (${madeFor})`);
    return { reasons, install: true, createVenv: true, fresh: false };
  }
  // The record answers when it matches; otherwise the venv itself (an upgrade run here may have installed them since).
  if (!record || record.venv !== layout.venvDir || record.requirements_sha256 !== reqSha || record.venv_stamp !== venvStamp(layout.venvDir)) {
    const asked = unsatisfied(python, requirements);
    if ("error" in asked) reasons.push(`cannot tell what the venv has (${asked.error})`);
    else if (asked.missing.length) reasons.push(`the venv lacks ${asked.missing.join(", ")}`);
  }
  return { reasons, install: reasons.length > 0, createVenv: false, fresh: false };
}

/** Where this machine's runtime stands against the committed installation. Reads only. */
export function checkRuntime(layout: Layout): RuntimeCheck {
  const decl = detectInstallLayout(layout.installDir)?.layout ?? LAYOUTS[0];
  const reqFile = path.join(layout.installDir, decl.server.requirements);
  const requirements = fs.existsSync(reqFile) ? reqFile : null;
  const requirementsSha = requirements ? sha(fs.readFileSync(requirements)) : null;
  const serverDir = path.join(layout.installDir, decl.server.folder);
  const serverSha = hashServer(serverDir);
  const record = readRecord(layout);
  const v = venvSide(layout, requirements, record, requirementsSha);
  const reasons = [...v.reasons];
  // Old code runs only in a server started before its files changed (the record, when it matches, says none did).
  let serverChanged = false;
  if (record?.server_sha256 !== serverSha) {
    const running = runningServer(layout.installDir, decl.server.module);
    // A start time is known to the second (boot time is whole seconds): a file changed within a second after it is not counted.
    serverChanged = running !== null && running.startedMs !== null && running.startedMs + START_SLACK_MS < newestMtime(serverDir);
    if (serverChanged) reasons.push(`the running MCP server (pid ${running!.pid}) started before its code (${decl.server.folder}/) changed`);
  }
  return { behind: reasons.length > 0, fresh: v.fresh, reasons, install: v.install, createVenv: v.createVenv, serverChanged, requirements, requirementsSha, serverSha, record };
}

/** `status`'s line when the runtime is behind; null when it is not. */
export function behindLine(check: RuntimeCheck): string | null {
  return check.behind && !check.fresh ? `Runtime behind the committed installation: ${check.reasons.join("; ")}; run \`${SYNC_COMMAND}\`` : null;
}
