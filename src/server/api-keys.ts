import { hash, randomBytes } from 'node:crypto';
import type { ApiKeyEntry } from '../config';
import type { Principal } from '../resolvers/context.type';
import { readOrCreateSecretFile } from '../crypto/key-file';

export const ADMIN_KEY_FILE = 'admin.key';

// One-shot hashing to a string: no Hash object and no Buffer per request (each a measurable part of a request's CPU time).
const digest = (s: string) => hash('sha256', s, 'hex');
const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * The API keys of a gateway. Keys are kept only as SHA-256 digests, and a
 * presented key is found by its digest. A lookup's timing depends on the
 * presented key's digest only, which a caller cannot steer towards a stored
 * one (that would take a preimage), so it says nothing about which key, or
 * how much of one, matched.
 */
export class ApiKeys {
  private readonly byDigest = new Map<string, Principal>();

  constructor(entries: readonly ApiKeyEntry[]) {
    for (const e of entries) this.byDigest.set(digest(e.key), { role: e.role, keyName: e.name });
  }

  /** The principal of a key and its digest (hex), or null for an unknown key. */
  identify(key: string): { principal: Principal; digest: string } | null {
    const presented = digest(key);
    const found = this.byDigest.get(presented);
    return found ? { principal: found, digest: presented } : null;
  }

  /** The principal of a key digest (hex) that `identify` returned, or null once that key is gone. */
  principalOfDigest(hex: string): Principal | null {
    if (!/^[0-9a-f]{64}$/.test(hex)) return null;
    return this.byDigest.get(hex) ?? null;
  }

  /** The principal of an `Authorization` header value, or null for a missing, malformed or unknown key. */
  authenticate(authorization: string | undefined): Principal | null {
    if (!authorization) return null;
    const m = BEARER.exec(authorization);
    if (!m) return null;
    return this.byDigest.get(digest(m[1]!)) ?? null;
  }
}

/**
 * The configured keys, or the generated admin key of the data directory
 * (created with mode 0600 on first start). Returns the file's path, never
 * the key, for the start-up log.
 */
export function loadApiKeys(configured: ApiKeyEntry[] | null, dataDir: string): { keys: ApiKeys; generatedKeyFile: string | null; created: boolean } {
  if (configured) return { keys: new ApiKeys(configured), generatedKeyFile: null, created: false };
  const { value, file, created } = readOrCreateSecretFile(dataDir, ADMIN_KEY_FILE, () => `tg_admin_${randomBytes(24).toString('base64url')}`);
  return { keys: new ApiKeys([{ role: 'admin', name: 'generated-admin', key: value }]), generatedKeyFile: file, created };
}
