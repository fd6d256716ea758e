/**
 * The `upgrade-agent-os` prompt: how an assistant runs an upgrade with our tools. The order
 * matters: plan before anything, the user decides every conflict, rollback only on request
 * (or when the result says a rollback did not finish).
 */
import { z } from "zod";

export const PROMPT_NAME = "upgrade-agent-os";

export const promptArgs = {
  source: z.string().optional().describe("Path of the Agent OS source checkout, if known"),
};

/**
 * The `--read-only` server's prompt: it has upgrade_plan, upgrade_status and backups_list
 * only, so it may plan and report, never start, continue or roll back.
 */
export function readOnlyPromptText(source?: string): string {
  const src = source ? `the source checkout at ${JSON.stringify(source)}` : "the Agent OS source checkout (ask the user for its path if you do not know it: a git clone of agent-os-enhanced)";
  return `Show the user what an upgrade of this project's Agent OS installation from ${src} would do, with the agent-os-upgrade tools of this read-only server: upgrade_status, upgrade_plan and backups_list. This server cannot change anything; never say that an upgrade was started or done.

1. Call upgrade_status and tell the user where the project stands (an upgrade running, interrupted, completed, rolled back, or none).
2. Call upgrade_plan with the source. Tell the user briefly what would change: the counts, files merged cleanly, new and deleted files, the base used, and any findings with their fixes.
3. For each conflict, show its three-way view (the user's change, upstream's change, the merge) and explain the choices an upgrade would offer: keep, theirs, merge, skip.
4. Call backups_list if the user asks about backups.
5. To run the upgrade, the user needs the agent-os-upgrade MCP server without --read-only, or the CLI (agent-os-upgrade --source <path>) in a terminal: tell them so.`;
}

export function promptText(source?: string): string {
  const src = source ? `the source checkout at ${JSON.stringify(source)}` : "the Agent OS source checkout (ask the user for its path if you do not know it: a git clone of agent-os-enhanced)";
  return `Upgrade this project's Agent OS installation from ${src}, with the agent-os-upgrade tools. Every result is computed by the tool; never report a step as done unless a tool result says so.

1. Call upgrade_status. If the state is running or interrupted, call upgrade_continue and skip to step 5. If it says a lock blocks upgrades, tell the user and stop.
2. Call upgrade_plan with the source. Tell the user briefly what will change: the counts, files merged cleanly (edited by them and upstream, merged as git would), new and deleted files, and the base used.
3. If there are conflicts (files the user edited where upstream changed the same lines), show each one with its three-way view (their change, upstream's change, the merge with markers) and ask what to do with it:
   - keep: keep the user's version (upstream's change to that file is not taken)
   - theirs: take upstream's version (the user's edit is lost; it stays in the backup)
   - merge: three-way merge (a clean merge keeps both; otherwise conflict markers are written and listed)
   - skip: leave the file alone this time and ask again next upgrade
   Do not choose for the user.
4. Call upgrade_start with the source and decisions: { "<path>": "<choice>" } for every conflict. If it returns needs_decision, ask about the conflicts it lists and call it again. It may take minutes: it reports progress.
   If the connection drops or this server restarts (an IDE may reload MCP servers while the upgrade restarts the Agent OS server), the upgrade goes on in its own process: call upgrade_status, then upgrade_continue to wait for its end.
5. Report the result: the status, from and to versions, each conflict decision and its result, files that need attention (conflict markers), the tools the upgraded server registered, and whether the IDE must reload the Agent OS MCP server (then ask the user to reload it).
   - rolled_back: the upgrade failed and the installation is exactly as before; give the error and its hint.
   - refused: nothing was changed; give the problem and its fix.
   - failed: give the error; offer upgrade_rollback.
6. Offer upgrade_rollback only when the user wants to undo a completed upgrade, or when a result says a rollback did not finish. If it refuses because files changed since the upgrade, show those files and call it with confirm: true only after the user agrees. backups_list shows the backups (for rollback's to).`;
}
