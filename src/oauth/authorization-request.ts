/**
 * The authorization request of the connect flow (RFC 6749 §4.1.1, with PKCE
 * per RFC 7636 §4): the URL a person's browser is sent to, to sign in at the
 * provider and consent. Pure: builds a URL, sends nothing.
 */
import { createHash, randomBytes } from 'node:crypto';

/** What goes into an authorization request. */
export interface AuthorizationRequestParams {
  /** The provider's authorization endpoint (its own query, if any, is kept). */
  endpoint: string;
  clientId: string;
  /** The redirect URI registered at the provider (`{TOKENGATE_PUBLIC_URL}/oauth/callback`). */
  redirectUri: string;
  scopes: readonly string[];
  /** The single-use `state` that the callback must bring back. */
  state: string;
  /** Zoho's dialect: comma-separated scopes, `access_type=offline` (a refresh token) and `prompt=consent`. */
  zoho: boolean;
  /** The PKCE code challenge (S256), for a provider that uses PKCE. */
  codeChallenge?: string | null;
}

/**
 * The authorization URL. For Zoho:
 * `{accounts}/oauth/v2/auth?response_type=code&client_id=…&scope=a,b&redirect_uri=…&access_type=offline&prompt=consent&state=…`;
 * for a generic provider the scopes are space-separated (RFC 6749 §3.3) and
 * a PKCE challenge is added when given.
 */
export function authorizationRequestUrl(p: AuthorizationRequestParams): string {
  const url = new URL(p.endpoint);
  const q = url.searchParams;
  q.set('response_type', 'code');
  q.set('client_id', p.clientId);
  if (p.scopes.length > 0) q.set('scope', p.scopes.join(p.zoho ? ',' : ' '));
  q.set('redirect_uri', p.redirectUri);
  if (p.zoho) {
    q.set('access_type', 'offline');
    q.set('prompt', 'consent');
  }
  q.set('state', p.state);
  if (p.codeChallenge) {
    q.set('code_challenge', p.codeChallenge);
    q.set('code_challenge_method', 'S256');
  }
  return url.toString();
}

/** A random 256-bit value, base64url (43 characters): a `state`, or a PKCE code verifier (RFC 7636 §4.1). */
export function random256(): string {
  return randomBytes(32).toString('base64url');
}

/** The S256 code challenge of a verifier (RFC 7636 §4.2): base64url(SHA-256(verifier)). */
export function codeChallengeS256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** The SHA-256 (hex) of a `state`: what is stored and looked up, never the state itself. */
export function stateHash(state: string): string {
  return createHash('sha256').update(state, 'utf8').digest('hex');
}
