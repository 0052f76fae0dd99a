/**
 * Coordination of refreshes across gateway processes: a lease per token, so
 * that one process at a time refreshes it, and the background task's query.
 * Leases are timed by the store's own clock, never a gateway's.
 */
export interface LeaseStore {
  /**
   * Takes the refresh lease of a token for `owner` until `now + ttlMs`, if it
   * is free, already `owner`'s, or run out (a conditional update).
   * @returns whether `owner` now holds the lease; `false` also for an unknown id.
   */
  acquireLease(id: string, owner: string, ttlMs: number): Promise<boolean>;

  /** Gives the lease back if `owner` still holds it. */
  releaseLease(id: string, owner: string): Promise<void>;

  /**
   * Ids of tokens worth a background refresh: not failed, holding a refresh or
   * grant token, and whose access token is absent or expires before `before`.
   * Soonest first, at most `limit`.
   */
  findRefreshCandidates(before: Date, limit: number): Promise<string[]>;
}
