/**
 * The project's own example config, loaded by tests/config.test.ts. In your project, import
 * from "agent-os-upgrade" and "agent-os-upgrade/plugins" instead of these relative paths
 * (`agent-os-upgrade init` writes a starter file).
 */
import { defineConfig, definePlugin } from "./app/mod.ts";
import { preflightPlugin } from "./plugins/mod.ts";

/** A user plugin: adds one pre-flight warning when the source is not on a branch named main. */
const mainBranchOnly = definePlugin({
  name: "main-branch-only",
  apply(hooks) {
    hooks.preflight.tap({ stage: 10 }, (_ctx, findings, evidence) => {
      if (evidence.source_branch && evidence.source_branch !== "main") {
        findings.warn("SOURCE_BRANCH", `The source is on branch "${evidence.source_branch}", not main`, "Check out main in the source if you meant to install a release");
      }
    });
  },
});

export default defineConfig({
  source: "../agent-os-enhanced",
  onConflict: "ask",
  keepBackups: 3,
  plugins: [preflightPlugin({ untracked: "refuse" }), mainBranchOnly],
});
