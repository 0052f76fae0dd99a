import { systemClock, type Clock } from '../clock';
import { RefreshRefusedError } from '../errors';
import type { Logger } from '../logger';
import type { LeaseStore } from '../stores/lease-store';
import type { TokenStore } from '../stores/token-store';
import type { RefreshEngine } from './refresh-engine';

export interface RefreshSchedulerOptions {
  tokens: TokenStore;
  leases: LeaseStore;
  engine: RefreshEngine;
  logger: Logger;
  /** How often to look for tokens to refresh; 0 turns the task off. */
  intervalMs: number;
  /** Tokens expiring within this window are refreshed. */
  refreshAheadMs: number;
  /** Refreshes running at once (default 4). */
  concurrency?: number;
  /** Tokens looked at per round (default 200). */
  batchSize?: number;
  /** What the task waits by: between rounds, before each refresh, and a refused token's back-off [the real clock]. Expiry is read by the wall clock. */
  clock?: Clock;
}

/**
 * The background refresh-ahead task: every interval it refreshes the tokens
 * that expire within the window (or hold only a grant token), a few at a
 * time, each after a random delay so that tokens expiring together do not
 * burst. Never a `FAILED` token. Runs safely in every gateway process: the
 * engine's lease lets one process refresh a token, and the others, finding
 * it taken or already refreshed, skip it.
 */
export class RefreshScheduler {
  /** The rounds, one after another, until stop(). */
  private loop: Promise<void> | null = null;
  private stopped = false;
  /** Aborted by stop(): ends the wait for the next round and the random waits before each refresh at once. */
  private readonly stopping = new AbortController();
  /** Tokens refused with a back-off code (`access_denied`): not retried before this time. */
  private readonly backoffUntil = new Map<string, number>();
  private readonly clock: Clock;

  constructor(private readonly o: RefreshSchedulerOptions) {
    this.clock = o.clock ?? systemClock;
  }

  start(): void {
    if (this.o.intervalMs <= 0 || this.loop || this.stopped) return;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    // First round after a random part of the interval, so processes started together spread out.
    let wait = Math.random() * Math.min(this.o.intervalMs, 5_000);
    for (;;) {
      // Unref'd, as a timer: the task never keeps the process alive.
      const waited = await this.clock.sleep(wait, { signal: this.stopping.signal, ref: false }).then(
        () => true,
        () => false,
      );
      if (!waited || this.stopped) return;
      await this.runOnce().catch((err: unknown) =>
        this.o.logger.warn({ err: { name: (err as Error)?.name, code: (err as { code?: unknown })?.code } }, 'background refresh round failed'),
      );
      wait = this.o.intervalMs;
    }
  }

  /**
   * Stops the task: no refresh starts from now on, and the ones in flight
   * (at the provider, or writing their result) are waited for.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    await this.loop;
  }

  /** One round: refreshes what is due. @returns how many tokens were refreshed upstream or found refreshed. */
  async runOnce(): Promise<number> {
    const now = this.clock.now();
    for (const [id, until] of this.backoffUntil) if (until <= now) this.backoffUntil.delete(id);
    const ids = (await this.o.leases.findRefreshCandidates(new Date(Date.now() + this.o.refreshAheadMs), this.o.batchSize ?? 200)).filter(
      (id) => (this.backoffUntil.get(id) ?? 0) <= now,
    );
    const spread = Math.min(this.o.intervalMs / 2, 5_000);
    let refreshed = 0;
    const queue = [...ids];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined && !this.stopped; id = queue.shift()) {
        const waited = await this.clock.sleep(Math.random() * (spread / Math.max(1, ids.length)), { signal: this.stopping.signal }).then(
          () => true,
          () => false,
        );
        if (!waited || this.stopped) return;
        if (await this.refreshOne(id)) refreshed++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.concurrency ?? 4, queue.length) }, worker));
    this.o.logger.debug({ candidates: ids.length, refreshed }, 'background refresh round done');
    return refreshed;
  }

  private async refreshOne(id: string): Promise<boolean> {
    try {
      const token = await this.o.tokens.findTokenById(id);
      if (!token || token.failedAt || this.stopped) return false;
      // The window stays well below the token's lifetime: a provider issuing
      // short-lived tokens would otherwise be refreshed in a loop.
      if (token.expiresAt && token.lastRefreshedAt) {
        const lifetime = token.expiresAt.getTime() - token.lastRefreshedAt.getTime();
        const window = Math.min(this.o.refreshAheadMs, lifetime / 2);
        if (token.expiresAt.getTime() - Date.now() > window) return false;
      }
      await this.o.engine.refresh(id, { force: false, trigger: 'background', waitForLease: false });
      return true;
    } catch (err) {
      if (err instanceof RefreshRefusedError && err.oauthError === 'access_denied') this.backoffUntil.set(id, this.clock.now() + 10 * 60_000);
      this.o.logger.debug({ tokenId: id, err: (err as Error)?.name }, 'background refresh did not succeed');
      return false;
    }
  }
}
