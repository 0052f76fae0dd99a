import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Role } from '../config';
import { readOrCreateSecretFile } from '../crypto/key-file';
import { badInput } from '../errors';
import { normalizePrefix, prefixCovers } from './proxy-path';

export const PROXY_CREDENTIAL_KEY_FILE = 'proxy-credential.key';

/** Methods a credential may grant. */
export const GRANTABLE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type GrantableMethod = (typeof GRANTABLE_METHODS)[number];

export const MAX_CREDENTIAL_TTL_SECONDS = 3600;
const MAX_PREFIXES = 20;
/** Longer than any credential this gateway signs; a longer header is not worth hashing. */
const MAX_CREDENTIAL_LENGTH = 4096;
const AUDIENCE = 'tokengate-proxy';
const HEADER = { alg: 'HS256', typ: 'JWT' } as const;

/** What a proxy credential grants, and to whom it was issued. */
export interface ProxyGrant {
  tokenId: string;
  /** Upper case; HEAD is implied by GET. */
  methods: string[];
  /** Segment-wise prefixes, without a trailing slash. */
  pathPrefixes: string[];
  expiresAt: Date;
  /** The API key that issued it (role and name, never the key): the actor of its audit entries. */
  issuedBy: { role: Role; name: string };
}

/** Why a presented credential is not accepted (the caller gets `UNAUTHENTICATED` with a message of this). */
export type CredentialCheck = { ok: true; grant: ProxyGrant } | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' };

const b64json = (v: unknown) => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');

/**
 * Proxy credentials: short-lived bearer credentials for browsers, bound to
 * one token, a set of methods and a set of path prefixes.
 *
 * They are JWTs (HS256) signed with the gateway's proxy credential key, and
 * nothing of them is stored. Why signed rather than opaque and stored hashed:
 * a check costs one HMAC in memory instead of a database read per proxied
 * request; every gateway process sharing the key accepts them with no table
 * to migrate or replicate; and they live at most an hour, so the one thing
 * stored ones would add — revoking a single credential — matters little.
 * Rotating the key (`TOKENGATE_PROXY_CREDENTIAL_KEY`, or deleting the
 * generated key file) revokes every credential issued.
 */
export class ProxyCredentials {
  private readonly headerPart: string;

  constructor(private readonly key: Buffer) {
    // `kid`: which key signed it (a fingerprint, not the key), so a rotated-away credential is told apart in a log.
    const kid = createHash('sha256').update(key).digest('base64url').slice(0, 8);
    this.headerPart = b64json({ ...HEADER, kid });
  }

