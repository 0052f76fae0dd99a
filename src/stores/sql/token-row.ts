import { TOKEN_COLUMNS, type TokenColumn } from '../../entities/token-columns';
import { Keyring, plainHash } from '../../crypto/keyring';
import { KeyMismatchError, type StoreOperation } from '../../errors';
import { hasSecret, sealedToken, type SecretOpener } from '../sealed-secrets';
import { SECRET_FIELDS, type SecretField, type Token } from '../token';
import type { SqlParam } from './sql-executor';
import { toStoreError } from './store-error';

/** A row of the token table as the driver returns it (BIGINTs may come back as strings). */
export type TokenRow = Record<string, string | number | null> & { id: string };

const columns: readonly TokenColumn[] = TOKEN_COLUMNS;

/** The columns a read selects: the token's own fields (never the lease, hash or key id columns). */
const READ = columns.filter((c) => ['id', 'plain', 'instant', 'secret', 'version'].includes(c.role));
export const ROW_COLUMNS = READ.map((c) => c.name).join(', ');

/** The columns a write sets, in the order of `rowValues` (all but the id and the lease). */
const WRITE = columns.filter((c) => c.role !== 'id' && c.role !== 'lease');
export const WRITE_COLUMNS: readonly string[] = WRITE.map((c) => c.name);

/** The columns a key rotation rewrites, in the order of `secretRowValues`: secrets, their lookup hashes, the key id. */
const SECRET_WRITE = columns.filter((c) => c.role === 'secret' || c.role === 'hash' || c.role === 'keyId');
export const SECRET_WRITE_COLUMNS: readonly string[] = SECRET_WRITE.map((c) => c.name);

/** The column that holds the lookup hash of a field (user name or a secret looked up by value). */
export function hashColumnOf(field: 'userName' | SecretField): string {
  return columns.find((c) => (c.role === 'hash' || c.role === 'nameHash') && c.field === field)!.name;
}

/** The additional authenticated data of a secret: it decrypts only in its own row and field. */
export const secretAad = (id: string, field: SecretField) => `${id}/${field}`;

const date = (v: string | number | null | undefined) => (v === null || v === undefined ? null : new Date(Number(v)));

/**
 * A row as a token whose secrets decrypt on first read (see `sealedToken`):
 * a read that serves no secret pays no decryption. A secret that does not
 * decrypt (a tampered row) throws a `TokenStoreError` of `operation`, kind
 * `INTERNAL`, where it is read.
 */
export function rowToToken(row: TokenRow, keyring: Keyring, operation: StoreOperation): Token {
  return tokenOf(row, (field, cipher) => {
    try {
      return keyring.decrypt(cipher, secretAad(row.id, field));
    } catch (err) {
      throw err instanceof KeyMismatchError ? toStoreError(operation, err) : err;
    }
  });
}

/** Decrypts every secret of a row at once. @throws KeyMismatchError when one does not decrypt. */
export function decryptRow(row: TokenRow, keyring: Keyring): Token {
  return { ...tokenOf(row, (field, cipher) => keyring.decrypt(cipher, secretAad(row.id, field))) };
}

function tokenOf(row: TokenRow, open: SecretOpener): Token {
  const fields: Record<string, unknown> = {};
  const ciphertext: Record<string, unknown> = {};
  for (const c of READ) {
    const v = row[c.name] ?? null;
    if (c.role === 'secret') ciphertext[c.field!] = v;
    else if (c.role === 'instant') fields[c.field!] = date(v);
    else if (c.role === 'version') fields[c.field!] = Number(v);
    else fields[c.field!] = v;
  }
  return sealedToken(fields as Omit<Token, SecretField>, ciphertext as Record<SecretField, string | null>, open);
}

function valueOf(c: TokenColumn, token: Token, keyring: Keyring): SqlParam {
  const v = c.field === undefined ? null : token[c.field];
  switch (c.role) {
    case 'secret':
      return v === null ? null : keyring.encrypt(v as string, secretAad(token.id, c.field as SecretField));
    case 'hash':
      return v === null ? null : keyring.lookupHash(v as string);
    case 'nameHash':
      return v === null ? null : plainHash(v as string);
    case 'keyId':
      return SECRET_FIELDS.some((f) => hasSecret(token, f)) ? keyring.currentKeyId : null;
    case 'instant':
      return v === null ? null : (v as Date).getTime();
    default:
      return v as SqlParam;
  }
}

/** The values of `WRITE_COLUMNS` for a token: secrets encrypted under the current key, lookup hashes beside them. */
export function rowValues(token: Token, keyring: Keyring): SqlParam[] {
  return WRITE.map((c) => valueOf(c, token, keyring));
}

/** A token's secrets and lookup hashes under the current key (for key rotation: nothing else changes). */
export function secretRowValues(token: Token, keyring: Keyring): SqlParam[] {
  return SECRET_WRITE.map((c) => valueOf(c, token, keyring));
}
