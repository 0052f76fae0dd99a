import type { Pool, PoolConnection } from 'mysql2/promise';
import type { SqlExecutor, SqlParam } from './sql-executor';

/** mysql2 error codes that mean the server cannot be reached or went away. */
const UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_QUERY_INTERRUPTED',
  'POOL_CLOSED',
]);

/** Per-statement timeout: a statement never hangs a request. */
const QUERY_TIMEOUT_MS = 10_000;

/**
 * MySQL/MariaDB through the mysql2 pool TypeORM created. `execute` uses
 * server-side prepared statements, which mysql2 caches per connection.
 * Transactions run on one pooled connection at READ COMMITTED, where a
 * `SELECT … FOR UPDATE` of a missing row takes no gap lock: two concurrent
 * inserts of one user end in a duplicate-key error that the store retries,
 * not in a deadlock.
 */
export class MysqlExecutor implements SqlExecutor {
  readonly dialect = 'mysql' as const;
  readonly forUpdate = ' FOR UPDATE';

  constructor(private readonly pool: Pool | PoolConnection) {}

  async all<T>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    const [rows] = await this.pool.execute({ sql, timeout: QUERY_TIMEOUT_MS }, params as SqlParam[]);
    return rows as T[];
  }

  async run(sql: string, params: readonly SqlParam[] = []): Promise<number> {
    const [result] = await this.pool.execute({ sql, timeout: QUERY_TIMEOUT_MS }, params as SqlParam[]);
    return (result as { affectedRows: number }).affectedRows;
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    if (!('getConnection' in this.pool)) throw new Error('nested transactions are not supported');
    const conn = await this.pool.getConnection();
    let broken = false;
    try {
      await conn.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
      await conn.query('START TRANSACTION');
      try {
        const result = await fn(new MysqlExecutor(conn));
        await conn.query('COMMIT');
        return result;
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => {
          broken = true;
          conn.destroy();
        });
        throw err;
      }
    } finally {
      if (!broken) conn.release();
    }
  }

  classify(err: unknown): 'unique' | 'retry' | 'unavailable' | 'other' {
    const code = (err as { code?: string })?.code ?? '';
    if (code === 'ER_DUP_ENTRY') return 'unique';
    if (code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT') return 'retry';
    if (UNAVAILABLE.has(code) || (err as { fatal?: boolean })?.fatal) return 'unavailable';
    return 'other';
  }

  async close(): Promise<void> {
    // The pool belongs to the TypeORM DataSource, which closes it.
  }
}
