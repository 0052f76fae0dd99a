/**
 * Preloaded into the soak's gateway process (`NODE_OPTIONS=--require …`):
 * measures its event loop with `perf_hooks.monitorEventLoopDelay` and
 * appends, once a second, `<epoch ms> <longest delay in that second, ms>` to
 * `BENCH_LOOP_BLOCK_FILE`. A delay is the time between two ticks of a
 * LOOP_RESOLUTION_MS timer: the longest block of the loop plus up to that
 * resolution.
 */
import fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

export const LOOP_RESOLUTION_MS = 10;

const file = process.env.BENCH_LOOP_BLOCK_FILE;
if (file) {
  const delay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  delay.enable();
  setInterval(() => {
    // A second without a tick has no sample (max 0): its block shows in the next second's.
    fs.appendFileSync(file, `${Date.now()} ${(delay.max / 1e6).toFixed(1)}\n`);
    delay.reset();
  }, 1000).unref();
}
