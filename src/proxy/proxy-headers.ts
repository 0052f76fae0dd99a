import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { ProviderProfile } from '../providers/provider';

/** Hop-by-hop headers (RFC 9110 §7.6.1), plus the proxy ones: they concern one connection, never the next. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/**
 * Request headers of the caller that never reach the provider: its
 * credentials (the gateway's own `Authorization`, cookies), what says where
 * it comes from (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`, `Via`, `Origin`,
 * `Referer`, the browser's `Sec-*`), and what the gateway sets itself
 * (`Host`, `Content-Length`, `Expect`).
 */
const DROPPED_REQUEST = new Set([
  'authorization',
  'cookie',
  'cookie2',
  'forwarded',
  'x-real-ip',
  'via',
  'origin',
  'referer',
  'host',
  'content-length',
  'expect',
  'x-request-id',
]);
const DROPPED_REQUEST_PREFIXES = ['x-forwarded-', 'sec-', 'tokengate-', 'access-control-'];

/** Response headers of the provider that never reach the caller: its cookies, and CORS (the gateway answers that itself). */
const DROPPED_RESPONSE = new Set(['set-cookie', 'set-cookie2']);
const DROPPED_RESPONSE_PREFIXES = ['access-control-', 'tokengate-'];

/** The names a `Connection` header lists: hop-by-hop for this message too. */
function connectionListed(headers: IncomingHttpHeaders): Set<string> {
  const v = headers.connection;
  return new Set(
    (Array.isArray(v) ? v.join(',') : (v ?? ''))
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
}

/** The caller's headers that may go to the provider (without authorization: the gateway adds its own). */
export function forwardedRequestHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionListed(headers);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || listed.has(name) || DROPPED_REQUEST.has(name) || DROPPED_REQUEST_PREFIXES.some((p) => name.startsWith(p))) continue;
    out[name] = value;
  }
  return out;
}

/**
 * The provider's headers that go back to the caller: everything but
 * hop-by-hop headers, cookies and CORS headers — its rate-limit headers
 * (`X-RATELIMIT-*`, `Retry-After`), content type and length, caching and
 * `WWW-Authenticate` pass as they are.
 */
export function returnedResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = connectionListed(headers);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || listed.has(name) || DROPPED_RESPONSE.has(name) || DROPPED_RESPONSE_PREFIXES.some((p) => name.startsWith(p))) continue;
    out[name] = value;
  }
  return out;
}

/**
 * How an access token is presented to the provider: in the scheme of the
 * token's provider profile (`ProviderProfile.apiAuthScheme` — Zoho's
 * `Zoho-oauthtoken`, a generic provider's `Bearer`).
 */
export function authorizationFor(profile: Pick<ProviderProfile, 'apiAuthScheme'>, accessToken: string): string {
  return `${profile.apiAuthScheme} ${accessToken}`;
}

/** Zoho's codes for an access token it no longer accepts. */
const ZOHO_INVALID_TOKEN_CODES = new Set(['INVALID_TOKEN', 'INVALID_OAUTHTOKEN']);

/**
 * Whether a 401 answer says the access token itself is invalid (so a new
 * one may help): Zoho's `{"code":"INVALID_TOKEN"}` / `INVALID_OAUTHTOKEN`
 * (also inside `data[0]`), or RFC 6750's `WWW-Authenticate: Bearer error="invalid_token"`.
 */
export function isInvalidTokenAnswer(status: number, headers: IncomingHttpHeaders, body: Buffer): boolean {
  if (status !== 401) return false;
  const challenge = headers['www-authenticate'];
  if (typeof challenge === 'string' && /\berror\s*=\s*"?invalid_token"?/i.test(challenge)) return true;
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return false;
  }
  const codeOf = (v: unknown) => (v && typeof v === 'object' ? (v as { code?: unknown }).code : undefined);
  const first = json && typeof json === 'object' && Array.isArray((json as { data?: unknown }).data) ? (json as { data: unknown[] }).data[0] : undefined;
  return [codeOf(json), codeOf(first)].some((c) => typeof c === 'string' && ZOHO_INVALID_TOKEN_CODES.has(c.toUpperCase()));
}
