#!/usr/bin/env node
/** The executable: runs the CLI and exits with its code. */
import { main } from "./cli.ts";

const code = await main(process.argv.slice(2));
// Exit explicitly (a detached server or a prompt must not keep us alive), but only once
// stdout and stderr have flushed: a pipe is written asynchronously and would be cut off.
await new Promise<void>((r) => process.stdout.write("", () => r()));
await new Promise<void>((r) => process.stderr.write("", () => r()));
process.exit(code);
