#!/usr/bin/env node
/** The executable: runs the CLI and exits with its code. */
import { host } from "../core/runtime.ts";
import { main, ranStartupOnly } from "./cli.ts";

// Exit explicitly (a detached server or a prompt must not keep us alive), once the output has flushed.
const code = await main(host.argv());
await host.exit(code, { startupOnly: ranStartupOnly() });
