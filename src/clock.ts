import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Time as the refresh engine, the background task and the webhooks see it:
 * the real one in production; tests pass one they control, so that they wait
 * for a state by advancing time rather than by sleeping.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /**
   * Resolves after `ms`; rejects with an `AbortError` when `signal` is aborted first.
   * `ref: false` lets the process exit meanwhile, as an unref'ed timer.
   */
  sleep(ms: number, options?: { signal?: AbortSignal; ref?: boolean }): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, options = {}) => sleep(ms, undefined, options),
};
