/**
 * The generic OAuth 2.0 profile (RFC 6749 token endpoint, RFC 7009
 * revocation): one issuer with configured endpoints, `client_secret_basic`
 * (default) or `client_secret_post`, errors as HTTP 400/401 with an RFC 6749
 * §5.2 body, a refresh token that may rotate on any refresh, and an
 * `expires_in` that may be absent (then the expiry is unknown). Limits: none
 * unless configured.
 */
import type { Endpoint } from '../oauth/token-requests';
import { mergeLimits, NO_LIMITS, type ProviderDefinition, type ProviderProfile } from './provider';

/** The profile of a registered generic provider. */
export function oauth2Profile(definition: ProviderDefinition): ProviderProfile {
  if (definition.tokenUrl === null) throw new TypeError('a generic provider needs a tokenUrl');
  const clientAuth = definition.clientAuthMethod;
  const token: Endpoint = Object.freeze({ url: definition.tokenUrl, clientAuth });
  const revocation: Endpoint | null = definition.revocationUrl === null ? null : Object.freeze({ url: definition.revocationUrl, clientAuth });
  return Object.freeze({
    name: definition.name,
    kind: 'oauth2' as const,
    clientAuthMethod: clientAuth,
    pkce: definition.pkce,
    limits: mergeLimits(NO_LIMITS, definition.limits),
    expiryRequired: false,
    usesAccountsUrl: false,
    // RFC 7009 §2.1: the client authenticates at the revocation endpoint as at the token endpoint.
    revocationAuthenticated: true,
    // RFC 6750 §2.1.
    apiAuthScheme: 'Bearer',
    authorizationUrl: () => definition.authorizationUrl,
    tokenEndpoint: () => token,
    revocationEndpoint: () => revocation,
  });
}
