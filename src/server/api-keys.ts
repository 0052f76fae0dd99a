import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiKeyEntry } from '../config';
import type { Principal } from '../resolvers/context.type';
import { readOrCreateSecretFile } from '../crypto/key-file';

export const ADMIN_KEY_FILE = 'admin.key';

// One-shot hashing: no Hash object per request (a measurable part of a lookup's CPU time).
const digest = (s: string) => hash('sha256', s, 'buffer');

/**
 * The API keys of a gateway. Keys are kept only as SHA-256 digests, and a
 * presented key is compared with every one of them in constant time, so the
 * answer's timing says nothing about which key or how much of one matched.
 */
export class ApiKeys {
  private readonly entries: Array<{ digest: Buffer; principal: Principal }>;

  constructor(entries: readonly ApiKeyEntry[]) {
    this.entries = entries.map((e) => ({ digest: digest(e.key), principal: { role: e.role, keyName: e.name } }));
  }

  /** The principal of a key and its digest (hex), or null for an unknown key. Constant time over every key. */
  identify(key: string): { principal: Principal; digest: string } | null {
    const presented = digest(key);
    const found = this.byDigest(presented);
    return found ? { principal: found, digest: presented.toString('hex') } : null;
  }

  /** The principal of a key digest (hex) that `identify` returned, or null once that key is gone. */
  principalOfDigest(hex: string): Principal | null {
    if (!/^[0-9a-f]{64}$/.test(hex)) return null;
    return this.byDigest(Buffer.from(hex, 'hex'));
  }

  private byDigest(presented: Buffer): Principal | null {
    let found: Principal | null = null;
    for (const e of this.entries) {
      if (timingSafeEqual(presented, e.digest)) found = e.principal;
    }
    return found;
  }

  /** The principal of an `Authorization` header value, or null for a missing, malformed or unknown key. */
  authenticate(authorization: string | undefined): Principal | null {
    if (!authorization) return null;
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (!m) return null;
    return this.byDigest(digest(m[1]!));
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
