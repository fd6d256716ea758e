/**
 * Pre-flight checks that the upgrade can do its writes and reads before it makes the first:
 * the project and installation are writable, every file and folder the upgrade reads or
 * replaces is readable, and every file name can be installed as it is (a name that is not
 * valid UTF-8, or that holds a backslash — `..\..\x.md` — is refused by name). Read-only:
 * `access` and `readdir`, nothing else.
 *
 * Only what this run reads is checked. The folders phase 3 replaces whole (`mcp_server/`,
 * `scripts/`) are walked in pre-flight. The three-way folders (thousands of files) are not
 * walked again: the content plan has listed them already, so `checkPlanAccess` looks at its
 * entries — the files it writes or deletes must be readable (the backup and the copy read
 * them), and every planned path must have an installable name. An unchanged file is not read
 * by the upgrade, so its permissions are not the upgrade's business (the plan itself reports
 * a file it could not read, and a folder it could not list).
 */
import fs from "node:fs";
import path from "node:path";
import { Buffer } from "node:buffer";
import type { Findings, UpgradeContext } from "../../core/types.ts";
import { activeLayout, replacedFolders } from "../layouts/detect.ts";

/** At most this many bad paths are named; the rest are counted. */
const NAMED = 5;
/** Plan actions whose files the run reads: the backup copies the local file, phase 2 the new one. */
const READS = new Set(["new", "update", "merge", "conflict", "delete"]);

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

function report(f: Findings, seen: Walked): void {
  if (seen.unreadable.length) {
    f.error("PATH_UNREADABLE", `Cannot read ${listed(seen.unreadable)}: the upgrade must read (and back up) every file it touches`, `Make them readable (e.g. \`chmod -R u+rX ${seen.unreadable[0]}\`), then run the upgrade again`);
  }
  if (seen.badNames.length) {
    f.error("UNSAFE_FILE_NAME", `Cannot install ${listed(seen.badNames)}: the file name is not valid UTF-8 or holds a backslash, so it cannot be installed as it is`, "Rename or remove that file (in the source, or in the installation) and run the upgrade again");
  }
}

/** Pre-flight: the project and installation are writable; the folders phase 3 replaces are readable, with installable names. */
export function checkAccess(ctx: UpgradeContext, f: Findings): void {
  const { layout } = ctx;
  if (!layout.installExists) return; // the target check already says so
  const notWritable = [layout.projectRoot, layout.installDir].filter((d) => !canAccess(d, fs.constants.W_OK | fs.constants.X_OK));
  if (notWritable.length) {
    f.error("TARGET_NOT_WRITABLE", `Cannot write to ${listed(notWritable)}: the upgrade needs to write there (lock, backup, state, content)`, `Give your user write permission (e.g. \`chmod u+w ${notWritable[0]}\`) or run as the owner of the project`);
  }
  const seen: Walked = { unreadable: [], badNames: [] };
  const src = ctx.options.source;
  // Replaced folders as they sit in the installation and in the source.
  const folders = replacedFolders(activeLayout(ctx));
  const dirs = [...folders.map((f) => path.join(layout.installDir, f.to)), ...(src ? folders.map((f) => path.join(src, f.from)) : [])];
  for (const dir of dirs) if (fs.existsSync(dir)) walk(dir, seen);
  report(f, seen);
}

/** Whether a decoded name may stand for bytes that cannot be installed as they are. */
const suspect = (rel: string) => rel.includes("\\") || rel.includes("\uFFFD");

/**
 * Deno's fs hands names over as text, invalid bytes already replaced by U+FFFD: such a name
 * does not lead back to its file (a real U+FFFD in a valid name does).
 */
function lostBytes(text: string, p: Buffer): boolean {
  if (!text.includes("\uFFFD")) return false;
  try {
    fs.lstatSync(p);
    return false;
  } catch {
    return true;
  }
}

/**
 * The on-disk names (bytes) of `rel` under `root` that cannot be installed: each segment is
 * matched by its UTF-8 decoding, so every byte name a lossy decoding merged is found.
 */
function badNamesOf(root: string, rel: string): string[] {
  let at: Buffer[] = [Buffer.from(root)];
  let bad: boolean[] = [false];
  for (const seg of rel.split("/")) {
    const next: Buffer[] = [];
    const nextBad: boolean[] = [];
    at.forEach((dir, i) => {
      let names: Buffer[] = [];
      try {
        names = fs.readdirSync(dir, { encoding: "buffer" });
      } catch { /* gone, or unreadable: the plan says so */ }
      for (const n of names) {
        const text = n.toString("utf8");
        if (text !== seg) continue;
        const p = Buffer.concat([dir, Buffer.from(path.sep), n]);
        next.push(p);
        nextBad.push(bad[i] || !Buffer.from(text, "utf8").equals(n) || text.includes("\\") || lostBytes(text, p));
      }
    });
    at = next;
    bad = nextBad;
  }
  return at.filter((_, i) => bad[i]).map(printableName);
}

interface PlannedPath {
  target: string;
  source?: string;
  action: string;
  hashes: { local: string | null };
}

/**
 * After the plan: the files this run reads are readable, and every path it plans (from the
 * source or in the installation) has a name that can be installed as it is.
 */
export function checkPlanAccess(ctx: UpgradeContext, f: Findings): void {
  const plan = ctx.plan as { entries?: PlannedPath[]; source?: { root?: unknown }; install?: unknown } | null;
  if (!plan?.entries?.length || !ctx.layout.installExists) return;
  const sourceRoot = typeof plan.source?.root === "string" ? plan.source.root : ctx.options.source;
  const installDir = typeof plan.install === "string" ? plan.install : ctx.layout.installDir;
  const seen: Walked = { unreadable: [], badNames: [] };
  const named = new Set<string>();
  const bad = (root: string, rel: string) => {
    for (const p of badNamesOf(root, rel)) named.add(p);
  };
  for (const e of plan.entries) {
    if (suspect(e.target)) bad(installDir, e.target);
    if (e.source && sourceRoot && suspect(e.source)) bad(sourceRoot, e.source);
    if (!READS.has(e.action)) continue;
    const local = path.join(installDir, e.target);
    if (e.hashes.local !== null && !canAccess(local, fs.constants.R_OK)) seen.unreadable.push(local);
    const fresh = e.source && sourceRoot && e.action !== "delete" ? path.join(sourceRoot, e.source) : null;
    if (fresh && !canAccess(fresh, fs.constants.R_OK)) seen.unreadable.push(fresh);
  }
  seen.badNames.push(...named);
  report(f, seen);
}
