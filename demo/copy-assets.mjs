// Part of `npm run build`: tsc compiles demo/ to dist/demo but copies no other files, and the
// demo reads its assets next to its code, so the tarballs and the fixtures' Python files
// are copied there (no byte-code caches).
import fs from "node:fs";

const FILES = ["demo/assets", "demo/kit/mcp-fixture", "demo/kit/dist-fixture", "demo/kit/make_wheel.py"];
for (const from of FILES) {
  fs.cpSync(from, `dist/${from}`, { recursive: true, filter: (p) => !/__pycache__|\.pyc$/.test(p) });
}
