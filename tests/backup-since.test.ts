import { test } from "uvu";
import * as assert from "uvu/assert";
import fs from "node:fs";
import path from "node:path";
import { changedSince, digestPath, recordAfter } from "../plugins/backup/since.ts";
import { AFTER } from "../plugins/backup/manifest.ts";
import { tmpDir } from "./helpers/temp.ts";

/** A project with a venv-like folder of packages and a file, and an empty backup folder. */
function project(): { root: string; backup: string } {
  const root = tmpDir("since");
  for (let p = 0; p < 3; p++) {
    for (let m = 0; m < 5; m++) {
      fs.mkdirSync(path.join(root, ".agent-os/venv/site", `pkg${p}`), { recursive: true });
      fs.writeFileSync(path.join(root, ".agent-os/venv/site", `pkg${p}`, `m${m}.py`), `x = ${p * 10 + m}\n`);
    }
  }
  fs.writeFileSync(path.join(root, ".gitignore"), "node_modules/\n");
  const backup = path.join(root, ".agent-os/.backups/b1");
  fs.mkdirSync(backup, { recursive: true });
  return { root, backup };
}

const SCOPE = [".agent-os/venv", ".gitignore"];
const readRecord = (backup: string) => JSON.parse(fs.readFileSync(path.join(backup, AFTER), "utf8"));

test("nothing changed since the record: no path is named", () => {
  const { root, backup } = project();
  recordAfter(backup, root, SCOPE);
  assert.equal(changedSince(backup, root), []);
  assert.is(Object.keys(readRecord(backup).files).length, 16);
});

test("a byte changed with size and mtime put back is still found (the ctime moved)", () => {
  const { root, backup } = project();
  const f = path.join(root, ".agent-os/venv/site/pkg1/m2.py");
  const st = fs.statSync(f);
  recordAfter(backup, root, SCOPE);
  fs.writeFileSync(f, "x = 99\n");
  fs.utimesSync(f, st.atime, st.mtime);
  assert.is(fs.statSync(f).size, st.size);
  assert.equal(changedSince(backup, root), [".agent-os/venv"]);
  fs.appendFileSync(path.join(root, ".gitignore"), "dist/\n");
  assert.equal(changedSince(backup, root), [".agent-os/venv", ".gitignore"]);
});

test("a file whose fingerprint has not moved is taken from the record, not read again", () => {
  const { root, backup } = project();
  recordAfter(backup, root, SCOPE);
  const rec = readRecord(backup);
  // Recorded well after the files' last change (so none is racy), with one recorded digest
  // altered: only a comparison that trusts the fingerprint sees the alteration.
  rec.recorded_at = new Date(Date.now() + 10_000).toISOString();
  rec.files[".agent-os/venv/site/pkg0/m0.py"][4] = "file:644:" + "0".repeat(64);
  fs.writeFileSync(path.join(backup, AFTER), JSON.stringify(rec));
  assert.equal(changedSince(backup, root), [".agent-os/venv"]);
  // Touched within the racy second of the record: hashed again, so the real bytes decide.
  rec.recorded_at = new Date().toISOString();
  fs.writeFileSync(path.join(backup, AFTER), JSON.stringify(rec));
  assert.equal(changedSince(backup, root), []);
});

test("a record of version 1 (digests only) is still compared, by hashing", () => {
  const { root, backup } = project();
  const digests = Object.fromEntries(SCOPE.map((rel) => [rel, digestPath(path.join(root, rel))]));
  fs.writeFileSync(path.join(backup, AFTER), JSON.stringify({ version: 1, recorded_at: new Date().toISOString(), digests }));
  assert.equal(changedSince(backup, root), []);
  fs.rmSync(path.join(root, ".agent-os/venv/site/pkg2/m4.py"));
  assert.equal(changedSince(backup, root), [".agent-os/venv"]);
});

test.run();
