/**
 * The Zoho profile: Zoho Accounts, one server per data center
 * (`../oauth/data-centers.ts`), `client_secret_post`, errors with HTTP 200,
 * no refresh-token rotation, and Zoho's documented issuing limits as the
 * defaults (each configurable with `saveProvider(name: "zoho", limits)`).
 */
import type { Endpoint } from '../oauth/token-requests';
import { mergeLimits, ZOHO, type ProviderLimits, type ProviderProfile } from './provider';

/**
 * Zoho's documented issuing limits: 10 access tokens per refresh token per
 * 10 minutes, 15 alive per refresh token (an access token lives an hour), 20
 * refresh tokens per user and client, 10 grant exchanges per client per 10 minutes.
 */
export const ZOHO_DEFAULT_LIMITS: ProviderLimits = Object.freeze({
  accessTokensPerWindow: 10,
  windowSeconds: 600,
  maxAliveAccessTokens: 15,
  refreshTokensPerUser: 20,
  grantsPerWindow: 10,
  accessTokenLifetimeSeconds: 3600,
});

/** The paths of Zoho Accounts' endpoints, below a data center's accounts URL. */
export const ZOHO_PATHS = Object.freeze({ authorization: '/oauth/v2/auth', token: '/oauth/v2/token', revocation: '/oauth/v2/token/revoke' });

const trimSlash = (url: string) => url.replace(/\/+$/, '');

/** The endpoint at `path` of an accounts URL (an origin the caller has checked). */
function at(accountsUrl: string | null, path: string): string {
  if (accountsUrl === null) throw new TypeError('a Zoho endpoint needs the accounts URL of the token');
  return `${trimSlash(accountsUrl)}${path}`;
}

/** The Zoho profile, with `limits` over Zoho's defaults. */
export function zohoProfile(limits: Partial<ProviderLimits> = {}): ProviderProfile {
  return Object.freeze({
    name: ZOHO,
    kind: 'zoho' as const,
    clientAuthMethod: 'client_secret_post' as const,
    // Zoho does not document PKCE: none is sent.
    pkce: false,
    limits: mergeLimits(ZOHO_DEFAULT_LIMITS, limits),
    expiryRequired: true,
    usesAccountsUrl: true,
    revocationAuthenticated: false,
    // Zoho's APIs take their own scheme, not RFC 6750's Bearer.
    apiAuthScheme: 'Zoho-oauthtoken',
    authorizationUrl: (accountsUrl: string | null) => at(accountsUrl, ZOHO_PATHS.authorization),
    tokenEndpoint: (accountsUrl: string | null): Endpoint => ({ url: at(accountsUrl, ZOHO_PATHS.token), clientAuth: 'client_secret_post' }),
    revocationEndpoint: (accountsUrl: string | null): Endpoint => ({ url: at(accountsUrl, ZOHO_PATHS.revocation), clientAuth: 'client_secret_post' }),
  });
}
