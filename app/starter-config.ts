/** The file `agent-os-upgrade init` writes. */
export const STARTER_CONFIG = `import { defineConfig } from "agent-os-upgrade";

export default defineConfig({
  // Where your agent-os-enhanced clone is (relative to this file).
  // source: "../agent-os-enhanced",

  // What to do with files both you and upstream changed: ask | keep | theirs | merge | skip | abort.
  onConflict: "ask",

  // How many backups in .agent-os/.backups/ to keep.
  keepBackups: 3,

  // Built-in plugins take options by listing them here, e.g.:
  //   import { preflightPlugin } from "agent-os-upgrade/plugins";
  //   plugins: [preflightPlugin({ untracked: "refuse" })],
  plugins: [],
});
`;
