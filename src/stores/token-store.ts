import type { AuditedWrite } from '../audit/audit';
import type { Token, TokenInput, TokenMatch, TokenPage } from './token';

/**
 * The token store: the six methods of Zoho's SDK `TokenStore`, plus a paged
 * listing and a count. Every method either succeeds or throws a
 * `TokenStoreError` naming the operation, and a failed write leaves the stored
 * data as it was. Writes record their audit entry in the same transaction.
 */
export interface TokenStore {
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
   * of the fields given).
   * @returns the token as stored.
   */
  saveToken(input: TokenInput, options?: SaveOptions): Promise<Token>;

  /**
   * Zoho's `delete_token`. @returns whether a row was deleted (an absent id is not an error).
   * Records `options.audit` (default `DELETE` by `system:store`).
   */
  deleteToken(id: string, options?: AuditedWrite): Promise<boolean>;

  /** Zoho's `get_tokens`: every token in listing order (`[]` when none). Loads them all: prefer `listTokens`. */
  getTokens(): Promise<Token[]>;

  /**
   * Zoho's `delete_tokens`: removes all at once. @returns how many were deleted.
   * Records one `options.audit` entry per deleted token (action default `DELETE_ALL`).
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

  /** How many tokens are stored (a separate call: counting reads the whole table). */
  countTokens(): Promise<number>;
}

export type StoreKind = 'sqlite' | 'mysql' | 'memory';

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
