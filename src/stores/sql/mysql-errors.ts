import type { StoreFailure } from './sql-executor';

/** Driver and server errors after which the database is not usable for now. */
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
  // 1047, from a Galera node outside the primary component (or still joining): "WSREP has not yet prepared node for application use".
  'ER_UNKNOWN_COM_ERROR',
]);

/**
 * Lost races that the server rolled back: the statement, or the whole
 * transaction, had no effect, so running it again is safe.
 * - 1213 `ER_LOCK_DEADLOCK`: an InnoDB deadlock; on Galera also a transaction
 *   that failed certification at commit, or that a write replicated from
 *   another node aborted ("WSREP detected deadlock/conflict").
 * - 1205 `ER_LOCK_WAIT_TIMEOUT`: a row lock not granted in time (the store
 *   rolls the whole transaction back).
 * - 1020 `ER_CHECKREAD`: "record has changed since last read" (MariaDB's
 *   `innodb_snapshot_isolation`).
 */
const LOST_RACE = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'ER_CHECKREAD']);

/** What kind of failure a mysql2 error is, by its code (and SQLSTATE 40001, a serialization failure, for the rest). */
export function classifyMysqlError(err: unknown): StoreFailure {
  const e = err as { code?: unknown; sqlState?: unknown; fatal?: unknown } | null | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code === 'ER_DUP_ENTRY') return 'unique';
  if (LOST_RACE.has(code) || e?.sqlState === '40001') return 'retry';
  if (UNAVAILABLE.has(code) || e?.fatal === true) return 'unavailable';
  return 'other';
}
