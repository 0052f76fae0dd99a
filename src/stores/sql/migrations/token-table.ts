import type { MigrationInterface } from 'typeorm';
import { TOKEN_COLUMNS, TOKEN_INDEXES, indexName, type TokenColumn } from '../../../entities/token-columns';
import type { SqlDialect } from '../sql-dialect';
import { createTableMigration, statementsMigration } from './sql-migration';

/** The first schema's migration (its name is recorded in existing databases). */
const INITIAL = 'InitialSchema1764388800000';

/**
 * The migrations of the token table, from `TOKEN_COLUMNS`: the first schema
 * creates the table with the columns that have no `addedIn`, and each later
 * migration adds its own columns and indexes. On MySQL/MariaDB the ids, hashes
 * and key ids are ASCII with binary collation and the table's text is
 * `utf8mb4_bin`, so every comparison is exact (no case or accent folding).
 */
export function tokenTableMigrations(dialect: SqlDialect, table: string): Array<new () => MigrationInterface> {
  const q = (id: string) => (dialect === 'mysql' ? `\`${id}\`` : `"${id}"`);
  const t = q(table);
  const columns: readonly TokenColumn[] = TOKEN_COLUMNS;
  const indexes = (migration: string | undefined) =>
    TOKEN_INDEXES.filter((i) => i.addedIn === migration).map(
      (i) => `CREATE ${i.unique ? 'UNIQUE ' : ''}INDEX ${q(indexName(table, i))} ON ${t} (${i.columns.map(q).join(', ')})`,
    );
  const initial = [
    `CREATE TABLE ${t} (` +
      columns
        .filter((c) => c.addedIn === undefined)
        .map((c) => `${q(c.name)} ${columnDefinition(dialect, c)}`)
        .join(', ') +
      ')' +
      (dialect === 'mysql' ? ' ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin' : ''),
    ...indexes(undefined),
  ];
  const later = [...new Set(columns.map((c) => c.addedIn).filter((m): m is string => m !== undefined))].sort(byTimestamp);
  return [
    createTableMigration(INITIAL, initial, t),
    ...later.map((name) =>
      statementsMigration(name, [
        ...columns.filter((c) => c.addedIn === name).map((c) => `ALTER TABLE ${t} ADD ${q(c.name)} ${columnDefinition(dialect, c)}`),
        ...indexes(name),
      ]),
    ),
  ];
}

function columnDefinition(dialect: SqlDialect, c: TokenColumn): string {
  const ascii = c.ascii && dialect === 'mysql' ? ' CHARACTER SET ascii COLLATE ascii_bin' : '';
  const type = c.type === 'varchar' ? `varchar(${c.length})` : c.type === 'integer' && dialect === 'mysql' ? 'int' : c.type;
  if (c.primary) return `${type}${ascii} NOT NULL PRIMARY KEY`;
  const nullability = c.nullable ? ' NULL' : ' NOT NULL';
  const fallback =
    c.default === undefined
      ? ''
      : typeof c.default === 'string'
        ? ` DEFAULT '${c.default}'`
        : dialect === 'mysql'
          ? ` DEFAULT '${c.default}'`
          : ` DEFAULT (${c.default})`;
  return `${type}${ascii}${nullability}${fallback}`;
}

/** TypeORM orders migrations by the 13-digit timestamp that ends their names. */
const byTimestamp = (a: string, b: string) => Number(a.slice(-13)) - Number(b.slice(-13));
