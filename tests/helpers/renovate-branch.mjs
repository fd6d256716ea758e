// Renovate's own branch step for one update, driven from its installed dist (the local
// platform stops after the lookup; a real platform would run exactly these functions next):
// its package rules pick the recipe's postUpgradeTasks, its git module clones the
// repository, its autoReplace edits the record, and its post-upgrade executor checks the
// allow-list, fills in the templates, runs the commands (its shell, its child environment)
// and collects the files the commit would hold through fileFilters.
//
//   node renovate-branch.mjs <renovate package dir> <input.json>   (or deno run -A for a Renovate that needs Node 22)
// input: { repoUrl, localDir, allowedCommands, repoConfig, manager, dep, update, packageFile }
// Prints one JSON line: { postUpgradeTasks, autoReplaced, updatedArtifacts, artifactErrors }.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [renovateDir, inputFile] = process.argv.slice(2);
const input = JSON.parse(fs.readFileSync(inputFile, "utf8"));
/** A module of Renovate's dist: CommonJS up to 39 (its exports object), ES modules in 44. */
async function dist(p) {
  const m = await import(pathToFileURL(path.join(renovateDir, "dist", p)).href);
  return { ...(m.default && typeof m.default === "object" ? m.default : {}), ...m };
}

async function main() {
  const { GlobalConfig } = await dist("config/global.js");
  GlobalConfig.set({ localDir: input.localDir, allowedCommands: input.allowedCommands, allowCommandTemplating: true });
  const { applyPackageRules } = await dist("util/package-rules/index.js");
  const packageFileDir = path.posix.dirname(input.packageFile);
  const upgrade = await applyPackageRules({
    ...input.manager,
    manager: "regex",
    packageRules: input.repoConfig.packageRules,
    packageFile: input.packageFile,
    packageFileDir: packageFileDir === "." ? "" : packageFileDir,
    depIndex: 0,
    ...input.dep,
    ...input.update,
  });
  delete upgrade.updates;
  // Renovate's repository worker makes its local folder before git starts.
  fs.mkdirSync(input.localDir, { recursive: true });
  const git = await dist("util/git/index.js");
  await git.initRepo({ url: input.repoUrl });
  await git.syncGit();
  const { readLocalFile } = await dist("util/fs/index.js");
  const existing = await readLocalFile(input.packageFile, "utf8");
  const { doAutoReplace } = await dist("workers/repository/update/branch/auto-replace.js");
  const autoReplaced = await doAutoReplace(upgrade, existing, false);
  const { postUpgradeCommandsExecutor } = await dist("workers/repository/update/branch/execute-post-upgrade-commands.js");
  const res = await postUpgradeCommandsExecutor([upgrade], {
    ...upgrade,
    upgrades: [upgrade],
    updatedPackageFiles: [{ type: "addition", path: input.packageFile, contents: autoReplaced }],
  });
  const out = {
    postUpgradeTasks: upgrade.postUpgradeTasks ?? null,
    autoReplaced,
    updatedArtifacts: res.updatedArtifacts.map((a) => ({ type: a.type, path: a.path })),
    artifactErrors: res.artifactErrors,
  };
  process.stdout.write(`\n${JSON.stringify(out)}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  },
);
