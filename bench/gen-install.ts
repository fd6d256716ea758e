/**
 * Builds a realistic Agent OS project for the backup tests and the benchmark: the real
 * `universal/` content of a fixture release installed as SPEC §2 maps it, a small server
 * package, scripts with exec bits, the records upstream leaves behind, user-owned folders,
 * the edited project files, and a synthetic venv shaped like a real one (`bin/python ->
 * python3`, `lib64 -> lib`, packages of many small modules with `__pycache__`, a few big
 * shared objects). Sizes come from a seeded generator, so a tree is the same on every run.
 *
 *     node --import tsx bench/gen-install.ts <dir> [--files N] [--bytes 1G] [--release ced34ea]
 */
import fs from "node:fs";
import { Buffer } from "node:buffer";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { NEW_RELEASE, OLD_RELEASE, releaseUniversal } from "../demo/kit/assets.ts";

export const RELEASES = { old: OLD_RELEASE, new: NEW_RELEASE } as const;

export interface GenOptions {
  /** Total number of regular files in the installation, content included (venv fills the rest). */
  files?: number;
  /** Approximate total bytes of the regular files (the venv absorbs the difference). */
  bytes?: number;
  /** Fixture release whose `universal/` is installed. */
  release?: string;
  seed?: number;
  /** Create the venv at all (the smallest test trees skip it). */
  venv?: boolean;
}

export interface GeneratedInstall {
  projectRoot: string;
  installDir: string;
  files: number;
  bytes: number;
}

/** A small deterministic PRNG (mulberry32): the same tree for the same seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function copyTree(from: string, to: string, counter: { files: number; bytes: number }): void {
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const s = path.join(from, e.name);
    const d = path.join(to, e.name);
    if (e.isDirectory()) copyTree(s, d, counter);
    else if (e.isFile()) {
      fs.copyFileSync(s, d);
      counter.files++;
      counter.bytes += fs.statSync(d).size;
    }
  }
}

function write(file: string, data: string | Uint8Array, mode = 0o644, counter?: { files: number; bytes: number }): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data, { mode });
  fs.chmodSync(file, mode); // the umask must not decide the modes the tests compare
  if (counter) {
    counter.files++;
    counter.bytes += typeof data === "string" ? Buffer.byteLength(data) : data.byteLength;
  }
}

/** Writes a realistic installation into `<root>/.agent-os` (root is created). */
export function generateInstall(root: string, opts: GenOptions = {}): GeneratedInstall {
  const release = opts.release ?? RELEASES.old;
  const random = rng(opts.seed ?? 42);
  const projectRoot = path.resolve(root);
  const installDir = path.join(projectRoot, ".agent-os");
  const counter = { files: 0, bytes: 0 };

  const universal = releaseUniversal(release);
  copyTree(path.join(universal, "standards"), path.join(installDir, "standards", "universal"), counter);
  copyTree(path.join(universal, "workflows"), path.join(installDir, "workflows"), counter);
  if (fs.existsSync(path.join(universal, "usage"))) copyTree(path.join(universal, "usage"), path.join(installDir, "usage"), counter);

  const serverFiles: Record<string, string> = {
    "__init__.py": `"""Agent OS MCP server (synthetic, for tests)."""\n__version__ = "1.3.0"\n`,
    "__main__.py": "from .server import main\n\nif __name__ == \"__main__\":\n    main()\n",
    "server.py": "import sys\n\ndef main():\n    sys.stdout.write('ok\\n')\n",
    "requirements.txt": "mcp>=1.0\nlancedb>=0.5\n# playwright>=1.40\n",
    "rag/__init__.py": "",
    "rag/index.py": "def search(q):\n    return []\n".repeat(20),
    "workflow/engine.py": "class Engine:\n    pass\n".repeat(40),
  };
  for (const [rel, text] of Object.entries(serverFiles)) write(path.join(installDir, "mcp_server", rel), text, 0o644, counter);
  write(path.join(installDir, "scripts", "build_rag_index.py"), "#!/usr/bin/env python3\nprint('index')\n", 0o755, counter);
  write(path.join(installDir, "scripts", "update.sh"), "#!/bin/sh\necho update\n", 0o755, counter);

  write(path.join(installDir, "config.json"), JSON.stringify({ language: "typescript", rag: { top_k: 5 } }, null, 2) + "\n", 0o600, counter);
  write(path.join(installDir, "VERSION.txt"), `version=1.3.0\ncommit=${release}\ndate=2025-10-07\n`, 0o644, counter);
  write(path.join(installDir, "UPDATE_LOG.txt"), "2025-10-07 installed 1.3.0\n", 0o644, counter);
  write(path.join(installDir, "INSTALLATION_SUMMARY.md"), "# Agent OS installation\n\nInstalled 1.3.0.\n", 0o644, counter);
  write(path.join(installDir, ".upgrade", "installed-manifest.json"), JSON.stringify({ commit: release, files: {} }) + "\n", 0o644, counter);

  // User-owned: the backup never copies these and rollback never touches them.
  write(path.join(installDir, "standards", "development", "our-conventions.md"), "# Ours\n", 0o644, counter);
  write(path.join(installDir, "specs", "2025-10-01-feature", "srd.md"), "# Spec\n", 0o644, counter);
  write(path.join(installDir, "workspace", "notes.md"), "notes\n", 0o644, counter);
  write(path.join(installDir, ".cache", "index", "vectors.lance"), Buffer.alloc(4096, 7), 0o644, counter);
  fs.mkdirSync(path.join(installDir, ".cache", "state"), { recursive: true });

  write(path.join(projectRoot, ".gitignore"), "node_modules/\n.agent-os/venv/\n", 0o644);
  write(path.join(projectRoot, ".cursor", "mcp.json"), JSON.stringify({
    mcpServers: { "agent-os-rag": { command: "${workspaceFolder}/.agent-os/venv/bin/python", args: ["-m", "mcp_server"] } },
  }, null, 2) + "\n", 0o644);

  if (opts.venv !== false) generateVenv(path.join(installDir, "venv"), counter, opts, random);
  return { projectRoot, installDir, files: counter.files, bytes: counter.bytes };
}

