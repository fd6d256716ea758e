/** Writes an upgrade.config.ts into a temp project that runs the built-in pre-flight and report with the fake phases. */
import fs from "node:fs";
import path from "node:path";
import { REPO } from "./cli.ts";

export function writeFakeConfig(projectDir: string, extra = ""): string {
  const file = path.join(projectDir, "upgrade.config.ts");
  fs.writeFileSync(file, `import { builtinPlugins } from ${JSON.stringify(path.join(REPO, "plugins/mod.ts"))};
import { fakePhases } from ${JSON.stringify(path.join(REPO, "tests/helpers/fake-phases.ts"))};
${extra}
export default {
  disable: builtinPlugins().map((p) => p.name).filter((n) => n !== "preflight" && n !== "report"),
  plugins: [fakePhases()],
};
`);
  return file;
}
