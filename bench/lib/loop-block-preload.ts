/**
 * Preloaded into the soak's gateway process (`NODE_OPTIONS=--require …`):
 * measures its event loop with `perf_hooks.monitorEventLoopDelay` and
 * appends, once a second, `<epoch ms> <longest delay in that second, ms>
 * <longest garbage-collection pause in that second, ms> <its kind> <thread>`
 * to `BENCH_LOOP_BLOCK_FILE`.
 *
 * A delay is the time between two ticks of a LOOP_RESOLUTION_MS timer: the
 * longest block of the loop plus up to that resolution. The pauses
 * (`PerformanceObserver` of `gc` entries) tell a block that was the
 * collector's from one that was the gateway's code or the machine.
 *
 * A `--require` in NODE_OPTIONS runs in every worker thread too, so the
 * SQLite writer thread writes lines of its own: `<thread>` is `main` for the
 * event loop that serves the requests and `worker-<threadId>` for a worker,
 * whose loop is blocked by its commits by design (that is what moved them
 * off the main thread).
 */
import fs from 'node:fs';
import { constants, monitorEventLoopDelay, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { isMainThread, threadId } from 'node:worker_threads';

export const LOOP_RESOLUTION_MS = 10;

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

const file = process.env.BENCH_LOOP_BLOCK_FILE;
if (file) {
  const delay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  delay.enable();
  const thread = isMainThread ? 'main' : `worker-${threadId}`;
  let gc = { ms: 0, kind: '-' };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries() as Array<PerformanceEntry & { detail?: { kind?: number } }>) {
      if (e.duration > gc.ms) gc = { ms: e.duration, kind: GC_KINDS[e.detail?.kind ?? -1] ?? 'other' };
    }
  }).observe({ entryTypes: ['gc'] });
  setInterval(() => {
    // A second without a tick has no sample (max 0): its block shows in the next second's.
    fs.appendFileSync(file, `${Date.now()} ${(delay.max / 1e6).toFixed(1)} ${gc.ms.toFixed(1)} ${gc.kind} ${thread}\n`);
    delay.reset();
    gc = { ms: 0, kind: '-' };
  }, 1000).unref();
}
