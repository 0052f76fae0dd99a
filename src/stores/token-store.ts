import type { AuditedWrite, AuditEvent, AuditPage, AuditQuery } from '../audit/audit';
import type { GovernorStore } from './governor-store';
import type { ProviderStore } from './provider-store';
import type { Token, TokenInput, TokenMatch, TokenPage } from './token';

/**
 * The token store: the six methods of Zoho's SDK `TokenStore`, with the rules
 * of `shared/spec/token-store.md`, plus what the gateway needs on top (a paged
 * listing, compare-and-swap writes, refresh leases).
 *
 * Every method either succeeds or throws a `TokenStoreError` naming the
 * operation, and a failed write leaves the stored data as it was.
 */
export interface TokenStore {
  /** `sqlite`, `mysql` or `memory`. */
  readonly kind: StoreKind;

  /** The registered providers, on the same database. */
  readonly providers: ProviderStore;

  /** The governor's counters, on the same database. */
  readonly governor: GovernorStore;

  /**
   * Zoho's `find_token`: the first rule whose input is present wins —
   * 1. `userName` (non-empty);
   * 2. else `accessToken`, when `clientId` and `clientSecret` are both absent;
   * 3. else `grantToken` (non-empty), with `clientId` matching where given;
   * 4. else `refreshToken` (non-empty), with `clientId` matching where given.
   * Values match exactly (no case folding, no wildcards).
   * @returns the token, or `null` when nothing matches.
   * @throws TokenStoreError `INVALID_INPUT` when the partial has none of these.
   */
  findToken(match: TokenMatch): Promise<Token | null>;

  /**
   * Zoho's `save_token`: an upsert that never makes a duplicate.
   * 1. `id` given → that row (inserted with that id when absent, as imports keep Zoho's ids);
   * 2. else the first `findToken` rule that applies to the input → that row;
   * 3. else a new row with a generated id.
   * Absent fields keep their stored value; `null` clears. A token without any
   * access, refresh or grant token (after the update) is refused.
   * With `options.ifVersion`, the write happens only if the stored version is
   * still that one (compare-and-swap), else it throws `CONFLICT`.
   * Records `options.audit` (default `SAVE` by `system:store`, with the names
   * of the fields given) in the same transaction.
   * @returns the token as stored.
   */
  saveToken(input: TokenInput, options?: SaveOptions): Promise<Token>;

  /**
   * Zoho's `delete_token`. @returns whether a row was deleted (an absent id is not an error).
   * A deletion records `options.audit` (default `DELETE` by `system:store`) in the same transaction.
   */
  deleteToken(id: string, options?: AuditedWrite): Promise<boolean>;

  /** Zoho's `get_tokens`: every token in listing order (`[]` when none). Loads them all: prefer `listTokens`. */
  getTokens(): Promise<Token[]>;

  /**
   * Zoho's `delete_tokens`: removes all in one statement. @returns how many were deleted.
   * Records one `options.audit` entry per deleted token (action default `DELETE_ALL`) in the same transaction.
   */
  deleteTokens(options?: AuditedWrite): Promise<number>;

  /** Zoho's `find_token_by_id`. @returns the token or `null`. */
  findTokenById(id: string): Promise<Token | null>;

  /**
   * A page of tokens in a stable order (by id), starting after the opaque
   * cursor `after`. Each token appears exactly once in a full walk, whatever
   * is inserted or deleted meanwhile. @throws `INVALID_INPUT` for a malformed cursor.
   */
  listTokens(first: number, after?: string | null): Promise<TokenPage>;

  /** How many tokens are stored (a separate call: a page does not count, as counting reads the whole table). */
  countTokens(): Promise<number>;

  /**
   * Takes the refresh lease of a token for `owner` until `now + ttlMs`, if it is
   * free or its lease has run out (a conditional update: correct on every engine).
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

  /** Records audit entries on their own (reads, failed refreshes: nothing else is written). */
  appendAudit(events: readonly AuditEvent[]): Promise<void>;

  /** A page of the audit trail, newest first. @throws `INVALID_INPUT` for a malformed cursor or page size. */
  listAudit(query: AuditQuery): Promise<AuditPage>;

  /** Deletes audit entries recorded before `before`. @returns how many. */
  pruneAudit(before: Date): Promise<number>;

  /** How many tokens have their secrets encrypted under each key id (an empty list for a store that encrypts nothing). */
  keyUsage(): Promise<KeyUsage[]>;

  /**
   * Key rotation: re-encrypts (and re-hashes) under the current key up to
   * `limit` tokens written under another key, in id order after `after`.
   * Each row is a compare-and-swap on its version: a row written meanwhile
   * (which re-encrypted it under the writer's current key) is skipped. Does
   * not change a token's version or `updatedAt`. Resumable: rows done stay done.
   */
  reencryptBatch(limit: number, after: string | null): Promise<ReencryptBatch>;

  /** Resolves when the store answers; throws `UNAVAILABLE` otherwise. */
  ping(): Promise<void>;

  /** Releases connections and files. */
  close(): Promise<void>;
}

export type StoreKind = 'sqlite' | 'mysql' | 'memory';

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

export interface SaveOptions extends AuditedWrite {
  /** Write only if the stored token's `version` is this (compare-and-swap). */
  ifVersion?: number;
  /**
   * Called with the merged token inside the write, before it is stored: may
   * fill fields (defaults that depend on the stored state) or throw a
   * `TokenStoreError` to refuse the write, which then changes nothing.
   * `existing` is the stored token the write replaces (null for an insert).
   */
  complete?: (token: Token, existing: Token | null) => void;
}
