/**
 * A provider profile: what the gateway needs to know about an OAuth 2.0
 * authorization server to refresh, exchange and revoke its tokens, and the
 * limits it puts on issuing them. One file per provider beside this one
 * (`zoho.ts`, `oauth2.ts`); a token names its profile (`Token.provider`).
 */
import type { ClientAuthMethod, Endpoint } from '../oauth/token-requests';

/** The name of the built-in Zoho profile, every token's default. */
export const ZOHO = 'zoho';

/**
 * The issuing limits of a provider; `null` means there is no such limit.
 * Counted by the governor (`./governor.ts`) across every gateway process.
 */
export interface ProviderLimits {
  /** Access tokens minted per refresh token in any rolling window (Zoho: 10). */
  accessTokensPerWindow: number | null;
  /** The rolling window, in seconds (Zoho: 600). */
  windowSeconds: number | null;
  /** Access tokens alive at once per refresh token (Zoho: 15); minting one more kills the oldest. */
  maxAliveAccessTokens: number | null;
  /** Refresh tokens per user and client (Zoho: 20); minting one more deletes the oldest. */
  refreshTokensPerUser: number | null;
  /** Grant exchanges per client in any rolling window (Zoho: 10). */
  grantsPerWindow: number | null;
  /** How long a minted access token counts as alive, in seconds (Zoho: 3600). */
  accessTokenLifetimeSeconds: number | null;
}

export const LIMIT_FIELDS = [
  'accessTokensPerWindow',
  'windowSeconds',
  'maxAliveAccessTokens',
  'refreshTokensPerUser',
  'grantsPerWindow',
  'accessTokenLifetimeSeconds',
] as const satisfies ReadonlyArray<keyof ProviderLimits>;

/** No limit at all: a generic provider's default. */
export const NO_LIMITS: ProviderLimits = Object.freeze({
  accessTokensPerWindow: null,
  windowSeconds: null,
  maxAliveAccessTokens: null,
  refreshTokensPerUser: null,
  grantsPerWindow: null,
  accessTokenLifetimeSeconds: null,
});

/** `zoho` (the built-in profile) or `oauth2` (a generic RFC 6749 server registered by an admin). */
export type ProviderKind = 'zoho' | 'oauth2';

/**
 * A provider profile. Endpoints are functions of the token's accounts URL:
 * Zoho has one Accounts server per data center; a generic provider has one
 * issuer and ignores it.
 */
export interface ProviderProfile {
  readonly name: string;
  readonly kind: ProviderKind;
  readonly clientAuthMethod: ClientAuthMethod;
  /** Whether the connect flow uses PKCE (`S256`) with this provider. */
  readonly pkce: boolean;
  readonly limits: ProviderLimits;
  /** Whether a success must carry `expires_in` (Zoho: always; elsewhere absent means unknown). */
  readonly expiryRequired: boolean;
  /** Whether the token's `accountsUrl` chooses the endpoints (Zoho's data centers). */
  readonly usesAccountsUrl: boolean;
  /** The authorization endpoint (the consent screen of the connect flow), or null when unknown. */
  authorizationUrl(accountsUrl: string | null): string | null;
  /** The token endpoint: refreshes and grant exchanges. */
  tokenEndpoint(accountsUrl: string | null): Endpoint;
  /** The revocation endpoint (RFC 7009), or null when the provider has none. */
  revocationEndpoint(accountsUrl: string | null): Endpoint | null;
  /** Whether revocations carry the client's credentials (RFC 7009 §2.1); Zoho's take the token alone. */
  readonly revocationAuthenticated: boolean;
  /**
   * How an access token is presented to the provider's APIs (the API proxy):
   * `Authorization: <scheme> <access token>`. Zoho: its own `Zoho-oauthtoken`;
   * a generic provider: `Bearer` (RFC 6750).
   */
  readonly apiAuthScheme: string;
}

/** What an admin registers (`saveProvider`, `TOKENGATE_PROVIDERS_FILE`), checked. */
export interface ProviderDefinition {
  name: string;
  tokenUrl: string | null;
  authorizationUrl: string | null;
  revocationUrl: string | null;
  clientAuthMethod: ClientAuthMethod;
  pkce: boolean;
  /** Only the limits given; the rest take the profile's defaults. */
  limits: Partial<ProviderLimits>;
}

/** The limits of a profile after an override: each field given replaces the default. */
export function mergeLimits(defaults: ProviderLimits, override: Partial<ProviderLimits> | undefined): ProviderLimits {
  const out: ProviderLimits = { ...defaults };
  if (override) for (const f of LIMIT_FIELDS) if (override[f] !== undefined) out[f] = override[f]!;
  return Object.freeze(out);
}
