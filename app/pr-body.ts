/**
 * `upgrade --pr-body <file>` (and `migrate --pr-body`): the Markdown a bot posts as the pull request's description —
 * from → to, what changed (grouped), the files to finish by hand, the launch entries migrated,
 * and what each teammate runs after merging. Read from the run's result (its plan and summary),
 * written atomically, never inside the installation.
 */
import fs from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "../core/atomic.ts";
import { UpgradeError } from "../core/errors.ts";
import { resolveLayout } from "../core/layout.ts";
import type { RunOptions, UpgradeResult } from "../core/types.ts";
import { layoutById } from "../plugins/layouts.ts";
import { reportOf } from "./check-plan.ts";

const realOrSelf = (p: string): string => {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
};

const inside = (dir: string, p: string): boolean => {
  const rel = path.relative(dir, p);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
};

/** The file `--pr-body` names, checked before anything runs: outside the installation, in a folder that exists. */
export function prBodyFile(given: string, cwd: string, target: string): string {
  const file = path.resolve(cwd, given);
  const install = resolveLayout(target).installDir;
  const hint = "Write it outside the installation, e.g. --pr-body \"$RUNNER_TEMP/agent-os-pr.md\"";
  const parent = realOrSelf(path.dirname(file));
  if (inside(install, file) || inside(realOrSelf(install), path.join(parent, path.basename(file)))) {
    throw new UpgradeError("USAGE", `--pr-body cannot be inside the installation: ${file}`, { hint });
  }
  if (!fs.existsSync(path.dirname(file))) throw new UpgradeError("USAGE", `--pr-body: the folder ${path.dirname(file)} does not exist`, { hint });
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new UpgradeError("USAGE", `--pr-body names a folder: ${file}`, { hint });
  // Known now, not after a completed upgrade: the body is written into this folder (temp + rename).
  try {
    fs.accessSync(path.dirname(file), fs.constants.W_OK);
  } catch {
    throw new UpgradeError("USAGE", `--pr-body: the folder ${path.dirname(file)} is not writable`, { hint });
  }
  return file;
}

const GROUPS: [action: string, title: string, count: string][] = [
  ["new", "Added", "added"],
  ["update", "Updated", "updated"],
  ["merge", "Merged (local edits kept)", "merged"],
  ["conflict", "Conflicts (to finish by hand)", "with conflicts"],
  ["delete", "Deleted", "deleted"],
];

function changedSection(changes: { path: string; action: string }[]): string[] {
  if (!changes.length) return ["No file changes."];
  const counts = GROUPS.map(([a, , label]) => [label, changes.filter((c) => c.action === a).length] as const).filter(([, n]) => n > 0);
  const out = [`${changes.length} file${changes.length === 1 ? "" : "s"}: ${counts.map(([label, n]) => `${n} ${label}`).join(", ")}.`];
  for (const [action, title] of GROUPS) {
    const files = changes.filter((c) => c.action === action).map((c) => c.path).sort();
    if (files.length) out.push("", `<details><summary>${title} (${files.length})</summary>`, "", ...files.map((f) => `- \`${f}\``), "", "</details>");
  }
  return out;
}

/** What each teammate runs after merging: `sync` (or by hand: the install's requirements into its venv, then a reload of the server). */
function teammateSection(result: UpgradeResult, options: RunOptions): string[] {
  const layout = resolveLayout(options.target);
  const rel = (p: string) => path.relative(layout.projectRoot, p).split(path.sep).join("/");
  // After a migration the installation is of the source's layout.
  const move = result.layout?.move;
  const decl = layoutById((move ? result.layout?.source : result.layout?.install) ?? result.layout?.source ?? "") ?? layoutById("agent-os-enhanced")!;
  const venv = rel(layout.venvDir);
  const leftover = move
    ? ["", `Your clone's \`${path.basename(move.from)}/\` then holds only what git ignores there (its old venv, caches, backups of earlier upgrades): delete it once \`sync\` has made \`${venv}\`.`]
    : [];
  return [
    "From the project's root, once the pull request is merged and pulled:",
    "",
    "```sh",
    "agent-os-upgrade sync",
    "```",
    "",
    "It installs the new requirements into this machine's venv (a new venv where there is none), restarts the MCP server it runs, and checks it through the IDE's launch entry; it does nothing when this machine is up to date. Without the tool, by hand (the first line creates the venv when it is missing and keeps an existing one):",
    "",
    "```sh",
    `python3 -m venv ${venv}`,
    `${venv}/bin/python -m pip install -r ${rel(path.join(layout.installDir, decl.server.requirements))}`,
    "```",
    "",
    "Then reload the MCP server in the IDE (or restart the IDE) so that it runs the new server.",
    ...leftover,
  ];
}

/**
 * The pull request's description, in Markdown. `planned`: the dry run's result, whose plan
 * has every plugin's part (a real run's plan holds the content only); a dry run is its own.
 */
export function renderPrBody(result: UpgradeResult, options: RunOptions, planned: UpgradeResult = result): string {
  const report = reportOf(planned, options);
  const to = report.available;
  const move = result.layout?.move;
  const version = to.version ?? to.commit?.slice(0, 12) ?? "?";
  const lines = [move ? `# Move Agent OS to praxis-os ${version} (\`${path.basename(move.from)}/\` → \`${path.basename(move.to)}/\`)` : `# Upgrade Agent OS to ${version}`, ""];
  if (result.dry_run) lines.push("_A dry run: nothing was written yet._", "");
  if (move) lines.push(`- Moved: \`${path.basename(move.from)}/\` → \`${path.basename(move.to)}/\` (${result.layout?.install ?? "?"} → ${result.layout?.source ?? "?"}), one transaction: \`agent-os-upgrade rollback\` undoes it`);
  lines.push(`- From: \`${report.installed.commit ?? "unknown"}\``, `- To: \`${to.commit ?? "unknown"}\`${to.version ? ` (${to.version})` : ""}`);
  if (report.source.url) lines.push(`- Source: ${report.source.url} at \`${report.source.ref}\``);
  if (options.plugin.runtimePending) lines.push("- Runtime: pending (`VERSION.txt` says `runtime=pending`): this run left the venv and the MCP server alone");
  lines.push("", "## What changed", "", ...changedSection(report.changes));
  const attention = result.dry_run
    ? report.conflicts.map((p) => `- [ ] \`${p}\`: a conflict is expected; finish it by hand`)
    : result.summary.needs_attention.map((a) => `- [ ] \`${a.path}\`: ${a.why}; ${a.how}`);
  lines.push("", "## Files to finish by hand", "", ...(attention.length ? attention : ["None."]));
  const migrated = ((planned.plan as { launch_migrations?: { file: string; agent?: string; server?: string; status: string; after?: string[] }[] } | undefined)?.launch_migrations ?? [])
    .filter((m) => m.status === "applied")
    .map((m) => `- \`${m.file}\`: ${m.agent ?? "the"} entry \`${m.server ?? "?"}\` now runs with \`${(m.after ?? []).join(" ")}\``);
  lines.push("", "## Launch entries migrated", "", ...(migrated.length ? migrated : ["None."]));
  lines.push("", "## After merging, each teammate runs", "", ...teammateSection(result, options));
  return lines.join("\n") + "\n";
}

export function writePrBody(file: string, result: UpgradeResult, options: RunOptions, planned?: UpgradeResult): void {
  writeFileAtomic(file, renderPrBody(result, options, planned));
}
