/**
 * The types of the tokengate API as the client returns them (the contract is
 * `schema.graphql`): instants are `Date`s.
 */

/**
 * Where a token stands (`TokenStatus` of the API). `THROTTLED`: the
 * provider's issuing limits allow no new access token yet and none valid is
 * held (until `throttledUntil`).
 */
export type TokenStatus = 'ACTIVE' | 'EXPIRING' | 'EXPIRED' | 'PENDING_GRANT' | 'FAILED' | 'THROTTLED';

/** What is left of a token's issuing budget now, by the governor's counters (`TokenBudget` of the API). */
export interface TokenBudget {
  /** Access tokens a caller may still have minted now (0 while the provider blocks the token). */
  accessTokensLeft: number;
  /** The provider's access tokens per window. */
  accessTokensPerWindow: number;
  /** The rolling window, in seconds. */
  windowSeconds: number;
  /** When every mint counted now has left the window (the whole budget is back); null when none is counted. */
  resetsAt: Date | null;
  /** When the next access token may be minted, when none may be now; null when one may. */
  nextAt: Date | null;
}

/** A stored token. The secret fields are present as the client's `secrets` option asks. */
export interface Token {
  id: string;
  /** The CRM user's name (Zoho's user signature; `user_name` column). */
  userName: string | null;
  clientId: string | null;
  redirectUrl: string | null;
  apiDomain: string | null;
  /** Where this token refreshes. */
  accountsUrl: string | null;
  /** When the access token expires. */
  expiresAt: Date | null;
  status: TokenStatus;
  hasAccessToken: boolean;
  hasRefreshToken: boolean;
  hasGrantToken: boolean;
  lastRefreshedAt: Date | null;
  /** The provider's error code of the last failed refresh. */
  lastError: string | null;
  /** The provider profile the token belongs to: `zoho` unless saved with another. */
  provider: string;
  /** The OAuth client the token was connected through (its name); null for a token saved or imported without one. */
  client: string | null;
  /** True on a `refresh` result that is the held, still valid access token because the governor would not mint (false everywhere else). */
  throttled: boolean;
  /** Until when the provider's issuing limits hold the token back; null unless `status` is `THROTTLED`. */
  throttledUntil: Date | null;
  /** What is left of the token's issuing budget now; null when its provider limits no access tokens per window. */
  budget: TokenBudget | null;
  createdAt: Date;
  updatedAt: Date;
  /** With `secrets: 'access'` or `'all'` (operator and admin keys). */
  accessToken?: string | null;
  /** With `secrets: 'all'` (admin keys). */
  refreshToken?: string | null;
  /** With `secrets: 'all'` (admin keys). */
  clientSecret?: string | null;
  /** With `secrets: 'all'` (admin keys). */
  grantToken?: string | null;
}

/** The partial token of Zoho's `find_token`: user name, else access token, else grant token, else refresh token. */
export interface TokenMatch {
  userName?: string | null;
  accessToken?: string | null;
  refreshToken?: string | null;
  grantToken?: string | null;
  clientId?: string | null;
  clientSecret?: string | null;
}

/**
 * The input of `saveToken`: an upsert (by id, else Zoho's lookup rules).
 * A field left out keeps its stored value; `null` clears it. Give
 * `expiresAt` or `expiresIn` (seconds from now), not both.
 */
export interface TokenInput {
  id?: string | null;
  userName?: string | null;
  clientId?: string | null;
  clientSecret?: string | null;
  accessToken?: string | null;
  refreshToken?: string | null;
  grantToken?: string | null;
  redirectUrl?: string | null;
  apiDomain?: string | null;
  /** Must be on the gateway's allow-list; default: the data center of `apiDomain`. */
  accountsUrl?: string | null;
  /** A registered provider's name (default `zoho`); fixed when the token is first saved (leave it out to keep it; it cannot be cleared). */
  provider?: string;
  expiresAt?: Date | string | null;
  expiresIn?: number | null;
}

/** One page of `listTokens`. */
export interface TokenPage {
  nodes: Token[];
  totalCount: number;
  /** Pass as `after` for the next page. */
  endCursor: string | null;
  hasNextPage: boolean;
}
