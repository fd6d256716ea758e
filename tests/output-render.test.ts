// The human renderer's moment-to-moment output: --verbose debug lines with their times, the
// progress line (only for a step over a second; in place on a terminal through log-update,
// plain lines at most once a second off one), and the spawned commands' debug lines.
import path from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { terminalProgress } from "../app/progress.ts";
import { humanRenderer, type ProgressView, type Sink } from "../app/render.ts";
import { createContext } from "../core/context.ts";
import { resolveLayout } from "../core/layout.ts";
import { createLogger, type LogEvent } from "../core/log.ts";
import type { RunOptions } from "../core/types.ts";
import { removeTemps, tmpDir } from "./helpers/content-project.ts";

function harness(opts: { verbose?: boolean; tty?: boolean; view?: ProgressView } = {}) {
  const out: string[] = [];
  const sink: Sink = { out: (l) => out.push(l), err: (l) => out.push(`[err] ${l}`) };
  let t = 0;
  const render = humanRenderer(sink, { ...opts, progress: opts.view, now: () => t });
  return { out, render, at: (ms: number) => (t = ms) };
}

const progress = (done: number, total: number): LogEvent => ({ type: "progress", label: "backup hashing", done, total });

test("--verbose shows debug lines with the time since the start; without it they are hidden", () => {
  for (const verbose of [true, false]) {
    const h = harness({ verbose });
    h.render({ type: "phase-start", phase: 1, name: "backup" });
    h.at(1234);
    h.render({ type: "log", level: "debug", message: "copied standards/a.md", data: { bytes: 12 } });
    h.render({ type: "log", level: "info", message: "content: 1 written" });
    assert.equal(h.out, verbose
      ? ["  +  0.000s phase 1 backup started", "  +  1.234s copied standards/a.md (bytes=12)", "  content: 1 written"]
      : ["  content: 1 written"]);
  }
});

test("progress off a terminal: nothing during the first second, then at most one plain line a second, and the last", () => {
  const h = harness();
  h.render({ type: "phase-start", phase: 1, name: "backup" });
  h.at(500);
  h.render(progress(100, 1000));
  h.at(1100);
  h.render(progress(200, 1000));
  h.at(1500);
  h.render(progress(300, 1000));
  h.at(2200);
  h.render(progress(400, 1000));
  h.at(2300);
  h.render(progress(1000, 1000));
  assert.equal(h.out, ["[err]   backup hashing 200/1000 (20%)", "[err]   backup hashing 400/1000 (40%)", "[err]   backup hashing 1000/1000 (100%)"]);
});

test("progress on a terminal: one line updated in place, cleared before the next output line", () => {
  const calls: string[] = [];
  const view: ProgressView = { update: (l) => calls.push(`update ${l}`), clear: () => calls.push("clear") };
  const h = harness({ tty: true, view });
  h.render({ type: "phase-start", phase: 2, name: "content" });
  h.at(1000);
  h.render(progress(1, 4));
  h.at(1050);
  h.render(progress(2, 4)); // under 100 ms since the last: skipped
  h.at(1200);
  h.render(progress(3, 4));
  h.render({ type: "phase-end", phase: 2, name: "content", status: "completed", duration_ms: 1300 });
  assert.equal(calls, ["update   backup hashing 1/4 (25%)", "update   backup hashing 3/4 (75%)", "clear"]);
  assert.equal(h.out, ["✓ phase 2 content     completed 1.3 s"]);
});

test("log-update draws the terminal progress line in place and erases it", () => {
  const written: string[] = [];
  const stream = Object.assign(Object.create(null), {
    isTTY: true,
    columns: 80,
    rows: 24,
    write(chunk: string) {
      written.push(String(chunk));
      return true;
    },
    on() {
      return stream;
    },
    once() {
      return stream;
    },
    off() {
      return stream;
    },
    removeListener() {
      return stream;
    },
  }) as unknown as NodeJS.WriteStream;
  const view = terminalProgress(stream);
  view.update("  content files 1/2 (50%)");
  view.update("  content files 2/2 (100%)");
  view.clear();
  const all = written.join("");
  assert.ok(all.includes("content files 1/2 (50%)"));
  assert.ok(all.includes("content files 2/2 (100%)"));
  assert.ok(all.includes("\u001B[2K"), "erases the line it drew");
});

test("every command spawned through ctx.$ is a debug line: the command, then its exit code and time", async () => {
  const dir = tmpDir("output-render");
  const events: LogEvent[] = [];
  const options = { target: dir, dryRun: false } as RunOptions;
  const ctx = createContext({
    layout: resolveLayout(dir),
    options,
    log: createLogger((e) => events.push(e)),
    signal: new AbortController().signal,
    session: () => null,
    evidence: () => undefined,
    plan: () => null,
  });
  await ctx.$`git --version`;
  const debug = events.filter((e): e is Extract<LogEvent, { type: "log" }> => e.type === "log" && e.level === "debug");
  assert.equal(debug.map((e) => e.message.replace(/ in \d+ ms/, " in N ms")), ["spawn git --version", "exit 0 in N ms: git --version"]);
  assert.equal(debug[0].data, { cwd: path.resolve(dir) });
});

test.after(removeTemps);
test.run();
