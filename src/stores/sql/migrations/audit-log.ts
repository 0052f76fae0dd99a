import type { MigrationInterface } from 'typeorm';
import { createTableMigration } from './sql-migration';
import type { SqlDialect } from '../sql-dialect';

/** The audit table of a token table: `<table>_audit`. */
export const auditTableOf = (table: string) => `${table}_audit`;

/**
 * The audit trail (`src/audit/audit.ts`): one row per recorded action. No
 * secret ever lands here (field names only). Listed by time, newest first
 * (then by id); indexed by token and time (`auditLog(tokenId:)`) and by time
 * (the whole listing, and pruning). Both indexes end with the primary key.
 */
export function auditLogMigration(dialect: SqlDialect, table: string): new () => MigrationInterface {
  const name = 'AuditLog1767225600000';
  const mysql = dialect === 'mysql';
  const ascii = mysql ? ' CHARACTER SET ascii COLLATE ascii_bin' : '';
  const q = (id: string) => (mysql ? `\`${id}\`` : `"${id}"`);
  const audit = auditTableOf(table);
  const t = q(audit);
  const up = [
    `CREATE TABLE ${t} (` +
      [
        mysql ? `${q('id')} bigint NOT NULL AUTO_INCREMENT PRIMARY KEY` : `${q('id')} integer PRIMARY KEY AUTOINCREMENT`,
        `${q('occurred_at')} bigint NOT NULL`,
        `${q('action')} varchar(32)${ascii} NOT NULL`,
        `${q('token_id')} varchar(128)${ascii} NULL`,
        `${q('actor_role')} varchar(16)${ascii} NOT NULL`,
        `${q('actor_name')} varchar(64) NOT NULL`,
        `${q('outcome')} varchar(16)${ascii} NOT NULL`,
        `${q('error_code')} varchar(255) NULL`,
        `${q('field_names')} varchar(255)${ascii} NULL`,
        `${q('detail')} varchar(255) NULL`,
        `${q('request_id')} varchar(128) NULL`,
        mysql ? `${q('repeat_count')} int NOT NULL DEFAULT '1'` : `${q('repeat_count')} integer NOT NULL DEFAULT (1)`,
      ].join(', ') +
      ')' +
      (mysql ? ' ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin' : ''),
    `CREATE INDEX ${q(`ix_${audit}_token`)} ON ${t} (${q('token_id')}, ${q('occurred_at')})`,
    `CREATE INDEX ${q(`ix_${audit}_at`)} ON ${t} (${q('occurred_at')})`,
  ];
  return createTableMigration(name, up, t);
}
