import { setTimeout as sleep } from 'node:timers/promises';
import type { SqlExecutor } from './sql-executor';

/** How many times a write runs at most while the database keeps rolling it back as a lost race. */
export const RACE_ATTEMPTS = 10;

/** Full jitter, doubling from 8 ms up to 100 ms: about half a second in all before giving up. */
const backoffMs = (attempt: number) => Math.random() * Math.min(100, 4 * 2 ** attempt);

/**
 * Runs a write again while it fails with a race the database rolled back
 * (`classify` says `retry`: a deadlock, a lock wait timeout, a Galera
 * certification failure), or that `alsoRetry` recognizes; at most
 * `RACE_ATTEMPTS` times, then its last error is thrown. `write` must be a
 * whole statement or a whole transaction: a retry re-reads what it decides
 * on, so it is safe exactly because the failed attempt left nothing behind.
 */
export async function retryLostRaces<T>(exec: SqlExecutor, write: () => Promise<T>, alsoRetry?: (err: unknown) => boolean): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      const raced = exec.classify(err) === 'retry' || (alsoRetry?.(err) ?? false);
      if (!raced || attempt >= RACE_ATTEMPTS) throw err;
      await sleep(backoffMs(attempt));
    }
  }
}

/** Whether a statement lost a race the database rolled back (it had no effect). */
export const lostRace = (exec: SqlExecutor, err: unknown) => exec.classify(err) === 'retry';
