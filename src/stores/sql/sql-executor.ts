import type { SqlDialect } from './sql-dialect';

export type SqlParam = string | number | null;

/**
 * What kind of failure a driver error is: `unique` (a unique index refused
 * the write), `retry` (a lost lock or certification race that the database
 * rolled back, so running the statement or transaction again is safe),
 * `unavailable` (the database cannot be reached or is not ready), `other`.
 */
export type StoreFailure = 'unique' | 'retry' | 'unavailable' | 'other';

/**
 * The few things the SQL token store needs from a database connection:
 * parameterized statements and transactions. One implementation per engine,
 * each on the connection TypeORM opened (so pool, timeouts and migrations are
 * TypeORM's), with prepared statements on the hot path.
 */
export interface SqlExecutor {
  readonly dialect: SqlDialect;
  /** Rows of a query. */
  all<T = Record<string, unknown>>(sql: string, params?: readonly SqlParam[]): Promise<T[]>;
  /** Runs a statement. @returns how many rows it changed. */
  run(sql: string, params?: readonly SqlParam[]): Promise<number>;
  /**
   * Runs `fn` in one transaction that takes the write lock before it reads
   * (SQLite `BEGIN IMMEDIATE`; MySQL READ COMMITTED with `FOR UPDATE` reads),
   * committing when it resolves and rolling back when it throws.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** `FOR UPDATE` where the engine needs it for a read that precedes a write in a transaction. */
  readonly forUpdate: string;
  /** What kind of failure a driver error is. */
  classify(err: unknown): StoreFailure;
  close(): Promise<void>;
}
