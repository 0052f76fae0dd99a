import type { Token } from '../stores/token';

/**
 * The token table, defined once: the TypeORM entity, the migrations, the
 * columns a read selects and the values a write sets are all derived from it.
 *
 * `role` says how a column is filled from a `Token`:
 * - `id`, `plain`, `version`: the field as it is;
 * - `instant`: the field's `Date` as epoch milliseconds (BIGINT: exact, sortable, no time zone);
 * - `secret`: the field encrypted under the current key (AES-256-GCM, see `Keyring`);
 * - `hash`: the keyed lookup hash of the secret `field` (a lookup never needs the plaintext);
 * - `nameHash`: the plain hash of the user name (exact, independent of the collation);
 * - `keyId`: the id of the key the row's secrets are encrypted under (all are written together);
 * - `lease`: the refresh lease, written by the lease store only.
 */
export interface TokenColumn {
  readonly name: string;
  /** The entity's property. */
  readonly property: string;
  readonly type: 'varchar' | 'text' | 'bigint' | 'integer';
  readonly length?: number;
  readonly nullable: boolean;
  /** ASCII with binary collation on MySQL (ids, hashes, key ids, lease owners). */
  readonly ascii?: boolean;
  readonly primary?: boolean;
  readonly default?: number | string;
  readonly role: 'id' | 'plain' | 'instant' | 'secret' | 'hash' | 'nameHash' | 'keyId' | 'lease' | 'version';
  /** The token field a column holds (or hashes). */
  readonly field?: keyof Token;
  /** The migration that added the column; absent for the first schema's columns. */
  readonly addedIn?: string;
}

const varchar = (length: number, extra: Partial<TokenColumn> = {}) => ({ type: 'varchar', length, nullable: true, ...extra }) as const;
const bigint = { type: 'bigint', nullable: true } as const;

export const TOKEN_COLUMNS = [
  { name: 'id', property: 'id', ...varchar(128), nullable: false, ascii: true, primary: true, role: 'id', field: 'id' },
  { name: 'user_name', property: 'userName', ...varchar(255), role: 'plain', field: 'userName' },
  { name: 'user_name_hash', property: 'userNameHash', ...varchar(64), ascii: true, role: 'nameHash', field: 'userName' },
  { name: 'client_id', property: 'clientId', ...varchar(255), role: 'plain', field: 'clientId' },
  { name: 'client_secret', property: 'clientSecret', type: 'text', nullable: true, role: 'secret', field: 'clientSecret' },
  { name: 'refresh_token', property: 'refreshToken', type: 'text', nullable: true, role: 'secret', field: 'refreshToken' },
  { name: 'refresh_token_hash', property: 'refreshTokenHash', ...varchar(64), ascii: true, role: 'hash', field: 'refreshToken' },
  { name: 'access_token', property: 'accessToken', type: 'text', nullable: true, role: 'secret', field: 'accessToken' },
  { name: 'access_token_hash', property: 'accessTokenHash', ...varchar(64), ascii: true, role: 'hash', field: 'accessToken' },
  { name: 'grant_token', property: 'grantToken', type: 'text', nullable: true, role: 'secret', field: 'grantToken' },
  { name: 'grant_token_hash', property: 'grantTokenHash', ...varchar(64), ascii: true, role: 'hash', field: 'grantToken' },
  { name: 'key_id', property: 'keyId', ...varchar(32), ascii: true, role: 'keyId' },
  { name: 'expires_at', property: 'expiresAt', ...bigint, role: 'instant', field: 'expiresAt' },
  { name: 'redirect_url', property: 'redirectUrl', ...varchar(1024), role: 'plain', field: 'redirectUrl' },
  { name: 'api_domain', property: 'apiDomain', ...varchar(255), role: 'plain', field: 'apiDomain' },
  { name: 'accounts_url', property: 'accountsUrl', ...varchar(255), role: 'plain', field: 'accountsUrl' },
  { name: 'last_refreshed_at', property: 'lastRefreshedAt', ...bigint, role: 'instant', field: 'lastRefreshedAt' },
  { name: 'last_error', property: 'lastError', ...varchar(255), role: 'plain', field: 'lastError' },
  { name: 'failed_at', property: 'failedAt', ...bigint, role: 'instant', field: 'failedAt' },
  // Every row from before providers is a Zoho token.
  {
    name: 'provider',
    property: 'provider',
    type: 'varchar',
    length: 64,
    nullable: false,
    ascii: true,
    default: 'zoho',
    role: 'plain',
    field: 'provider',
    addedIn: 'ProviderColumns1767312000000',
  },
  { name: 'throttled_until', property: 'throttledUntil', ...bigint, role: 'instant', field: 'throttledUntil', addedIn: 'ProviderColumns1767312000000' },
  // The OAuth client a connect made the token through (its name); null for every token saved or imported without one.
  { name: 'client', property: 'client', ...varchar(64), ascii: true, role: 'plain', field: 'client', addedIn: 'TokenClientColumn1767398400000' },
  { name: 'lease_owner', property: 'leaseOwner', ...varchar(64), ascii: true, role: 'lease' },
  { name: 'lease_until', property: 'leaseUntil', ...bigint, role: 'lease' },
  { name: 'created_at', property: 'createdAt', type: 'bigint', nullable: false, role: 'instant', field: 'createdAt' },
  { name: 'updated_at', property: 'updatedAt', type: 'bigint', nullable: false, role: 'instant', field: 'updatedAt' },
  { name: 'version', property: 'version', type: 'integer', nullable: false, default: 1, role: 'version', field: 'version' },
] as const satisfies readonly TokenColumn[];

export type TokenColumnName = (typeof TOKEN_COLUMNS)[number]['name'];

/** The indexes of the token table; their names carry the table name (SQLite index names are per database). */
export const TOKEN_INDEXES: ReadonlyArray<{ suffix: string; columns: readonly TokenColumnName[]; unique: boolean; addedIn?: string }> = [
  { suffix: 'user_name_hash', columns: ['user_name_hash'], unique: true },
  { suffix: 'refresh_token_hash', columns: ['refresh_token_hash'], unique: true },
  { suffix: 'access_token_hash', columns: ['access_token_hash'], unique: true },
  { suffix: 'grant_token_hash', columns: ['grant_token_hash'], unique: true },
  { suffix: 'key_id', columns: ['key_id'], unique: false },
  { suffix: 'expires_at', columns: ['expires_at'], unique: false },
];

export const indexName = (table: string, index: (typeof TOKEN_INDEXES)[number]) => `${index.unique ? 'uq' : 'ix'}_${table}_${index.suffix}`;

/** The row of the table as the entity types it (instants as epoch milliseconds). */
export type OAuthTokenRecord = {
  [C in (typeof TOKEN_COLUMNS)[number] as C['property']]:
    (C['type'] extends 'bigint' | 'integer' ? number : string) | (C['nullable'] extends true ? null : never);
};
