/**
 * Pre-flight checks that the upgrade can do its writes and reads before it makes the first:
 * the project and installation are writable, every file and folder the upgrade reads or
 * replaces is readable, and every file name can be installed as it is (a name that is not
 * valid UTF-8, or that holds a backslash — `..\..\x.md` — is refused by name). Read-only:
 * `access` and `readdir`, nothing else.
 */
import fs from "node:fs";
import path from "node:path";
import { Buffer } from "node:buffer";
import type { Findings, UpgradeContext } from "../../core/types.ts";

/** Installation folders an upgrade reads and replaces. */
const INSTALL_TOUCHED = ["standards/universal", "workflows", "usage", "mcp_server", "scripts"];
/** Source folders it reads. */
const SOURCE_READ = ["universal", "mcp_server", "scripts"];
/** At most this many bad paths are named; the rest are counted. */
const NAMED = 5;

function canAccess(p: string | Buffer, mode: number): boolean {
  try {
    fs.accessSync(p, mode);
    return true;
  } catch {
    return false;
  }
}

/** A name as the user would type it: valid UTF-8 as is, other bytes as \xNN. */
export function printableName(name: Buffer): string {
  const text = name.toString("utf8");
  if (Buffer.from(text, "utf8").equals(name)) return text;
  return [...name].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`)).join("");
}

interface Walked {
  unreadable: string[];
  badNames: string[];
}

function walk(root: string, out: Walked): void {
  const stack: Buffer[] = [Buffer.from(root)];
  while (stack.length) {
    const dir = stack.pop()!;
    const shown = () => printableName(dir);
    if (!canAccess(dir, fs.constants.R_OK | fs.constants.X_OK)) {
      out.unreadable.push(shown());
      continue;
    }
    let entries: fs.Dirent<Buffer>[];
    try {
      entries = fs.readdirSync(dir, { encoding: "buffer", withFileTypes: true });
    } catch {
      out.unreadable.push(shown());
      continue;
    }
    for (const e of entries) {
      const p = Buffer.concat([dir, Buffer.from(path.sep), e.name]);
      const text = e.name.toString("utf8");
      if (!Buffer.from(text, "utf8").equals(e.name) || text.includes("\\")) out.badNames.push(printableName(p));
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile() && !canAccess(p, fs.constants.R_OK)) out.unreadable.push(printableName(p));
    }
  }
}

const listed = (paths: string[]) => paths.slice(0, NAMED).map((p) => `"${p}"`).join(", ") + (paths.length > NAMED ? ` and ${paths.length - NAMED} more` : "");

export function checkAccess(ctx: UpgradeContext, f: Findings): void {
  const { layout } = ctx;
  if (!layout.installExists) return; // the target check already says so
  const notWritable = [layout.projectRoot, layout.installDir].filter((d) => !canAccess(d, fs.constants.W_OK | fs.constants.X_OK));
  if (notWritable.length) {
    f.error("TARGET_NOT_WRITABLE", `Cannot write to ${listed(notWritable)}: the upgrade needs to write there (lock, backup, state, content)`, `Give your user write permission (e.g. \`chmod u+w ${notWritable[0]}\`) or run as the owner of the project`);
  }
  const seen: Walked = { unreadable: [], badNames: [] };
  for (const rel of INSTALL_TOUCHED) {
    const p = path.join(layout.installDir, rel);
    if (fs.existsSync(p)) walk(p, seen);
  }
  const src = ctx.options.source;
  if (src && fs.existsSync(src)) for (const rel of SOURCE_READ) if (fs.existsSync(path.join(src, rel))) walk(path.join(src, rel), seen);
  if (seen.unreadable.length) {
    f.error("PATH_UNREADABLE", `Cannot read ${listed(seen.unreadable)}: the upgrade must read (and back up) every file it touches`, `Make them readable (e.g. \`chmod -R u+rX ${seen.unreadable[0]}\`), then run the upgrade again`);
  }
  if (seen.badNames.length) {
    f.error("UNSAFE_FILE_NAME", `Cannot install ${listed(seen.badNames)}: the file name is not valid UTF-8 or holds a backslash, so it cannot be installed as it is`, "Rename or remove that file (in the source, or in the installation) and run the upgrade again");
  }
}
