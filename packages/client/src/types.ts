/**
 * The types of the tokengate API as the client returns them (the contract is
 * `schema.graphql`): instants are `Date`s.
 */

/** Where a token stands (`TokenStatus` of the API). */
export type TokenStatus = 'ACTIVE' | 'EXPIRING' | 'EXPIRED' | 'PENDING_GRANT' | 'FAILED';

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
