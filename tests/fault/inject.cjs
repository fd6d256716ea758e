// The fault injector behind tests/fault/preload.ts (see there for the environment it reads).
// Plain CommonJS on purpose: it is also required at the top of every evaluated worker.
"use strict";
const fs = require("node:fs");
const { syncBuiltinESMExports } = require("node:module");
const os = require("node:os");
const path = require("node:path");
const wt = require("node:worker_threads");

const AT = Number(process.env.AOU_FAULT_AT || 0);
const KIND = process.env.AOU_FAULT_KIND || "kill";
const WHEN = process.env.AOU_FAULT_WHEN === "after" ? "after" : "before";
const TALLY = process.env.AOU_FAULT_COUNT_FILE;
// Only calls whose path matches count towards AOU_FAULT_AT (this thread's calls): aims a
// fault at one kind of write, e.g. the third content write, or a state save.
const MATCH = process.env.AOU_FAULT_MATCH ? new RegExp(process.env.AOU_FAULT_MATCH) : null;
// With a MATCH, a file that gets one line per matched call ("<n> <call> <path>"): tells a test
// which of the matched calls is the one it means to fault (e.g. the renames of a swap).
const TRACE = process.env.AOU_FAULT_TRACE;
// KIND=diskfull: from the k-th call on the disk is full (this process's view): every call that
// needs new blocks fails with ENOSPC unless earlier deletions freed enough (a file's size when
// its last link goes). Renames, links, unlinks, mode and time changes need none and succeed.
const DISKFULL = KIND === "diskfull";
const BLOCK = 4096;

const SYNC = [
  "writeFileSync", "appendFileSync", "copyFileSync", "cpSync", "renameSync", "rmSync", "rmdirSync", "unlinkSync",
  "mkdirSync", "mkdtempSync", "symlinkSync", "linkSync", "truncateSync", "ftruncateSync", "chmodSync", "fchmodSync",
  "lchmodSync", "chownSync", "fchownSync", "lchownSync", "utimesSync", "futimesSync", "lutimesSync", "fsyncSync",
  "fdatasyncSync", "writeSync", "writevSync",
];
const CALLBACK = [
  "writeFile", "appendFile", "copyFile", "cp", "rename", "rm", "rmdir", "unlink", "mkdir", "mkdtemp", "symlink", "link",
  "truncate", "ftruncate", "chmod", "fchmod", "lchmod", "chown", "fchown", "lchown", "utimes", "futimes", "lutimes",
  "fsync", "fdatasync", "write", "writev",
];
const PROMISES = [
  "writeFile", "appendFile", "copyFile", "cp", "rename", "rm", "rmdir", "unlink", "mkdir", "mkdtemp", "symlink", "link",
  "truncate", "chmod", "lchmod", "chown", "lchown", "utimes", "lutimes",
];
const HANDLE = ["write", "writev", "writeFile", "appendFile", "truncate", "sync", "datasync", "chmod", "chown", "utimes"];

if (!globalThis.__aouFaultInstalled) {
  globalThis.__aouFaultInstalled = true;
  install();
}

