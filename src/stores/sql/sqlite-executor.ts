import type BetterSqlite3 from 'better-sqlite3';
import type { SqlExecutor, SqlParam } from './sql-executor';
import { WRITER_UNAVAILABLE } from './sqlite-writer-protocol';
import { TurnBatcher } from './turn-batcher';

/** How many transactions one commit may carry, at most. */
const GROUP_MAX_TRANSACTIONS = 64;
/** No transaction joins a group that has held the write lock this long (ms). */
const GROUP_MAX_MS = 5;
/** The savepoint each joining transaction runs in (one at a time, so one name). */
const MEMBER_SAVEPOINT = 'tokengate_group_member';

/** A transaction or a statement waiting for the connection. */
type Job =
  | { kind: 'transaction'; fn: (tx: SqlExecutor) => Promise<unknown>; resolve: (value: unknown) => void; reject: (err: unknown) => void }
  | { kind: 'statement'; run: () => unknown; resolve: (value: unknown) => void; reject: (err: unknown) => void };

/** A transaction of the open group whose body succeeded: told when the group's COMMIT is done. */
interface Settled {
  value: unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/**
 * SQLite through one better-sqlite3 connection: on a file, the writer
 * thread's for transactions (`sqlite-writer-worker.ts`) and TypeORM's for the
 * main thread's reads; in memory, TypeORM's for everything. Statements
 * are prepared once and cached. better-sqlite3 is synchronous, but a
 * transaction body awaits between statements, so transactions (and any
 * statement issued while one is open or waiting) are queued behind one
 * another: nothing from outside ever runs inside another caller's transaction.
 *
 * Group commit: with synchronous = FULL every COMMIT is an fsync, which bounds
 * the saves per second. A transaction that starts with nobody waiting is a
 * plain `BEGIN IMMEDIATE … COMMIT`. When its body is done and further
 * transactions are waiting at the head of the queue, they join its open
 * transaction before the COMMIT, each in a `SAVEPOINT` of its own: a body that
 * throws has its savepoint rolled back (its writes only) and its caller gets
 * its error at once; a body that succeeds is answered only after the group's
 * COMMIT succeeded (nobody hears "saved" before the fsync), and with the
 * COMMIT's error if it failed (the rollback leaves the database as before
 * the group). A group takes at most GROUP_MAX_TRANSACTIONS or GROUP_MAX_MS.
 * Statements issued outside transactions stay in the queue in order: a group
 * ends at the first one, which runs after the COMMIT and so never sees
 * uncommitted writes.
 *
 * Read batching (`TurnBatcher`): the first read outside a transaction in a
 * turn of the event loop runs at once; the reads issued after it in the same
 * turn run together at the turn's end. A read that waits is concurrent with
 * whatever else was issued in that turn, and may see its writes; a caller
 * that awaits its write before reading sees it, as before. If a transaction
 * has started by then, the waiting reads queue behind it like any statement.
 */
export class SqliteExecutor implements SqlExecutor {
  readonly dialect = 'sqlite' as const;
  readonly forUpdate = '';
  private readonly statements = new Map<string, Prepared>();
  /** Transactions and statements waiting for the connection, in arrival order. */
  private readonly waiting: Job[] = [];
  /** True while a transaction is open or anything waits (the queue is being drained). */
  private busy = false;
  /** Groups the reads outside transactions by turn of the event loop. */
  private readonly reads = new TurnBatcher();
  /** COMMITs of transactions run so far (a group's counts once). */
  commits = 0;

  constructor(private readonly db: BetterSqlite3.Database) {}

  private prepare(sql: string): Prepared {
    let prepared = this.statements.get(sql);
    if (!prepared) {
      prepared = prepareStatement(this.db, sql);
      if (this.statements.size > 500) this.statements.clear();
      this.statements.set(sql, prepared);
    }
    return prepared;
  }

  private allNow<T>(sql: string, params: readonly SqlParam[]): T[] {
    const { stmt, row } = this.prepare(sql);
    if (row === null) return stmt.all(...params) as T[];
    const values = stmt.all(...params) as unknown[][];
    const rows = new Array<T>(values.length);
    for (let i = 0; i < values.length; i++) rows[i] = row(values[i]!) as T;
    return rows;
  }

  private runNow(sql: string, params: readonly SqlParam[]): number {
    return this.prepare(sql).stmt.run(...params).changes;
  }

