/**
 * The project's own example config, loaded by tests/config.test.ts. In your project, import
 * from "agent-os-upgrade" and "agent-os-upgrade/plugins" instead of these relative paths
 * (`agent-os-upgrade init` writes a starter file).
 */
import { defineConfig, definePlugin } from "./app/mod.ts";
import { preflightEvidence, preflightPlugin } from "./plugins/mod.ts";

/**
 * A user plugin: adds one pre-flight warning when the source is not on a branch named main.
 * It reads pre-flight's evidence through the reader the preflight plugin exports, in
 * `checkPlan` (phase 0, after every `preflight` tap has recorded its evidence).
 */
const mainBranchOnly = definePlugin({
  name: "main-branch-only",
  apply(hooks) {
    hooks.checkPlan.tap((ctx, findings) => {
      const branch = preflightEvidence(ctx)?.source_branch;
      if (branch && branch !== "main") {
        findings.warn("SOURCE_BRANCH", `The source is on branch "${branch}", not main`, "Check out main in the source if you meant to install a release");
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
