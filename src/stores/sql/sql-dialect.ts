/** The SQL engines tokengate speaks: SQLite (better-sqlite3) and MySQL/MariaDB (mysql2). */
export type SqlDialect = 'sqlite' | 'mysql';

/** Quotes an identifier that was validated as `[A-Za-z_][A-Za-z0-9_]*` (a table name). */
export function quoteIdent(dialect: SqlDialect, name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error('invalid SQL identifier');
  return dialect === 'mysql' ? `\`${name}\`` : `"${name}"`;
}

/** The database's own clock in epoch milliseconds, so leases do not depend on the gateways' clocks. */
export function nowMsExpression(dialect: SqlDialect): string {
  return dialect === 'mysql' ? 'CAST(ROUND(UNIX_TIMESTAMP(NOW(3)) * 1000) AS SIGNED)' : "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";
}
