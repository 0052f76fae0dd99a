import type { SqlParam } from './sql-executor';

/** The `code` of a write the writer thread will never answer (it stopped): the store's UNAVAILABLE. */
export const WRITER_UNAVAILABLE = 'TOKENGATE_SQLITE_WRITER_UNAVAILABLE';

/** What the writer thread is started with. */
export interface WriterData {
  /** The database file (absolute). */
  file: string;
  /** How long a write waits for another process's write lock (ms). */
  busyTimeoutMs: number;
  /** Under ts-jest only: the worker's TypeScript entry, compiled as it is required. */
  entry?: string;
  typescript?: string;
}

/**
 * Messages to the writer thread. A transaction is known by `tx`: its
 * statements arrive one by one from the main thread, where its body runs,
 * and `end` says whether to commit (its reply comes after the COMMIT) or to
 * roll back (no reply). `run` is one statement in a transaction of its own.
 * Every message with a `req` gets exactly one reply with that `req`.
 */
export type ToWriter =
  | { t: 'stmt'; tx: number; req: number; op: 'all' | 'run'; sql: string; params: readonly SqlParam[] }
  | { t: 'end'; tx: number; req: number; commit: true }
  | { t: 'end'; tx: number; commit: false }
  | { t: 'run'; req: number; sql: string; params: readonly SqlParam[] }
  | { t: 'stats'; req: number }
  | { t: 'close'; req: number }
  /** Test hook: the writer thread dies of an uncaught exception. */
  | { t: 'crash' };

/** A driver error as it crosses threads: enough for `classify` and a message without values. */
export interface WireError {
  name: string;
  message: string;
  code?: string;
}

/** What the writer thread has done since it started (`stats`). */
export interface WriterStats {
  /** Transactions committed (each caller's transaction counts once). */
  transactions: number;
  /** COMMITs run: fewer than `transactions` when group commit batched them. */
  commits: number;
}

export type FromWriter = { t: 'ready' } | { t: 'ok'; req: number; value: unknown } | { t: 'err'; req: number; error: WireError };
