import { randomBytes } from 'node:crypto';
import { Keyring } from '../../src/crypto/keyring';

/** A keyring with a fresh random key (tests never share keys). */
export function testKeyring(): Keyring {
  return new Keyring([randomBytes(32)]);
}
