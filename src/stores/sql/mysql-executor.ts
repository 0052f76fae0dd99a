import type { Pool, PoolConnection } from 'mysql2/promise';
import { classifyMysqlError } from './mysql-errors';
import type { SqlExecutor, SqlParam, StoreFailure } from './sql-executor';
import { TurnBatcher } from './turn-batcher';

/** Per-statement timeout: a statement never hangs a request. */
const QUERY_TIMEOUT_MS = 10_000;
/** How long to wait for a pooled connection. */
const ACQUIRE_TIMEOUT_MS = 5_000;

const timeout = (what: string) => Object.assign(new Error(`${what} timed out`), { code: 'PROTOCOL_SEQUENCE_TIMEOUT' });

/** `p`, or a timeout error after `ms`; `late` gets the value if it comes after all. */
function deadline<T>(p: Promise<T>, ms: number, what: string, late?: (v: T) => void): Promise<T> {
  let timer: NodeJS.Timeout;
  let timedOut = false;
  return Promise.race([
    p.then((v) => {
      if (timedOut) late?.(v);
      return v;
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(timeout(what));
      }, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Connections (the driver's, behind each pooled wrapper) whose session is already READ COMMITTED. */
const readCommitted = new WeakSet<object>();

const broken = (err: unknown) => (err as { code?: string })?.code === 'PROTOCOL_SEQUENCE_TIMEOUT' || Boolean((err as { fatal?: boolean })?.fatal);

export class MysqlExecutor implements SqlExecutor {
  readonly dialect = 'mysql' as const;
  readonly forUpdate = ' FOR UPDATE';

  /** Groups the sending of reads outside transactions, and the handing back of their answers, by turn. */
  private readonly sends = new TurnBatcher();
  private readonly answers = new TurnBatcher();

  /** A pool (statements take a connection each), or the one connection of a transaction. */
  private readonly pooled: boolean;

  constructor(private readonly pool: Pool | PoolConnection) {
    this.pooled = 'getConnection' in pool;
  }

  private acquire(): Promise<PoolConnection> {
    return deadline((this.pool as Pool).getConnection(), ACQUIRE_TIMEOUT_MS, 'waiting for a connection', (c) => c.release());
  }

  private async onConnection<T>(fn: (conn: PoolConnection) => Promise<T>): Promise<T> {
    if (!this.pooled) return deadline(fn(this.pool as PoolConnection), QUERY_TIMEOUT_MS, 'a statement');
    const conn = await this.acquire();
    try {
      const result = await deadline(fn(conn), QUERY_TIMEOUT_MS, 'a statement');
      conn.release();
      return result;
    } catch (err) {
      if (broken(err)) conn.destroy();
      else conn.release();
      throw err;
    }
  }

  /**
   * A read outside a transaction is sent, and its answer handed back, in
   * groups by turn of the event loop (`TurnBatcher`): under load the requests
   * of one turn send their statements one after the other, and handle their
   * answers one after the other, instead of each interleaving with the rest.
   */
  all<T>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    const read = () => this.onConnection(async (c) => (await c.execute(sql, params as SqlParam[]))[0] as T[]);
    if (!this.pooled) return read();
    return new Promise<T[]>((resolve, reject) => {
      this.sends.run(() =>
        read().then(
          (rows) => this.answers.run(() => resolve(rows)),
          (err: unknown) => this.answers.run(() => reject(err)),
        ),
      );
    });
  }

  run(sql: string, params: readonly SqlParam[] = []): Promise<number> {
    return this.onConnection(async (c) => ((await c.execute(sql, params as SqlParam[]))[0] as { affectedRows: number }).affectedRows);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    if (!this.pooled) throw new Error('nested transactions are not supported');
    const conn = await this.acquire();
    const q = (sql: string) => deadline(conn.query(sql), QUERY_TIMEOUT_MS, sql);
    try {
      // Once per connection, not once per transaction: a round trip less on every write.
      const session = (conn as unknown as { connection?: object }).connection ?? conn;
      if (!readCommitted.has(session)) {
        await q('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
        readCommitted.add(session);
      }
      await q('START TRANSACTION');
      const result = await fn(new MysqlExecutor(conn));
      await q('COMMIT');
      conn.release();
      return result;
    } catch (err) {
      if (broken(err)) conn.destroy();
      else
        await q('ROLLBACK').then(
          () => conn.release(),
          () => conn.destroy(),
        );
      throw err;
    }
  }

  classify(err: unknown): StoreFailure {
    return classifyMysqlError(err);
  }

  async close(): Promise<void> {}
}
