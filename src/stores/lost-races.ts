import { setTimeout as sleep } from 'node:timers/promises';

/** How many times a write runs at most while the database keeps rolling it back as a lost race. */
export const RACE_ATTEMPTS = 12;

/** Full jitter, doubling from 8 ms up to 200 ms: about a second in all before giving up. */
const backoffMs = (attempt: number) => Math.random() * Math.min(200, 4 * 2 ** attempt);

/**
 * Runs a write again while it fails with a race that left nothing behind
 * (`lostRace`: a deadlock, a lock wait timeout, a Galera certification
 * failure, all rolled back by the database; a concurrent insert of the same
 * key); at most `RACE_ATTEMPTS` times, then its last error is thrown.
 * `write` must be a whole statement or a whole transaction that re-reads what
 * it decides on: a retry is safe exactly because the failed attempt had no effect.
 */
export async function retryLostRaces<T>(write: () => Promise<T>, lostRace: (err: unknown) => boolean): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (!lostRace(err) || attempt >= RACE_ATTEMPTS) throw err;
      await sleep(backoffMs(attempt));
    }
  }
}