/** A noise pool: file bodies are slices of it, so a gigabyte is written without a gigabyte of randomness. */
const POOL = (() => {
  const b = Buffer.alloc(1 << 22);
  const r = rng(7);
  for (let i = 0; i < b.length; i += 4) b.writeUInt32LE(Math.floor(r() * 4294967296), i);
  return b;
})();

function body(size: number, random: () => number): Buffer {
  if (size <= POOL.length) {
    const at = Math.floor(random() * (POOL.length - size));
    return POOL.subarray(at, at + size);
  }
  const parts: Buffer[] = [];
  for (let left = size; left > 0; left -= POOL.length) parts.push(POOL.subarray(0, Math.min(left, POOL.length)));
  return Buffer.concat(parts);
}

function generateVenv(venv: string, counter: { files: number; bytes: number }, opts: GenOptions, random: () => number): void {
  const py = "python3.11";
  write(path.join(venv, "pyvenv.cfg"), "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n", 0o644, counter);
  fs.mkdirSync(path.join(venv, "bin"), { recursive: true });
  fs.mkdirSync(path.join(venv, "include"), { recursive: true });
  fs.symlinkSync("/usr/bin/python3", path.join(venv, "bin", "python3"));
  fs.symlinkSync("python3", path.join(venv, "bin", "python"));
  fs.symlinkSync("python3", path.join(venv, "bin", py));
  fs.symlinkSync("lib", path.join(venv, "lib64"));
  for (const tool of ["pip", "pip3", "mcp"]) {
    write(path.join(venv, "bin", tool), `#!${venv}/bin/python\nimport sys\nfrom pip import main\nsys.exit(main())\n`, 0o755, counter);
  }
  write(path.join(venv, "bin", "activate"), "# source this\nexport VIRTUAL_ENV\n", 0o644, counter);

  const site = path.join(venv, "lib", py, "site-packages");
  const wanted = Math.max(opts.files ?? 0, counter.files + 600) - counter.files;
  const budget = Math.max(opts.bytes ?? wanted * 6000, wanted * 64) - counter.bytes;
  // Log-normal small modules, plus one shared object per package (the big files a venv has).
  const sizes: number[] = [];
  for (let i = 0; i < wanted; i++) {
    const n = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    sizes.push(Math.exp(8 + 1.2 * n));
  }
  const sum = sizes.reduce((a, b) => a + b, 0);
  const scale = budget / sum;
  let pkg = -1;
  let inPkg = 0;
  let perPkg = 0;
  for (let i = 0; i < wanted; i++) {
    if (inPkg >= perPkg) {
      pkg++;
      inPkg = 0;
      perPkg = 20 + Math.floor(random() * 200);
    }
    const size = Math.max(1, Math.round(sizes[i] * scale));
    const name = `pkg${pkg}`;
    let rel: string;
    let mode = 0o644;
    if (inPkg === 0) rel = `${name}/__init__.py`;
    else if (inPkg === 1) rel = `${name}-1.${pkg % 10}.0.dist-info/RECORD`;
    else if (inPkg === 2) {
      rel = `${name}/_speedups.cpython-311-x86_64-linux-gnu.so`;
      mode = 0o755;
    } else if (inPkg % 3 === 0) rel = `${name}/__pycache__/mod${inPkg}.cpython-311.pyc`;
    else rel = `${name}/sub${inPkg % 7}/mod${inPkg}.py`;
    write(path.join(site, rel), body(size, random), mode, counter);
    inPkg++;
  }
  // Some packages link to their neighbours' data (pip does not, but tools in a venv do).
  fs.symlinkSync("../pkg0/__init__.py", path.join(site, "pkg1", "alias.py"));
  fs.symlinkSync("missing-target", path.join(site, "pkg0", "dangling"));
}

function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)b?$/i.exec(s.trim());
  if (!m) throw new Error(`Cannot parse size "${s}": expected e.g. 500M or 1G`);
  const mul = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as "" | "k" | "m" | "g"];
  return Math.round(Number(m[1]) * mul);
}

export function parseGenArgs(argv: string[]): GenOptions {
  const opts: GenOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--files") opts.files = Number(argv[++i]);
    else if (a === "--bytes") opts.bytes = parseSize(argv[++i]);
    else if (a === "--release") opts.release = argv[++i];
    else if (a === "--seed") opts.seed = Number(argv[++i]);
  }
  return opts;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [dir, ...rest] = process.argv.slice(2);
  if (!dir) {
    console.error("Usage: gen-install.ts <dir> [--files N] [--bytes 1G] [--release ced34ea]");
    process.exit(2);
  }
  const t = performance.now();
  const g = generateInstall(dir, parseGenArgs(rest));
  console.log(`${g.installDir}: ${g.files} files, ${(g.bytes / 1048576).toFixed(1)} MiB in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
