/** Child process for the state test: rewrites one session state file in a loop until killed. */
import { StateStore } from "../../core/state.ts";

const [dir, id] = process.argv.slice(2);
const store = new StateStore(dir);
const state = store.load(id);
let n = 0;
process.stdout.write("ready\n");
for (;;) {
  n++;
  // A large, changing payload makes a torn write likely if writes were not atomic.
  state.journal.push({ at: new Date().toISOString(), phase: 2, step: `step-${n}`, data: { pad: "x".repeat(2000 + (n % 50) * 100) } });
  if (state.journal.length > 200) state.journal.splice(0, 100);
  store.save(state);
}
