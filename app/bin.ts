#!/usr/bin/env node
/** The executable: runs the CLI and exits with its code. */
import { host } from "../core/runtime.ts";
import { main } from "./cli.ts";

// Exit explicitly (a detached server or a prompt must not keep us alive), once the output has flushed.
await host.exit(await main(host.argv()));
