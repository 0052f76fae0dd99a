import type { MigrationInterface, QueryRunner } from 'typeorm';
import type { SqlDialect } from '../stores/sql/sql-dialect';

/** The table of registered generic providers: `<table>_providers`. */
export const providersTableOf = (table: string) => `${table}_providers`;
/** The governor's mints (one row per token minted or in flight): `<table>_mints`. */
export const mintsTableOf = (table: string) => `${table}_mints`;
/** The governor's subjects (the row each decision locks, and a provider's block): `<table>_governor`. */
export const governorTableOf = (table: string) => `${table}_governor`;

/**
 * Providers and the governor (`src/providers/`):
 * - the token table gains `provider` (default `zoho`: every existing row is a
 *   Zoho token) and `throttled_until` (the `THROTTLED` status);
 * - `<table>_providers` holds the generic providers an admin registered (name
 *   and definition as JSON: endpoints and limits, no secret);
 * - `<table>_mints` and `<table>_governor` hold the governor's counters,
 *   shared by every process on the database.
 * Runs by itself at start on existing SQLite and MySQL/MariaDB databases.
 */
export function providersMigration(dialect: SqlDialect, table: string): new () => MigrationInterface {
  const name = 'Providers1767312000000';
  const mysql = dialect === 'mysql';
  const ascii = mysql ? ' CHARACTER SET ascii COLLATE ascii_bin' : '';
  const q = (id: string) => (mysql ? `\`${id}\`` : `"${id}"`);
  const engine = mysql ? ' ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin' : '';
  const t = q(table);
  const providers = q(providersTableOf(table));
  const mints = q(mintsTableOf(table));
  const governor = q(governorTableOf(table));
  const up = [
    `ALTER TABLE ${t} ADD ${q('provider')} varchar(64)${ascii} NOT NULL DEFAULT 'zoho'`,
    `ALTER TABLE ${t} ADD ${q('throttled_until')} bigint NULL`,
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
  const down = [`DROP TABLE ${governor}`, `DROP TABLE ${mints}`, `DROP TABLE ${providers}`, `ALTER TABLE ${t} DROP COLUMN ${q('throttled_until')}`, `ALTER TABLE ${t} DROP COLUMN ${q('provider')}`];
  const migration = class implements MigrationInterface {
    name = name;
    async up(runner: QueryRunner): Promise<void> {
      for (const sql of up) await runner.query(sql);
    }
    async down(runner: QueryRunner): Promise<void> {
      for (const sql of down) await runner.query(sql);
    }
  };
  Object.defineProperty(migration, 'name', { value: name });
  return migration;
}
