#!/usr/bin/env node
/** The executable: runs the CLI and exits with its code. */
import { main } from "./cli.ts";

const code = await main(process.argv.slice(2));
process.exit(code);