  /**
   * Signs a credential. Checks and normalizes its input.
   * @throws ServiceError `BAD_USER_INPUT` for a ttl outside 1..3600, an unknown method or a refused prefix.
   */
  issue(
    input: { tokenId: string; ttlSeconds: number; methods: readonly string[]; pathPrefixes: readonly string[]; issuedBy: { role: Role; name: string } },
    now = Date.now(),
  ): { credential: string; expiresAt: Date } {
    const { ttlSeconds } = input;
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_CREDENTIAL_TTL_SECONDS)
      throw badInput(`ttlSeconds must be between 1 and ${MAX_CREDENTIAL_TTL_SECONDS}`);
    const methods = [...new Set(input.methods.map((m) => m.trim().toUpperCase()))];
    if (methods.length === 0) throw badInput('methods must name at least one method, e.g. ["GET"]');
    const unknown = methods.find((m) => !(GRANTABLE_METHODS as readonly string[]).includes(m));
    if (unknown !== undefined) throw badInput(`methods: ${JSON.stringify(unknown.slice(0, 16))} is not one of ${GRANTABLE_METHODS.join(', ')}`);
    if (input.pathPrefixes.length === 0 || input.pathPrefixes.length > MAX_PREFIXES)
      throw badInput(`pathPrefixes must hold 1 to ${MAX_PREFIXES} prefixes, e.g. ["/crm/v8/Leads"]`);
    const prefixes = input.pathPrefixes.map((p, i) => {
      try {
        return normalizePrefix(p.trim());
      } catch (err) {
        throw badInput(`pathPrefixes[${i}]: ${(err as Error).message}`);
      }
    });
    const iat = Math.floor(now / 1000);
    const exp = iat + ttlSeconds;
    const payload = b64json({
      aud: AUDIENCE,
      sub: input.tokenId,
      mth: methods,
      pfx: [...new Set(prefixes)],
      by: [input.issuedBy.role, input.issuedBy.name],
      iat,
      exp,
      jti: randomBytes(9).toString('base64url'),
    });
    const signed = `${this.headerPart}.${payload}`;
    return { credential: `${signed}.${this.sign(signed)}`, expiresAt: new Date(exp * 1000) };
  }

  /** Checks a presented credential's signature and expiry. Never throws. */
  verify(credential: string, now = Date.now()): CredentialCheck {
    if (credential.length > MAX_CREDENTIAL_LENGTH) return { ok: false, reason: 'malformed' };
    const parts = credential.split('.');
    if (parts.length !== 3 || parts[0] !== this.headerPart) {
      // Another key's credential (rotated away) has another header; anything else is not a credential at all.
      return { ok: false, reason: parts.length === 3 && isOurHeader(parts[0]!) ? 'bad_signature' : 'malformed' };
    }
    const expected = Buffer.from(this.sign(`${parts[0]}.${parts[1]}`), 'utf8');
    const given = Buffer.from(parts[2]!, 'utf8');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad_signature' };
    let claims: Record<string, unknown>;
    try {
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    const { aud, sub, mth, pfx, by, exp } = claims;
    if (aud !== AUDIENCE || typeof sub !== 'string' || !isStrings(mth) || !isStrings(pfx) || !isStrings(by) || by.length !== 2 || typeof exp !== 'number') {
      return { ok: false, reason: 'malformed' };
    }
    if (exp * 1000 <= now) return { ok: false, reason: 'expired' };
    return {
      ok: true,
      grant: { tokenId: sub, methods: mth, pathPrefixes: pfx, expiresAt: new Date(exp * 1000), issuedBy: { role: by[0] as Role, name: by[1]! } },
    };
  }

  private sign(data: string): string {
    return createHmac('sha256', this.key).update(data, 'utf8').digest('base64url');
  }
}

/** Why a valid grant does not cover a request, or null when it does. */
export function grantRefusal(grant: ProxyGrant, tokenId: string, method: string, path: string): string | null {
  if (grant.tokenId !== tokenId) return 'this proxy credential is for another token';
  const m = method.toUpperCase();
  if (!grant.methods.includes(m) && !(m === 'HEAD' && grant.methods.includes('GET'))) return `this proxy credential does not grant ${m}`;
  if (!grant.pathPrefixes.some((p) => prefixCovers(p, path))) return 'this proxy credential does not cover this path';
  return null;
}

function isOurHeader(part: string): boolean {
  try {
    const h = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
    return h.alg === HEADER.alg && h.typ === HEADER.typ;
  } catch {
    return false;
  }
}

function isStrings(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/**
 * The signing key: the configured one, else the key file of the data
 * directory, generated (32 random bytes, base64, mode 0600) on first start.
 */
export function loadProxyCredentialKey(configured: Buffer | null, dataDir: string): { key: Buffer; source: string } {
  if (configured) return { key: configured, source: 'TOKENGATE_PROXY_CREDENTIAL_KEY' };
  const { value, file } = readOrCreateSecretFile(dataDir, PROXY_CREDENTIAL_KEY_FILE, () => randomBytes(32).toString('base64'));
  const key = Buffer.from(value, 'base64');
  if (key.length < 32) throw new Error(`${file} does not hold a key of 32 bytes or more in base64`);
  return { key, source: file };
}
