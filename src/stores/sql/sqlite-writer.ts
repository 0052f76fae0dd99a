import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import type { SqlExecutor, SqlParam } from './sql-executor';
import { SqliteExecutor } from './sqlite-executor';
import { WRITER_UNAVAILABLE, type FromWriter, type ToWriter, type WriterData, type WriterStats } from './sqlite-writer-protocol';

/** How long closing waits for the writer thread to finish what it was given (ms). */
const CLOSE_TIMEOUT_MS = 10_000;

/**
 * Under ts-jest the sources are TypeScript and the worker thread has no
 * transform: it compiles each `.ts` file as it requires it (TypeScript is a
 * dev dependency, there whenever the sources are), keeping the output in a
 * cache by content hash, since loading TypeScript takes seconds and every
 * store a test opens starts a thread. The build runs the compiled `.js`.
 */
const TS_LOADER = `
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { workerData } = require('node:worker_threads');
const cacheDir = path.join(os.tmpdir(), 'tokengate-ts-worker-cache');
let ts = null;
require.extensions['.ts'] = (module, filename) => {
  const source = fs.readFileSync(filename, 'utf8');
  const cached = path.join(cacheDir, crypto.createHash('sha256').update(filename + '\\0' + source).digest('hex') + '.js');
  let js;
  try {
    js = fs.readFileSync(cached, 'utf8');
  } catch {
    ts ??= require(workerData.typescript);
    js = ts.transpileModule(source, {
      fileName: filename,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    }).outputText;
    fs.mkdirSync(cacheDir, { recursive: true });
    const tmp = cached + '.' + process.pid + '.' + require('node:worker_threads').threadId;
    fs.writeFileSync(tmp, js);
    fs.renameSync(tmp, cached);
  }
  module._compile(js, filename);
};
require(workerData.entry);
`;

/** A write that the writer thread will never answer: it stopped (crashed, or was terminated). */
export class WriterUnavailableError extends Error {
  override readonly name = 'WriterUnavailableError';
  readonly code = WRITER_UNAVAILABLE;
}

type Request = Extract<ToWriter, { req: number }>;
type Pending = { resolve: (value: unknown) => void; reject: (err: unknown) => void };
/** A message of a request, without its `req` (added when it is sent). */
type Unnumbered<M> = M extends unknown ? Omit<M, 'req'> : never;

/** One writer thread and the requests it has not answered. */
class Generation {
  readonly pending = new Map<number, Pending>();
  alive = true;
  /** Why it stopped, when an error said so. */
  error: unknown = null;
  /** Resolves when the thread has exited. */
  readonly exited: Promise<void>;
  constructor(readonly worker: Worker) {
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
  }
}

/**
 * The client of the writer thread (`sqlite-writer-worker.ts`): starts it on
 * the first write and again on the first write after it stopped, numbers the
 * requests and settles each with the thread's answer. When the thread stops
 * unexpectedly, every request it had not answered fails with a
 * `WriterUnavailableError` (the store's UNAVAILABLE): a write whose answer
 * was lost may or may not have been committed, as with a database
 * connection that drops; a write answered as done was committed before. The
 * thread keeps the process alive only while a request waits.
 */
export class SqliteWriter {
  private current: Generation | null = null;
  private nextReq = 1;
  private nextTx = 1;
  private closed = false;
  /** Threads started so far (1 + restarts). */
  started = 0;

  constructor(private readonly data: WriterData) {}

  /** The live writer thread, started if there is none. */
  generation(): Generation {
    if (this.closed) throw new Error('the SQLite store is closed');
    if (this.current?.alive) return this.current;
    const gen = new Generation(this.startWorker());
    this.started++;
    this.current = gen;
    gen.worker.unref();
    gen.worker.on('message', (m: FromWriter) => {
      if (m.t === 'ready') return;
      const p = gen.pending.get(m.req);
      if (!p) return;
      gen.pending.delete(m.req);
      if (gen.pending.size === 0) gen.worker.unref();
      if (m.t === 'ok') p.resolve(m.value);
      else p.reject(Object.assign(new Error(m.error.message), m.error));
    });
    gen.worker.on('error', (err) => {
      gen.error ??= err;
    });
    gen.worker.once('exit', (code) => {
      gen.alive = false;
      if (this.current === gen) this.current = null;
      const reason = this.closed ? 'the SQLite store is closed' : `the SQLite writer thread stopped (exit code ${code})`;
      for (const p of gen.pending.values()) p.reject(new WriterUnavailableError(reason, { cause: gen.error ?? undefined }));
      gen.pending.clear();
    });
    return gen;
  }

  private startWorker(): Worker {
    const ext = path.extname(__filename);
    const entry = path.join(__dirname, `sqlite-writer-worker${ext}`);
    if (ext === '.ts') return new Worker(TS_LOADER, { eval: true, workerData: { ...this.data, entry, typescript: require.resolve('typescript') } });
    return new Worker(entry, { workerData: this.data });
  }