function install() {
  // The originals, captured before anything is wrapped: the tally itself must not count.
  const raw = { openSync: fs.openSync, writeSync: fs.writeSync, fstatSync: fs.fstatSync };
  const tsxCache = path.join(os.tmpdir(), "tsx-");
  let tallyFd = null;
  let traceFd = null;
  let fired = false;

  const tick = () => {
    if (!TALLY) return 0;
    if (tallyFd === null) tallyFd = raw.openSync(TALLY, "a");
    raw.writeSync(tallyFd, "x");
    return raw.fstatSync(tallyFd).size;
  };
  const C = fs.constants;
  const opensForWrite = (flags) => typeof flags === "number"
    ? (flags & (C.O_WRONLY | C.O_RDWR | C.O_CREAT | C.O_TRUNC | C.O_APPEND)) !== 0
    : typeof flags === "string" && /[wa+]/.test(flags);
  const ignored = (args) => {
    const p = args[0];
    return (typeof p === "string" && p.startsWith(tsxCache)) || (p instanceof URL && p.pathname.startsWith(tsxCache));
  };
  const injected = (name, args) => {
    const [code, errno, text] = { diskfull: ["ENOSPC", -28, "no space left on device"], enospc: ["ENOSPC", -28, "no space left on device"], eacces: ["EACCES", -13, "permission denied"] }[KIND] ?? ["EIO", -5, "i/o error"];
    const target = typeof args[0] === "string" ? `, '${args[0]}'` : "";
    const err = new Error(`${code}: ${text} (injected), ${name}${target}`);
    Object.assign(err, { code, errno, syscall: name }, typeof args[0] === "string" ? { path: args[0] } : {});
    return err;
  };
  // Counts a call; true when it is the k-th and must fault.
  let matched = 0;
  const hit = (name, args) => {
    if (ignored(args)) return false;
    let n = tick();
    if (MATCH) {
      const p = args[0] instanceof URL ? args[0].pathname : String(args[0]);
      if (!MATCH.test(p)) return false;
      n = ++matched;
      if (TRACE) {
        if (traceFd === null) traceFd = raw.openSync(TRACE, "a");
        raw.writeSync(traceFd, `${n} ${name} ${p}\n`);
      }
    }
    if (!AT || fired || n !== AT) return false;
    fired = true;
    return !DISKFULL; // diskfull: from here on `full` decides, this call included
  };
  // diskfull: the space freed since the disk filled up, and what each call needs or frees.
  let free = 0;
  const raw2 = { lstatSync: fs.lstatSync, statSync: fs.statSync, readdirSync: fs.readdirSync };
  const sizeIfLast = (p) => {
    try {
      const st = raw2.lstatSync(p);
      if (st.isDirectory()) {
        let n = BLOCK;
        for (const c of raw2.readdirSync(p)) n += sizeIfLast(path.join(String(p), c));
        return n;
      }
      return st.nlink <= 1 && st.isFile() ? Math.ceil(st.size / BLOCK) * BLOCK : 0;
    } catch {
      return 0;
    }
  };
  const bytesOf = (d) => (typeof d === "string" ? Buffer.byteLength(d) : d && typeof d.byteLength === "number" ? d.byteLength : 0);
  const NEEDS = {
    writeFileSync: (a) => bytesOf(a[1]), writeFile: (a) => bytesOf(a[1]), appendFileSync: (a) => bytesOf(a[1]), appendFile: (a) => bytesOf(a[1]),
    writeSync: (a) => (typeof a[1] === "string" ? Buffer.byteLength(a[1]) : typeof a[3] === "number" ? a[3] : bytesOf(a[1])),
    write: (a) => (typeof a[1] === "string" ? Buffer.byteLength(a[1]) : typeof a[3] === "number" ? a[3] : bytesOf(a[1])),
    writevSync: (a) => (a[1] || []).reduce((n, b) => n + bytesOf(b), 0), writev: (a) => (a[1] || []).reduce((n, b) => n + bytesOf(b), 0),
    copyFileSync: (a) => sizeIfLast(a[0]) || 1, copyFile: (a) => sizeIfLast(a[0]) || 1, cpSync: () => BLOCK, cp: () => BLOCK,
    mkdirSync: (a) => missingDirs(a[0]) * BLOCK, mkdir: (a) => missingDirs(a[0]) * BLOCK, mkdtempSync: () => BLOCK, mkdtemp: () => BLOCK,
  };
  // The folders a mkdir (-p) would create: none when it exists already.
  const missingDirs = (p) => {
    let n = 0;
    for (let d = String(p); d !== path.dirname(d); d = path.dirname(d)) {
      try {
        raw2.lstatSync(d);
        break;
      } catch {
        n++;
      }
    }
    return n;
  };
  const FREES = { unlinkSync: 1, unlink: 1, rmSync: 1, rm: 1, rmdirSync: 1, rmdir: 1 };
  // True when this call must fail for want of space; a deletion adds what it frees.
  const full = (name, args) => {
    if (!DISKFULL || !fired || ignored(args)) return false;
    if (FREES[name]) {
      free += sizeIfLast(args[0]);
      return false;
    }
    if (name === "renameSync" || name === "rename") {
      free += sizeIfLast(args[1]); // the file it replaces
      return false;
    }
    const need = NEEDS[name] ? NEEDS[name](args) : 0;
    if (need <= 0) return false;
    const blocks = Math.ceil(need / BLOCK) * BLOCK;
    if (blocks > free) return true;
    free -= blocks;
    return false;
  };
  const killNow = () => process.kill(process.pid, "SIGKILL");
  const always = () => true;

  // Node's own sync calls nest (writeFileSync opens and writes through fs.openSync and
  // fs.writeSync): only the outermost call counts.
  let depth = 0;
  const nested = (fn, self, args) => {
    depth++;
    try {
      return fn.apply(self, args);
    } finally {
      depth--;
    }
  };
  const wrapSync = (name, fn, counted = always) => function (...args) {
    if (depth > 0 || !counted(args) || !hit(name, args)) {
      if (depth === 0 && full(name, args)) throw injected(name, args);
      return nested(fn, this, args);
    }
    if (WHEN === "before") {
      if (KIND === "kill") killNow();
      throw injected(name, args);
    }
    // "After" means once the call has returned, whether it succeeded or threw (a probe that fails on this filesystem).
    try {
      nested(fn, this, args);
    } finally {
      if (KIND === "kill") killNow();
    }
    throw injected(name, args);
  };
  const wrapCallback = (name, fn, counted = always) => function (...args) {
    const cb = args[args.length - 1];
    if (typeof cb !== "function" || !counted(args) || !hit(name, args)) {
      if (typeof cb === "function" && full(name, args)) return process.nextTick(() => cb(injected(name, args)));
      return fn.apply(this, args);
    }
    if (WHEN === "before") {
      if (KIND === "kill") killNow();
      return process.nextTick(() => cb(injected(name, args)));
    }
    args[args.length - 1] = (err) => {
      if (KIND === "kill") killNow();
      cb(err || injected(name, args));
    };
    return fn.apply(this, args);
  };
  const wrapPromise = (name, fn, counted = always) => async function (...args) {
    if (!counted(args) || !hit(name, args)) {
      if (full(name, args)) throw injected(name, args);
      return fn.apply(this, args);
    }
    if (WHEN === "before") {
      if (KIND === "kill") killNow();
      throw injected(name, args);
    }
    try {
      await fn.apply(this, args);
    } finally {
      if (KIND === "kill") killNow();
    }
    throw injected(name, args);
  };
  const patch = (obj, names, wrap) => {
    for (const n of names) if (typeof obj[n] === "function") obj[n] = wrap(n, obj[n]);
  };

  patch(fs, SYNC, wrapSync);
  patch(fs, CALLBACK, wrapCallback);
  patch(fs.promises, PROMISES, wrapPromise);
  fs.openSync = wrapSync("openSync", fs.openSync, (a) => opensForWrite(a[1]));
  fs.open = wrapCallback("open", fs.open, (a) => opensForWrite(typeof a[1] === "function" ? undefined : a[1]));
  // A FileHandle's own writes: its class is not exported, so its prototype is patched
  // through the first handle that is opened.
  const origOpen = fs.promises.open;
  let protoPatched = false;
  const countedOpen = wrapPromise("open", origOpen, (a) => opensForWrite(a[1]));
  fs.promises.open = async function (...args) {
    const fh = await countedOpen.apply(this, args);
    if (!protoPatched) {
      protoPatched = true;
      patch(Object.getPrototypeOf(fh), HANDLE, (n, f) => wrapPromise(`filehandle.${n}`, f));
    }
    return fh;
  };
  syncBuiltinESMExports();

  // Workers from a file or URL run `--import` modules themselves; an evaluated one does not,
  // so its source gets this file required first.
  const OrigWorker = wt.Worker;
  const self = JSON.stringify(__filename);
  class FaultWorker extends OrigWorker {
    constructor(src, opts) {
      super(opts && opts.eval && typeof src === "string" ? `require(${self});\n${src}` : src, opts);
    }
  }
  wt.Worker = FaultWorker;
  syncBuiltinESMExports();

  if (TALLY && wt.isMainThread && process.env.AOU_FAULT_PRINT) {
    process.on("exit", () => process.stderr.write(`fault: ${raw.fstatSync(raw.openSync(TALLY, "r")).size} mutating calls\n`));
  }
}
