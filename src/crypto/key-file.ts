import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { encryptionKeyList } from '../config';

export const ENCRYPTION_KEY_FILE = 'encryption.key';

/**
 * Reads a secret kept in a file of the data directory, or creates it with
 * `generate()` on first use. The file is created with mode 0600 and
 * atomically, so two processes starting together keep one value.
 * @returns the file's content (trimmed) and whether this call created it.
 */
export function readOrCreateSecretFile(dataDir: string, name: string, generate: () => string): { value: string; file: string; created: boolean } {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, name);
  if (!fs.existsSync(file)) {
    // Write a private temporary file, then link it into place: the link fails
    // if another process got there first, and nobody ever reads a half-written key.
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    fs.writeFileSync(tmp, generate() + '\n', { mode: 0o600, flag: 'wx' });
    try {
      fs.linkSync(tmp, file);
      return { value: fs.readFileSync(file, 'utf8').trim(), file, created: true };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
  const stat = fs.statSync(file);
  if ((stat.mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
  return { value: fs.readFileSync(file, 'utf8').trim(), file, created: false };
}

/**
 * The encryption keys to use: the configured ones, else the key file of the
 * data directory, generated (32 random bytes, base64) on first start.
 */
export function loadEncryptionKeys(
  configured: Buffer[] | null,
  dataDir: string,
): {
  keys: Buffer[];
  source: string;
  /** The key file, when the keys come from one. */ file: string | null;
  /** Whether this call generated the file. */ created: boolean;
} {
  if (configured) return { keys: configured, source: 'TOKENGATE_ENCRYPTION_KEY', file: null, created: false };
  const { value, file, created } = readOrCreateSecretFile(dataDir, ENCRYPTION_KEY_FILE, () => randomBytes(32).toString('base64'));
  const parsed = encryptionKeyList.safeParse(value);
  if (!parsed.success) throw new Error(`${file} does not hold a 32-byte base64 key`);
  return { keys: parsed.data, source: file, file, created };
}