  txId(): number {
    return this.nextTx++;
  }

  /** Sends a request to `gen` and waits for its answer. */
  request<T>(gen: Generation, message: Unnumbered<Request>): Promise<T> {
    if (!gen.alive) return Promise.reject(new WriterUnavailableError('the SQLite writer thread stopped', { cause: gen.error ?? undefined }));
    const req = this.nextReq++;
    return new Promise<T>((resolve, reject) => {
      gen.pending.set(req, { resolve: resolve as (value: unknown) => void, reject });
      if (gen.pending.size === 1) gen.worker.ref();
      gen.worker.postMessage({ ...message, req } as ToWriter);
    });
  }

  /** Sends a message that gets no answer. */
  post(gen: Generation, message: Exclude<ToWriter, { req: number }>): void {
    if (gen.alive) gen.worker.postMessage(message);
  }

  /** What the current writer thread has done (starts one if none runs). */
  stats(): Promise<WriterStats> {
    return this.request(this.generation(), { t: 'stats' });
  }

  /** Test hook: the writer thread dies of an uncaught exception; resolves when it has exited. */
  async crashForTests(): Promise<void> {
    const gen = this.generation();
    gen.worker.postMessage({ t: 'crash' } satisfies ToWriter);
    await gen.exited;
  }

  /** Test hook: terminates the writer thread, as a crash would; resolves when it has exited. */
  async terminateForTests(): Promise<void> {
    const gen = this.generation();
    await gen.worker.terminate();
    await gen.exited;
  }

  /** Lets the writer thread finish what it was given, closes its connection and ends it. */
  async close(): Promise<void> {
    if (this.closed) return;
    const gen = this.current?.alive ? this.current : null;
    if (gen) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.request(gen, { t: 'close' }).catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS)))]);
      clearTimeout(timer);
    }
    this.closed = true;
    if (gen) {
      await gen.worker.terminate();
      await gen.exited;
    }
  }
}

/**
 * SQLite with its writes off the event loop. Reads outside transactions run
 * on the main thread's own connection (`reader`, WAL: they never wait for a
 * writer and see what is committed); every write, and every transaction
 * with all its statements (its reads too: they see its own writes, under
 * the write lock it took first), runs on the writer thread, which commits
 * with group commit. A write settles only after its COMMIT returned
 * (`synchronous = FULL`: the fsync is done).
 */
export class ThreadedSqliteExecutor implements SqlExecutor {
  readonly dialect = 'sqlite' as const;
  readonly forUpdate = '';
  private readonly reader: SqliteExecutor;
  readonly writer: SqliteWriter;

  /**
   * @param readerDb the main thread's connection (TypeORM's), used for reads only from now on
   * @param file the database file the writer thread opens
   */
  constructor(readerDb: BetterSqlite3.Database, file: string, busyTimeoutMs = 5000) {
    // Every write goes through the writer thread; a write here would fsync on the event loop.
    readerDb.pragma('query_only = ON');
    this.reader = new SqliteExecutor(readerDb);
    this.writer = new SqliteWriter({ file: path.resolve(file), busyTimeoutMs });
  }

  all<T>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    return this.reader.all<T>(sql, params);
  }

  async run(sql: string, params: readonly SqlParam[] = []): Promise<number> {
    return this.writer.request<number>(this.writer.generation(), { t: 'run', sql, params });
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const gen = this.writer.generation();
    const id = this.writer.txId();
    /** Whether the writer thread knows this transaction (it begins it on its first statement). */
    let begun = false;
    let ended = false;
    const statement = <R>(op: 'all' | 'run', sql: string, params: readonly SqlParam[]): Promise<R> => {
      if (ended) return Promise.reject(new Error('the transaction has ended'));
      begun = true;
      return this.writer.request<R>(gen, { t: 'stmt', tx: id, op, sql, params });
    };
    const tx: SqlExecutor = {
      dialect: 'sqlite',
      forUpdate: '',
      all: <R>(sql: string, params: readonly SqlParam[] = []) => statement<R[]>('all', sql, params),
      run: (sql: string, params: readonly SqlParam[] = []) => statement<number>('run', sql, params),
      transaction: () => Promise.reject(new Error('nested transactions are not supported')),
      classify: (err) => this.classify(err),
      close: async () => undefined,
    };
    let value: T;
    try {
      value = await fn(tx);
    } catch (err) {
      ended = true;
      if (begun) this.writer.post(gen, { t: 'end', tx: id, commit: false });
      throw err;
    }
    ended = true;
    // Answered after the COMMIT of the group this transaction joined.
    if (begun) await this.writer.request(gen, { t: 'end', tx: id, commit: true });
    return value;
  }

  classify(err: unknown): 'unique' | 'retry' | 'unavailable' | 'other' {
    return this.reader.classify(err);
  }

  async close(): Promise<void> {
    await this.writer.close();
    await this.reader.close();
  }
}
