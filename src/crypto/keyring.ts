import { createCipheriv, createDecipheriv, createHmac, hash, hkdfSync, randomBytes } from 'node:crypto';
import { KeyMismatchError } from '../errors';

const FORMAT = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** One encryption key and the subkeys derived from it. */
interface DerivedKey {
  /** A fingerprint of the key (not secret): stored beside every ciphertext. */
  id: string;
  encKey: Buffer;
  hashKey: Buffer;
}

function derive(master: Buffer): DerivedKey {
  const sub = (info: string) => Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), info, 32));
  return {
    id: sub('tokengate/key-id').subarray(0, 8).toString('hex'),
    encKey: sub('tokengate/aes-256-gcm'),
    hashKey: sub('tokengate/lookup-hmac'),
  };
}

/**
 * The encryption keys of a gateway: AES-256-GCM for secrets at rest, and
 * HMAC-SHA256 lookup hashes for the secrets looked up by value.
 *
 * The first key is the current one (new writes use it); the others are still
 * accepted for reading, so keys can rotate. A ciphertext is
 * `v1.<key id>.<base64url(iv | ciphertext | tag)>`, with the token id and the
 * field name as additional authenticated data: a value moved to another row
 * or field does not decrypt.
 */
export class Keyring {
  private readonly keys: DerivedKey[];
  private readonly byId: Map<string, DerivedKey>;
  private readonly currentMaster: Buffer;

  constructor(masterKeys: readonly Buffer[]) {
    if (masterKeys.length === 0) throw new Error('Keyring needs at least one key');
    for (const k of masterKeys) if (k.length !== 32) throw new Error('an encryption key must be 32 bytes');
    this.currentMaster = masterKeys[0]!;
    this.keys = masterKeys.map(derive);
    this.byId = new Map(this.keys.map((k) => [k.id, k]));
  }

  /** The id of the key that new writes use. */
  get currentKeyId(): string {
    return this.keys[0]!.id;
  }

  /**
   * A 32-byte key for `purpose` (e.g. signing dashboard sessions), derived from
   * the current encryption key: every process with the same keys derives the
   * same one, and rotating the encryption key replaces it.
   */
  subkey(purpose: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.currentMaster, Buffer.alloc(0), `tokengate/${purpose}`, 32));
  }

  /** Ids of every accepted key, current first. */
  get keyIds(): string[] {
    return this.keys.map((k) => k.id);
  }

  encrypt(plaintext: string, aad: string): string {
    const key = this.keys[0]!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key.encKey, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([iv, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${FORMAT}.${key.id}.${body.toString('base64url')}`;
  }

  /** @throws KeyMismatchError when no listed key made it, or it was altered. */
  decrypt(ciphertext: string, aad: string): string {
    const [format, keyId, b64] = ciphertext.split('.');
    if (format !== FORMAT || !keyId || b64 === undefined) throw new KeyMismatchError('a stored secret is not in tokengate format');
    const key = this.byId.get(keyId);
    if (!key) throw new KeyMismatchError(`a stored secret was encrypted with key ${keyId}, which is not configured`);
    const body = Buffer.from(b64, 'base64url');
    if (body.length < IV_BYTES + TAG_BYTES) throw new KeyMismatchError('a stored secret is truncated');
    const decipher = createDecipheriv('aes-256-gcm', key.encKey, body.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new KeyMismatchError(`a stored secret does not authenticate under key ${keyId}`);
    }
  }

  /** The lookup hash of a secret under the current key (hex, 64 chars). */
  lookupHash(value: string): string {
    return hmacHex(this.keys[0]!.hashKey, value);
  }

  /** The lookup hashes of a secret under every accepted key, current first (for reads during a rotation). */
  lookupHashes(value: string): string[] {
    return this.keys.map((k) => hmacHex(k.hashKey, value));
  }
}

function hmacHex(key: Buffer, value: string): string {
  return createHmac('sha256', key).update(value, 'utf8').digest('hex');
}

/** An unkeyed SHA-256 (hex) for exact, collation-free matching of non-secret values such as user names. */
export function plainHash(value: string): string {
  // The one-shot `hash` (Node >= 20.12) costs a third of createHash/update/digest; strings hash as UTF-8.
  return hash('sha256', value, 'hex');
}
