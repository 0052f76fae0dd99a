import { Column, Entity, Index, PrimaryColumn, ValueTransformer } from 'typeorm';

/** Instants are kept as epoch milliseconds (BIGINT) on every engine: exact, sortable, no time zone. */
export const epochMs: ValueTransformer = {
  to: (v: number | null | undefined) => v,
  from: (v: string | number | null) => (v === null || v === undefined ? null : Number(v)),
};

/**
 * The stored row of a token: Zoho's `oauthtoken` columns plus tokengate's own.
 *
 * Secrets (`client_secret`, `refresh_token`, `access_token`, `grant_token`)
 * hold AES-256-GCM ciphertext (see `Keyring`); the three looked up by value
 * have an HMAC lookup column with a unique index, so a duplicate is
 * impossible and a lookup never needs the plaintext. `user_name` is matched
 * through `user_name_hash` (exact, independent of the engine's collation).
 *
 * The class carries the columns only; `tokenEntityFor(table)` makes the
 * entity for a table name (the MySQL table name is configurable).
 */
export abstract class OAuthTokenColumns {
  @PrimaryColumn({ type: 'varchar', length: 128 })
  id: string;

  @Column({ name: 'user_name', type: 'varchar', length: 255, nullable: true })
  userName: string | null;

  @Column({ name: 'user_name_hash', type: 'varchar', length: 64, nullable: true })
  userNameHash: string | null;

  @Column({ name: 'client_id', type: 'varchar', length: 255, nullable: true })
  clientId: string | null;

  @Column({ name: 'client_secret', type: 'text', nullable: true })
  clientSecret: string | null;

  @Column({ name: 'refresh_token', type: 'text', nullable: true })
  refreshToken: string | null;

  @Column({ name: 'refresh_token_hash', type: 'varchar', length: 64, nullable: true })
  refreshTokenHash: string | null;

  @Column({ name: 'access_token', type: 'text', nullable: true })
  accessToken: string | null;

  @Column({ name: 'access_token_hash', type: 'varchar', length: 64, nullable: true })
  accessTokenHash: string | null;

  @Column({ name: 'grant_token', type: 'text', nullable: true })
  grantToken: string | null;

  @Column({ name: 'grant_token_hash', type: 'varchar', length: 64, nullable: true })
  grantTokenHash: string | null;

  /** The id of the encryption key of this row's secrets (all are written together). */
  @Column({ name: 'key_id', type: 'varchar', length: 32, nullable: true })
  keyId: string | null;

  @Column({ name: 'expires_at', type: 'bigint', nullable: true, transformer: epochMs })
  expiresAt: number | null;

  @Column({ name: 'redirect_url', type: 'varchar', length: 1024, nullable: true })
  redirectUrl: string | null;

  @Column({ name: 'api_domain', type: 'varchar', length: 255, nullable: true })
  apiDomain: string | null;

  @Column({ name: 'accounts_url', type: 'varchar', length: 255, nullable: true })
  accountsUrl: string | null;

  @Column({ name: 'last_refreshed_at', type: 'bigint', nullable: true, transformer: epochMs })
  lastRefreshedAt: number | null;

  @Column({ name: 'last_error', type: 'varchar', length: 255, nullable: true })
  lastError: string | null;

  @Column({ name: 'failed_at', type: 'bigint', nullable: true, transformer: epochMs })
  failedAt: number | null;

  /** The provider profile of the token (`src/providers/`); every row from before providers is Zoho's. */
  @Column({ type: 'varchar', length: 64, default: 'zoho' })
  provider: string;

  /** Until when the governor will not mint for it (status `THROTTLED`), epoch ms. */
  @Column({ name: 'throttled_until', type: 'bigint', nullable: true, transformer: epochMs })
  throttledUntil: number | null;

  /** The refresh lease: who refreshes this token now, and until when (epoch ms). */
  @Column({ name: 'lease_owner', type: 'varchar', length: 64, nullable: true })
  leaseOwner: string | null;

  @Column({ name: 'lease_until', type: 'bigint', nullable: true, transformer: epochMs })
  leaseUntil: number | null;

  @Column({ name: 'created_at', type: 'bigint', transformer: epochMs })
  createdAt: number;

  @Column({ name: 'updated_at', type: 'bigint', transformer: epochMs })
  updatedAt: number;

  @Column({ type: 'integer', default: 1 })
  version: number;
}

const entities = new Map<string, typeof OAuthTokenColumns>();

/**
 * The `OAuthToken` entity bound to a table. Index names carry the table name
 * (SQLite index names are per database). One class per table name, cached.
 */
export function tokenEntityFor(table: string): typeof OAuthTokenColumns {
  let entity = entities.get(table);
  if (!entity) {
    @Entity({ name: table })
    @Index(`uq_${table}_user_name_hash`, ['userNameHash'], { unique: true })
    @Index(`uq_${table}_refresh_token_hash`, ['refreshTokenHash'], { unique: true })
    @Index(`uq_${table}_access_token_hash`, ['accessTokenHash'], { unique: true })
    @Index(`uq_${table}_grant_token_hash`, ['grantTokenHash'], { unique: true })
    @Index(`ix_${table}_key_id`, ['keyId'])
    @Index(`ix_${table}_expires_at`, ['expiresAt'])
    class OAuthToken extends OAuthTokenColumns {}
    Object.defineProperty(OAuthToken, 'name', { value: `OAuthToken_${table}` });
    entity = OAuthToken;
    entities.set(table, entity);
  }
  return entity;
}
