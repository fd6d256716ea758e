/**
 * Fault injection for the crash tests, loaded only by tests:
 *
 *     node --import tsx --import ./tests/fault/preload.ts app/bin.ts …
 *
 * It wraps every mutating call of node:fs (sync, callback and promises APIs) and counts
 * them across the main thread and worker threads (workers inherit execArgv, so they load
 * this module too). At the k-th call it kills the process or fails the call:
 *
 *   AOU_FAULT_AT=k            the call to fault (1-based); absent: only count
 *   AOU_FAULT_KIND=kill|enospc|eio|eacces|diskfull   default kill (SIGKILL of the whole process);
 *                             diskfull: from the k-th call on, whatever needs new space fails (ENOSPC)
 *   AOU_FAULT_WHEN=before|after      fault before the call runs, or after it took effect
 *   AOU_FAULT_COUNT_FILE=<file>      the shared tally: one byte per call (its size is the count)
 *   AOU_FAULT_MATCH=<regex>          number only the calls whose path matches (aims the fault)
 *   AOU_FAULT_TRACE=<file>           with MATCH: one line per matched call, "<n> <call> <path>"
 *
 * The tally is a file opened in append mode: appends are atomic between threads, so every
 * thread sees one numbering. Writes of tsx's own transform cache are not counted (they
 * depend on what earlier runs cached, not on the upgrade).
 */
// The injector is plain CommonJS so that an evaluated worker (`new Worker(src, { eval: true })`,
// which does not run `--import` modules on Node 20) can `require` it too: see inject.cjs.
import "./inject.cjs";
