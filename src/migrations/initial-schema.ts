import type { MigrationInterface } from 'typeorm';
import { createTableMigration } from './sql-migration';
import type { SqlDialect } from '../stores/sql/sql-dialect';

/**
 * The first schema: the token table (`OAuthTokenColumns`) and its indexes.
 * Written from TypeORM's generated DDL (`scripts/print-schema.ts`), then
 * tuned per engine: on MySQL/MariaDB the ids, hashes and key ids are ASCII
 * with binary collation, and the table's text is `utf8mb4_bin`, so every
 * comparison is exact (no case folding, no accent folding).
 */
export function initialSchemaMigration(dialect: SqlDialect, table: string): new () => MigrationInterface {
  const name = "InitialSchema1764388800000";
  const ascii = dialect === 'mysql' ? ' CHARACTER SET ascii COLLATE ascii_bin' : '';
  const q = (id: string) => (dialect === 'mysql' ? `\`${id}\`` : `"${id}"`);
  const t = q(table);
  const up = [
    `CREATE TABLE ${t} (` +
      [
        `${q('id')} varchar(128)${ascii} NOT NULL PRIMARY KEY`,
        `${q('user_name')} varchar(255) NULL`,
        `${q('user_name_hash')} varchar(64)${ascii} NULL`,
        `${q('client_id')} varchar(255) NULL`,
        `${q('client_secret')} text NULL`,
        `${q('refresh_token')} text NULL`,
        `${q('refresh_token_hash')} varchar(64)${ascii} NULL`,
        `${q('access_token')} text NULL`,
        `${q('access_token_hash')} varchar(64)${ascii} NULL`,
        `${q('grant_token')} text NULL`,
        `${q('grant_token_hash')} varchar(64)${ascii} NULL`,
        `${q('key_id')} varchar(32)${ascii} NULL`,
        `${q('expires_at')} bigint NULL`,
        `${q('redirect_url')} varchar(1024) NULL`,
        `${q('api_domain')} varchar(255) NULL`,
        `${q('accounts_url')} varchar(255) NULL`,
        `${q('last_refreshed_at')} bigint NULL`,
        `${q('last_error')} varchar(255) NULL`,
        `${q('failed_at')} bigint NULL`,
        `${q('lease_owner')} varchar(64)${ascii} NULL`,
        `${q('lease_until')} bigint NULL`,
        `${q('created_at')} bigint NOT NULL`,
        `${q('updated_at')} bigint NOT NULL`,
        dialect === 'mysql' ? `${q('version')} int NOT NULL DEFAULT '1'` : `${q('version')} integer NOT NULL DEFAULT (1)`,
      ].join(', ') +
      ')' +
      (dialect === 'mysql' ? ' ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin' : ''),
    `CREATE UNIQUE INDEX ${q(`uq_${table}_user_name_hash`)} ON ${t} (${q('user_name_hash')})`,
    `CREATE UNIQUE INDEX ${q(`uq_${table}_refresh_token_hash`)} ON ${t} (${q('refresh_token_hash')})`,
    `CREATE UNIQUE INDEX ${q(`uq_${table}_access_token_hash`)} ON ${t} (${q('access_token_hash')})`,
    `CREATE UNIQUE INDEX ${q(`uq_${table}_grant_token_hash`)} ON ${t} (${q('grant_token_hash')})`,
    `CREATE INDEX ${q(`ix_${table}_key_id`)} ON ${t} (${q('key_id')})`,
    `CREATE INDEX ${q(`ix_${table}_expires_at`)} ON ${t} (${q('expires_at')})`,
  ];
  return createTableMigration(name, up, t);
}
