/**
 * The token as the rest of tokengate sees it: plaintext values, instants as
 * `Date`. Stores encrypt the secret fields on the way in and decrypt them on
 * the way out; nothing outside `src/stores` sees ciphertext.
 */

/** The fields that are secrets: encrypted at rest, never logged, never in an error. */
export const SECRET_FIELDS = ['clientSecret', 'refreshToken', 'accessToken', 'grantToken'] as const;
export type SecretField = (typeof SECRET_FIELDS)[number];

/** The fields looked up by value, through a keyed hash column. */
export const LOOKUP_SECRET_FIELDS = ['accessToken', 'refreshToken', 'grantToken'] as const;
export type LookupSecretField = (typeof LOOKUP_SECRET_FIELDS)[number];

/** A stored token (Zoho's `OAuthToken` plus tokengate's own state). */
export interface Token {
  /** Opaque, unique; generated (random, URL-safe) when a token is first saved without one. */
  id: string;
  /** The CRM user's name (Zoho `user_name`, older SDKs `user_mail`). Unique where not null. */
  userName: string | null;
  clientId: string | null;
  clientSecret: string | null;
  refreshToken: string | null;
  accessToken: string | null;
  grantToken: string | null;
  /** When the access token expires (absolute). */
  expiresAt: Date | null;
  redirectUrl: string | null;
  apiDomain: string | null;
  /** Where this token refreshes; fixed when the token is first saved. */
  accountsUrl: string | null;
  /** The last successful refresh or grant exchange. */
  lastRefreshedAt: Date | null;
  /** The provider's error code of the last failed refresh, e.g. `invalid_code`. */
  lastError: string | null;
  /** Set when a refresh failed permanently: the token needs re-authorization (`FAILED`). */
  failedAt: Date | null;
  /** The provider profile it belongs to (`src/providers/`): `zoho` unless saved with another. */
  provider: string;
  /** Until when the governor refuses to mint for it and no valid access token is held (`THROTTLED`). */
  throttledUntil: Date | null;
  /** The name of the OAuth client it was connected through (`saveClient`); null for tokens saved or imported without one. */
  client: string | null;
  createdAt: Date;
  updatedAt: Date;
  /** Incremented by every write; used for compare-and-swap. */
  version: number;
}

/** Fields a caller may set; `version`, `createdAt` and `updatedAt` belong to the store. */
export type WritableField = Exclude<keyof Token, 'id' | 'createdAt' | 'updatedAt' | 'version'>;

/** Every writable field, in a fixed order. */
export const WRITABLE_FIELDS: readonly WritableField[] = [
  'userName',
  'clientId',
  'clientSecret',
  'refreshToken',
  'accessToken',
  'grantToken',
  'expiresAt',
  'redirectUrl',
  'apiDomain',
  'accountsUrl',
  'lastRefreshedAt',
  'lastError',
  'failedAt',
  'provider',
  'throttledUntil',
  'client',
];

/**
 * The input of `saveToken`. A field that is absent (`undefined`) is left as
 * stored; a field given as `null` is cleared. On insert, absent fields are null.
 */
export type TokenInput = { id?: string } & { [K in WritableField]?: Token[K] };

/** The partial token of `findToken` (Zoho's `find_token`). */
export interface TokenMatch {
  userName?: string | null;
  accessToken?: string | null;
  refreshToken?: string | null;
  grantToken?: string | null;
  clientId?: string | null;
  clientSecret?: string | null;
}

/** One page of the stable listing. */
export interface TokenPage {
  nodes: Token[];
  /** Opaque; pass as `after` to get the next page. Null on an empty page. */
  endCursor: string | null;
  hasNextPage: boolean;
}
