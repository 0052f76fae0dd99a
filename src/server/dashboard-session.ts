import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Principal } from '../resolvers/context.type';
import type { ApiKeys } from './api-keys';

/** The dashboard's session cookie: HttpOnly, so no script of the page can read it. */
export const SESSION_COOKIE = 'tg_session';

/** How long a dashboard session lasts after sign-in. */
export const SESSION_TTL_MS = 8 * 60 * 60 * 1000;

/**
 * Dashboard sessions, stateless: the cookie holds the SHA-256 digest of the API
 * key that signed in (never the key) and an expiry, signed with HMAC-SHA256
 * under a key derived from the encryption key, so every gateway process on the
 * same keys accepts it. Each request maps the digest back to the key's current
 * role: removing the key from `TOKENGATE_API_KEYS` ends its sessions.
 */
export class DashboardSessions {
  constructor(
    private readonly signingKey: Buffer,
    private readonly keys: ApiKeys,
    private readonly ttlMs = SESSION_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** A session for an API key: the cookie value and who it is, or null for an unknown key. */
  signIn(apiKey: string): { value: string; principal: Principal; expiresAt: Date } | null {
    const found = this.keys.identify(apiKey);
    if (!found) return null;
    const exp = this.now() + this.ttlMs;
    const payload = Buffer.from(JSON.stringify({ d: found.digest, e: exp }), 'utf8').toString('base64url');
    return { value: `${payload}.${this.sign(payload)}`, principal: found.principal, expiresAt: new Date(exp) };
  }

  /** Who a cookie value is, or null when it is malformed, forged, expired or its key is gone. */
  verify(value: string | undefined): Principal | null {
    if (!value || value.length > 512) return null;
    const dot = value.indexOf('.');
    if (dot <= 0) return null;
    const payload = value.slice(0, dot);
    const given = Buffer.from(value.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.sign(payload), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    let parsed: { d?: unknown; e?: unknown };
    try {
      parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return null;
    }
    if (typeof parsed.d !== 'string' || typeof parsed.e !== 'number' || parsed.e <= this.now()) return null;
    return this.keys.principalOfDigest(parsed.d);
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.signingKey).update(payload).digest('base64url');
  }
}

/** The value of one cookie in a `Cookie` header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Whether a browser's `Sec-Fetch-Site` allows the session cookie: absent (not
 * a browser, or an old one: `Origin` is checked too), or the gateway's own
 * page. Cross-origin callers must bring an API key instead.
 */
export function sameSiteFetch(secFetchSite: string | string[] | undefined): boolean {
  return secFetchSite === undefined || secFetchSite === 'same-origin' || secFetchSite === 'none';
}
