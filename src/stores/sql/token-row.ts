import { Keyring, plainHash } from '../../crypto/keyring';
import { KeyMismatchError, type StoreOperation } from '../../errors';
import { hasSecret, sealedToken, type SecretOpener } from '../sealed-secrets';
import { SECRET_FIELDS, type SecretField, type Token } from '../token';
import type { SqlParam } from './sql-executor';
import { toStoreError } from './store-error';

/** A row of the token table as the driver returns it (BIGINTs may come back as strings). */
export interface TokenRow {
  id: string;
  user_name: string | null;
  client_id: string | null;
  client_secret: string | null;
  refresh_token: string | null;
  access_token: string | null;
  grant_token: string | null;
  expires_at: number | string | null;
  redirect_url: string | null;
  api_domain: string | null;
  accounts_url: string | null;
  last_refreshed_at: number | string | null;
  last_error: string | null;
  failed_at: number | string | null;
  provider: string;
  throttled_until: number | string | null;
  created_at: number | string;
  updated_at: number | string;
  version: number | string;
}

/** The columns a read selects (never the lease or hash columns). */
export const ROW_COLUMNS =
  'id, user_name, client_id, client_secret, refresh_token, access_token, grant_token, expires_at, redirect_url, api_domain, accounts_url, last_refreshed_at, last_error, failed_at, provider, throttled_until, created_at, updated_at, version';

/** The columns a write sets, in the order of `rowValues`. */
export const WRITE_COLUMNS = [
  'user_name',
  'user_name_hash',
  'client_id',
  'client_secret',
  'refresh_token',
  'refresh_token_hash',
  'access_token',
  'access_token_hash',
  'grant_token',
  'grant_token_hash',
  'key_id',
  'expires_at',
  'redirect_url',
  'api_domain',
  'accounts_url',
  'last_refreshed_at',
  'last_error',
  'failed_at',
  'provider',
  'throttled_until',
  'created_at',
  'updated_at',
  'version',
] as const;

/** The additional authenticated data of a secret: it decrypts only in its own row and field. */
export const secretAad = (id: string, field: SecretField) => `${id}/${field}`;

const ms = (d: Date | null) => (d ? d.getTime() : null);
const date = (v: number | string | null) => (v === null || v === undefined ? null : new Date(Number(v)));

/**
 * A row as a token whose secrets decrypt on first read (see `sealedToken`):
 * a read that serves no secret pays no decryption. A secret that does not
 * decrypt (a tampered row) throws a `TokenStoreError` of `operation`, kind
 * `INTERNAL`, where it is read. Keys that are not configured at all are
 * refused at start (`openStore`).
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
  const id = row.id;
  return sealedToken(
    {
      id,
      userName: row.user_name,
      clientId: row.client_id,
      expiresAt: date(row.expires_at),
      redirectUrl: row.redirect_url,
      apiDomain: row.api_domain,
      accountsUrl: row.accounts_url,
      lastRefreshedAt: date(row.last_refreshed_at),
      lastError: row.last_error,
      failedAt: date(row.failed_at),
      provider: row.provider ?? 'zoho',
      throttledUntil: date(row.throttled_until),
      createdAt: date(row.created_at)!,
      updatedAt: date(row.updated_at)!,
      version: Number(row.version),
    },
    { clientSecret: row.client_secret, refreshToken: row.refresh_token, accessToken: row.access_token, grantToken: row.grant_token },
    open,
  );
}

/** The values of `WRITE_COLUMNS` for a token: secrets encrypted under the current key, lookup hashes beside them. */
export function rowValues(token: Token, keyring: Keyring): SqlParam[] {
  const enc = (field: SecretField) => (token[field] === null ? null : keyring.encrypt(token[field]!, secretAad(token.id, field)));
  const hash = (v: string | null) => (v === null ? null : keyring.lookupHash(v));
  const anySecret = SECRET_FIELDS.some((f) => hasSecret(token, f));
  return [
    token.userName,
    token.userName === null ? null : plainHash(token.userName),
    token.clientId,
    enc('clientSecret'),
    enc('refreshToken'),
    hash(token.refreshToken),
    enc('accessToken'),
    hash(token.accessToken),
    enc('grantToken'),
    hash(token.grantToken),
    anySecret ? keyring.currentKeyId : null,
    ms(token.expiresAt),
    token.redirectUrl,
    token.apiDomain,
    token.accountsUrl,
    ms(token.lastRefreshedAt),
    token.lastError,
    ms(token.failedAt),
    token.provider,
    ms(token.throttledUntil),
    ms(token.createdAt),
    ms(token.updatedAt),
    token.version,
  ];
}

/**
 * The columns a key rotation rewrites, in the order of `secretRowValues`: the
 * secrets, their lookup hashes and the key id (a contiguous run of `WRITE_COLUMNS`).
 */
export const SECRET_WRITE_COLUMNS = WRITE_COLUMNS.slice(WRITE_COLUMNS.indexOf('client_secret'), WRITE_COLUMNS.indexOf('key_id') + 1);

/** A token's secrets and lookup hashes under the current key (for key rotation: nothing else changes). */
export function secretRowValues(token: Token, keyring: Keyring): SqlParam[] {
  const start = WRITE_COLUMNS.indexOf('client_secret');
  return rowValues(token, keyring).slice(start, start + SECRET_WRITE_COLUMNS.length);
}
