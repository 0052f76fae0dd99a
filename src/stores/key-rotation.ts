/** Re-encryption of stored secrets under the current key (`tokengate keys rotate`). */
export interface KeyRotation {
  /** How many tokens have their secrets encrypted under each key id (empty for a store that encrypts nothing). */
  keyUsage(): Promise<KeyUsage[]>;

  /**
   * Re-encrypts (and re-hashes) under the current key up to `limit` tokens
   * written under another key, in id order after `after`. Each row is a
   * compare-and-swap on its version: a row written meanwhile (which
   * re-encrypted it under the writer's current key) is skipped. Does not
   * change a token's version or `updatedAt`. Resumable: rows done stay done.
   */
  reencryptBatch(limit: number, after: string | null): Promise<ReencryptBatch>;
}

export interface KeyUsage {
  keyId: string;
  tokens: number;
}

export interface ReencryptBatch {
  /** Rows looked at (written under another key when read). */
  scanned: number;
  /** Rows now under the current key. */
  reencrypted: number;
  /** Rows changed by a concurrent write between read and update (that write re-encrypted them). */
  skipped: number;
  /** Ids of rows whose secrets did not decrypt (left as they are). */
  failed: string[];
  /** The id to continue after; null when no row was left to scan. */
  lastId: string | null;
}
