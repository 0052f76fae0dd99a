import type BetterSqlite3 from 'better-sqlite3';
import type { SqlExecutor, SqlParam } from './sql-executor';

/**
 * SQLite through the one better-sqlite3 connection TypeORM opened. Statements
 * are prepared once and cached. better-sqlite3 is synchronous, but a
 * transaction body awaits between statements, so transactions (and any
 * statement issued while one is open) are queued behind one another: nothing
 * from outside ever runs inside another caller's transaction.
 */
export class SqliteExecutor implements SqlExecutor {
  readonly dialect = 'sqlite' as const;
  readonly forUpdate = '';
  private readonly statements = new Map<string, BetterSqlite3.Statement>();
  /** The tail of the queue of transactions; null while none is open or waiting. */
  private queue: Promise<void> | null = null;

  constructor(private readonly db: BetterSqlite3.Database) {}

  private prepare(sql: string): BetterSqlite3.Statement {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      if (this.statements.size > 500) this.statements.clear();
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  private allNow<T>(sql: string, params: readonly SqlParam[]): T[] {
    return this.prepare(sql).all(...params) as T[];
  }

  private runNow(sql: string, params: readonly SqlParam[]): number {
    return this.prepare(sql).run(...params).changes;
  }

  async all<T>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    if (this.queue) return this.exclusive(async () => this.allNow<T>(sql, params));
    return this.allNow<T>(sql, params);
  }

  async run(sql: string, params: readonly SqlParam[] = []): Promise<number> {
    if (this.queue) return this.exclusive(async () => this.runNow(sql, params));
    return this.runNow(sql, params);
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      this.runNow('BEGIN IMMEDIATE', []);
      try {
        const result = await fn(this.inTransaction);
        this.runNow('COMMIT', []);
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.runNow('ROLLBACK', []);
        throw err;
      }
    });
  }

  /** Statements of the open transaction run at once (the queue is ours). */
  private readonly inTransaction: SqlExecutor = {
    dialect: 'sqlite',
    forUpdate: '',
    all: async <T>(sql: string, params: readonly SqlParam[] = []) => this.allNow<T>(sql, params),
    run: async (sql: string, params: readonly SqlParam[] = []) => this.runNow(sql, params),
    transaction: () => Promise.reject(new Error('nested transactions are not supported')),
    classify: (err) => this.classify(err),
    close: async () => undefined,
  };

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.queue ?? Promise.resolve();
    const result = previous.then(fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.queue = tail;
    void tail.then(() => {
      if (this.queue === tail) this.queue = null;
    });
    return result;
  }

  classify(err: unknown): 'unique' | 'retry' | 'unavailable' | 'other' {
    const code = (err as { code?: string })?.code ?? '';
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return 'unique';
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return 'retry';
    if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_IOERR' || code === 'SQLITE_FULL' || code === 'SQLITE_READONLY') return 'unavailable';
    return 'other';
  }

  async close(): Promise<void> {
    this.statements.clear();
  }
}
