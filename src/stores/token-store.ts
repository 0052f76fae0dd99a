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
   * @returns the token as stored.
   */
  saveToken(input: TokenInput, options?: SaveOptions): Promise<Token>;

  /** Zoho's `delete_token`. @returns whether a row was deleted (an absent id is not an error). */
  deleteToken(id: string): Promise<boolean>;

  /** Zoho's `get_tokens`: every token in listing order (`[]` when none). Loads them all: prefer `listTokens`. */
  getTokens(): Promise<Token[]>;

  /** Zoho's `delete_tokens`: removes all in one statement. @returns how many were deleted. */
  deleteTokens(): Promise<number>;

  /** Zoho's `find_token_by_id`. @returns the token or `null`. */
  findTokenById(id: string): Promise<Token | null>;

  /**
   * A page of tokens in a stable order (by id), starting after the opaque
   * cursor `after`. Each token appears exactly once in a full walk, whatever
   * is inserted or deleted meanwhile. @throws `INVALID_INPUT` for a malformed cursor.
   */
  listTokens(first: number, after?: string | null): Promise<TokenPage>;

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

  /** Resolves when the store answers; throws `UNAVAILABLE` otherwise. */
  ping(): Promise<void>;

  /** Releases connections and files. */
  close(): Promise<void>;
}

export type StoreKind = 'sqlite' | 'mysql' | 'memory';

export interface SaveOptions {
  /** Write only if the stored token's `version` is this (compare-and-swap). */
  ifVersion?: number;
  /**
   * Called with the merged token inside the write, before it is stored: may
   * fill fields (defaults that depend on the stored state) or throw a
   * `TokenStoreError` to refuse the write, which then changes nothing.
   */
  complete?: (token: Token) => void;
}
