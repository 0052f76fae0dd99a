import type { MigrationInterface } from 'typeorm';
import type { SqlDialect } from '../sql-dialect';
import { statementsMigration } from './sql-migration';

/** The migration that adds the token table's `provider` and `throttled_until` columns (see `TOKEN_COLUMNS`). */
export const PROVIDER_COLUMNS_MIGRATION = 'ProviderColumns1767312000000';

/** The table of registered generic providers: `<table>_providers`. */
export const providersTableOf = (table: string) => `${table}_providers`;
/** The governor's mints (one row per token minted or in flight): `<table>_mints`. */
export const mintsTableOf = (table: string) => `${table}_mints`;
/** The governor's subjects (the row each decision locks, and a block after `access_denied`): `<table>_governor`. */
export const governorTableOf = (table: string) => `${table}_governor`;

/**
 * The tables of providers and the governor (`src/providers/`), beside the
 * token table:
 * - `<table>_providers` holds the generic providers an admin registered (name
 *   and definition as JSON: endpoints and limits, never a secret);
 * - `<table>_mints` and `<table>_governor` hold the governor's counters,
 *   shared by every process on the database.
 * Runs by itself at start on existing SQLite and MySQL/MariaDB databases.
 */
export function providerTablesMigration(dialect: SqlDialect, table: string): new () => MigrationInterface {
  const mysql = dialect === 'mysql';
  const ascii = mysql ? ' CHARACTER SET ascii COLLATE ascii_bin' : '';
  const q = (id: string) => (mysql ? `\`${id}\`` : `"${id}"`);
  const engine = mysql ? ' ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin' : '';
  const providers = q(providersTableOf(table));
  const mints = q(mintsTableOf(table));
  const governor = q(governorTableOf(table));
  const up = [
    `CREATE TABLE ${providers} (${q('name')} varchar(64)${ascii} NOT NULL PRIMARY KEY, ${q('definition')} text NOT NULL, ${q('updated_at')} bigint NOT NULL)${engine}`,
    `CREATE TABLE ${mints} (` +
      [
        mysql ? `${q('id')} bigint NOT NULL AUTO_INCREMENT PRIMARY KEY` : `${q('id')} integer PRIMARY KEY AUTOINCREMENT`,
        `${q('subject')} varchar(128)${ascii} NOT NULL`,
        `${q('reserved_at')} bigint NOT NULL`,
        `${q('minted_at')} bigint NULL`,
        `${q('alive_until')} bigint NULL`,
      ].join(', ') +
      `)${engine}`,
    `CREATE INDEX ${q(`ix_${mintsTableOf(table)}_subject`)} ON ${mints} (${q('subject')}, ${q('reserved_at')})`,
    `CREATE TABLE ${governor} (${q('subject')} varchar(128)${ascii} NOT NULL PRIMARY KEY, ${q('blocked_until')} bigint NULL)${engine}`,
  ];
  return statementsMigration('ProviderTables1767312000001', up, [`DROP TABLE ${governor}`, `DROP TABLE ${mints}`, `DROP TABLE ${providers}`]);
}
