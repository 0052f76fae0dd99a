import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadEncryptionKeys, readOrCreateSecretFile } from '../src/crypto/key-file';
import { Keyring } from '../src/crypto/keyring';
import { KeyMismatchError } from '../src/errors';

describe('Keyring', () => {
  const key = randomBytes(32);

  it('round-trips, with a fresh IV each time', () => {
    const k = new Keyring([key]);
    const a = k.encrypt('secret', 'id/refreshToken');
    const b = k.encrypt('secret', 'id/refreshToken');
    expect(a).not.toBe(b);
    expect(a).not.toContain('secret');
    expect(a.startsWith(`v1.${k.currentKeyId}.`)).toBe(true);
    expect(k.decrypt(a, 'id/refreshToken')).toBe('secret');
  });

  it('refuses a value moved to another row or field, altered, or under an unknown key', () => {
    const k = new Keyring([key]);
    const c = k.encrypt('secret', 'id1/refreshToken');
    expect(() => k.decrypt(c, 'id2/refreshToken')).toThrow(KeyMismatchError);
    expect(() => k.decrypt(c, 'id1/accessToken')).toThrow(KeyMismatchError);
    const body = Buffer.from(c.split('.')[2]!, 'base64url');
    body[body.length - 20]! ^= 1;
    expect(() => k.decrypt(`v1.${k.currentKeyId}.${body.toString('base64url')}`, 'id1/refreshToken')).toThrow(KeyMismatchError);
    expect(() => new Keyring([randomBytes(32)]).decrypt(c, 'id1/refreshToken')).toThrow(/not configured/);
  });

  it('reads under every listed key, writes and hashes under the first', () => {
    const old = new Keyring([key]);
    const c = old.encrypt('v', 'a');
    const rotated = new Keyring([randomBytes(32), key]);
    expect(rotated.decrypt(c, 'a')).toBe('v');
    expect(rotated.keyIds).toEqual([rotated.currentKeyId, old.currentKeyId]);
    expect(rotated.lookupHashes('v')).toEqual([rotated.lookupHash('v'), old.lookupHash('v')]);
    expect(rotated.lookupHash('v')).not.toBe(old.lookupHash('v'));
  });
});

describe('key files', () => {
  it('generates a key file once, mode 0600, and reads it back', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-keys-'));
    const first = loadEncryptionKeys(null, dir);
    const again = loadEncryptionKeys(null, dir);
    expect(again.keys[0]!.equals(first.keys[0]!)).toBe(true);
    expect(fs.statSync(path.join(dir, 'encryption.key')).mode & 0o777).toBe(0o600);
    expect(readOrCreateSecretFile(dir, 'encryption.key', () => 'other').created).toBe(false);
    expect(fs.readdirSync(dir)).toEqual(['encryption.key']);
    fs.rmSync(dir, { recursive: true });
  });

  it('prefers the configured keys', () => {
    const k = [randomBytes(32)];
    expect(loadEncryptionKeys(k, '/nonexistent').keys).toBe(k);
  });
});