  all<T>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    const read = () => this.allNow<T>(sql, params);
    if (this.busy) return this.enqueueStatement(read);
    return new Promise<T[]>((resolve, reject) => {
      this.reads.run(() => {
        // A read that waited for the turn's end queues behind a transaction begun meanwhile.
        if (this.busy) return void this.enqueueStatement(read).then(resolve, reject);
        try {
          resolve(read());
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  async run(sql: string, params: readonly SqlParam[] = []): Promise<number> {
    if (this.busy) return this.enqueueStatement(() => this.runNow(sql, params));
    return this.runNow(sql, params);
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.enqueue({ kind: 'transaction', fn, resolve: resolve as (value: unknown) => void, reject });
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

  private enqueueStatement<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.enqueue({ kind: 'statement', run, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  private enqueue(job: Job): void {
    this.waiting.push(job);
    if (this.busy) return;
    this.busy = true;
    // Started on a microtask, as the queue always did: the caller's synchronous code runs first.
    void Promise.resolve().then(() => this.drain());
  }

  /** Runs the waiting jobs in order until none is left. Never rejects. */
  private async drain(): Promise<void> {
    try {
      for (let job = this.waiting.shift(); job; job = this.waiting.shift()) {
        if (job.kind === 'statement') {
          try {
            job.resolve(job.run());
          } catch (err) {
            job.reject(err);
          }
        } else {
          await this.runGroup(job);
        }
      }
    } finally {
      this.busy = false;
    }
  }

  /**
   * Runs `first` as a plain transaction, then, before its COMMIT, every
   * transaction waiting at the head of the queue (up to the caps) in a
   * savepoint of its own; commits once and answers them.
   */
  private async runGroup(first: Extract<Job, { kind: 'transaction' }>): Promise<void> {
    try {
      this.runNow('BEGIN IMMEDIATE', []);
    } catch (err) {
      first.reject(err);
      return;
    }
    const started = performance.now();
    const settled: Settled[] = [];
    try {
      settled.push({ value: await first.fn(this.inTransaction), resolve: first.resolve, reject: first.reject });
    } catch (err) {
      this.rollback();
      first.reject(err);
      return;
    }
    /** Set when the whole transaction was lost (SQLite rolled it back, or a savepoint statement failed). */
    let lost: { err: unknown } | null = null;
    while (
      lost === null &&
      this.db.inTransaction &&
      settled.length < GROUP_MAX_TRANSACTIONS &&
      performance.now() - started < GROUP_MAX_MS &&
      this.waiting[0]?.kind === 'transaction'
    ) {
      const member = this.waiting.shift() as Extract<Job, { kind: 'transaction' }>;
      try {
        this.runNow(`SAVEPOINT ${MEMBER_SAVEPOINT}`, []);
      } catch (err) {
        lost = { err };
        member.reject(err);
        break;
      }
      let value: unknown;
      try {
        value = await member.fn(this.inTransaction);
      } catch (err) {
        // Its own writes undone, the group's kept; it hears its own error now.
        if (this.db.inTransaction) {
          try {
            this.runNow(`ROLLBACK TO ${MEMBER_SAVEPOINT}`, []);
            this.runNow(`RELEASE ${MEMBER_SAVEPOINT}`, []);
          } catch (undoErr) {
            lost = { err: undoErr };
          }
        } else {
          // SQLite rolled the whole transaction back (SQLITE_FULL, IOERR…): the group's writes are gone too.
          lost = { err };
        }
        member.reject(err);
        continue;
      }
      if (!this.db.inTransaction) {
        // The body swallowed an error that rolled everything back: the COMMIT below fails for all, as it would alone.
        settled.push({ value, resolve: member.resolve, reject: member.reject });
        break;
      }
      try {
        this.runNow(`RELEASE ${MEMBER_SAVEPOINT}`, []);
      } catch (err) {
        lost = { err };
        member.reject(err);
        break;
      }
      settled.push({ value, resolve: member.resolve, reject: member.reject });
    }
    if (lost !== null) {
      this.rollback();
      for (const s of settled) s.reject(lost.err);
      return;
    }
    try {
      this.runNow('COMMIT', []);
    } catch (err) {
      this.rollback();
      for (const s of settled) s.reject(err);
      return;
    }
    this.commits++;
    for (const s of settled) s.resolve(s.value);
  }

  /** Rolls back the open transaction, if SQLite has not already. */
  private rollback(): void {
    if (!this.db.inTransaction) return;
    try {
      this.runNow('ROLLBACK', []);
    } catch {
      // Nothing more can be done here; SQLite rolls back on its own when the connection fails.
    }
  }

  classify(err: unknown): 'unique' | 'retry' | 'unavailable' | 'other' {
    const code = (err as { code?: string })?.code ?? '';
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return 'unique';
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return 'retry';
    if (code === WRITER_UNAVAILABLE || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_IOERR' || code === 'SQLITE_FULL' || code === 'SQLITE_READONLY')
      return 'unavailable';
    return 'other';
  }

  async close(): Promise<void> {
    this.statements.clear();
  }
}

/** A prepared statement; one that returns rows comes back as arrays, made into objects by `row`. */
interface Prepared {
  stmt: BetterSqlite3.Statement;
  row: ((values: unknown[]) => Record<string, unknown>) | null;
}

/**
 * Prepares a statement. Rows are read as arrays and made into objects by a
 * function compiled for the statement's columns: better-sqlite3 builds each
 * row object property by property, which cost about 5 µs of a 20-column
 * token row (a third of a lookup's SQLite time); an object literal of known
 * shape costs a fraction of that.
 */
function prepareStatement(db: BetterSqlite3.Database, sql: string): Prepared {
  const stmt = db.prepare(sql);
  if (!stmt.reader) return { stmt, row: null };
  const names = stmt.columns().map((c) => c.name);
  // A `__proto__` key in a literal would set the prototype, not a property: such a statement keeps better-sqlite3's objects.
  if (names.includes('__proto__')) return { stmt, row: null };
  stmt.raw(true);
  const body = `return { ${names.map((n, i) => `${JSON.stringify(n)}: v[${i}]`).join(', ')} };`;
  return { stmt, row: new Function('v', body) as (values: unknown[]) => Record<string, unknown> };
}
