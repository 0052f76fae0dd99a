import type { MigrationInterface } from 'typeorm';
import type { SqlDialect } from '../sql-dialect';
import { statementsMigration } from './sql-migration';

/** The table of OAuth clients (`saveClient`): `<table>_clients`. */
export const clientsTableOf = (table: string) => `${table}_clients`;
/** The table of pending connects (`startConnect`, until its callback): `<table>_connects`. */
export const connectsTableOf = (table: string) => `${table}_connects`;

/**
 * The tables of the connect flow (`shared/spec/connect.md`), beside the token
 * table (whose `client` column its own migration adds, from `TOKEN_COLUMNS`):
 * - `<table>_clients`: one row per OAuth client, its secret encrypted like a
 *   token's (`key_id` names the key), its default scopes as a JSON array;
 * - `<table>_connects`: one row per started connect, keyed by the SHA-256 of
 *   its `state` (never the state itself), its request as JSON, its PKCE
 *   verifier encrypted; deleted when its callback takes it, or pruned once expired.
 * Runs by itself at start on existing SQLite and MySQL/MariaDB databases.
 */
export function connectTablesMigration(dialect: SqlDialect, table: string): new () => MigrationInterface {
  const mysql = dialect === 'mysql';
  const ascii = mysql ? ' CHARACTER SET ascii COLLATE ascii_bin' : '';
  const q = (id: string) => (mysql ? `\`${id}\`` : `"${id}"`);
  const engine = mysql ? ' ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin' : '';
  const clients = q(clientsTableOf(table));
  const connects = q(connectsTableOf(table));
  const up = [
    `CREATE TABLE ${clients} (` +
      [
        `${q('id')} varchar(32)${ascii} NOT NULL PRIMARY KEY`,
        `${q('name')} varchar(64)${ascii} NOT NULL`,
        `${q('provider')} varchar(64)${ascii} NOT NULL`,
        `${q('client_id')} varchar(255) NOT NULL`,
        `${q('client_secret')} text NOT NULL`,
        `${q('key_id')} varchar(32)${ascii} NOT NULL`,
        `${q('scopes')} text NOT NULL`,
        `${q('redirect_url')} varchar(1024) NOT NULL`,
        `${q('accounts_url')} varchar(255) NULL`,
        `${q('created_at')} bigint NOT NULL`,
        `${q('updated_at')} bigint NOT NULL`,
      ].join(', ') +
      `)${engine}`,
    `CREATE UNIQUE INDEX ${q(`uq_${clientsTableOf(table)}_name`)} ON ${clients} (${q('name')})`,
    `CREATE TABLE ${connects} (` +
      [
        `${q('state_hash')} varchar(64)${ascii} NOT NULL PRIMARY KEY`,
        `${q('request')} text NOT NULL`,
        `${q('code_verifier')} text NULL`,
        `${q('created_at')} bigint NOT NULL`,
        `${q('expires_at')} bigint NOT NULL`,
      ].join(', ') +
      `)${engine}`,
    `CREATE INDEX ${q(`ix_${connectsTableOf(table)}_expires`)} ON ${connects} (${q('expires_at')})`,
  ];
  return statementsMigration('ConnectTables1767398400001', up, [`DROP TABLE ${connects}`, `DROP TABLE ${clients}`]);
}
