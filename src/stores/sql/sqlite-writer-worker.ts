/**
 * The SQLite writer thread: owns the one connection that writes, so that
 * COMMITs (an fsync each, `synchronous = FULL`) wait here and not on the
 * gateway's event loop. Transactions go through a `SqliteExecutor`, whose
 * group commit joins the transactions waiting behind an open one into its
 * COMMIT. A transaction's body runs on the main thread and sends its
 * statements here one by one (see `sqlite-writer-protocol.ts`); its reads
 * run in the open transaction, so they see its own writes and hold the write
 * lock like every read of a transaction did.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { SqlExecutor } from './sql-executor';
import { SqliteExecutor } from './sqlite-executor';
import type { FromWriter, ToWriter, WireError, WriterData, WriterStats } from './sqlite-writer-protocol';

type TxMessage = Extract<ToWriter, { tx: number }>;

/** A transaction the main thread has begun: its messages not yet taken, and how it ended. */
interface Tx {
  inbox: TxMessage[];
  /** Wakes the body waiting for a message. */
  wake: (() => void) | null;
  /** The `end` request to answer after the COMMIT, once the body has seen it. */
  endReq: number | null;
  /** Set when the transaction failed before its body ended: later messages are answered with it. */
  failed: unknown;
}

/** Thrown by a body whose main-thread side threw: its writes are rolled back, nobody waits for an answer. */
const ABORTED = Symbol('aborted');

const port = parentPort!;
const data = workerData as WriterData;
const db = new Database(data.file, { timeout: data.busyTimeoutMs });
db.pragma('journal_mode = WAL');
// Durable commits: a rotated refresh token must survive a power cut.
db.pragma('synchronous = FULL');
db.pragma('foreign_keys = ON');
db.pragma('cache_size = -16384');
const exec = new SqliteExecutor(db);
const txs = new Map<number, Tx>();
let transactions = 0;

const send = (m: FromWriter) => port.postMessage(m);
const wire = (err: unknown): WireError => {
  const e = err as { name?: unknown; message?: unknown; code?: unknown };
  return { name: String(e?.name ?? 'Error'), message: String(e?.message ?? err), ...(typeof e?.code === 'string' ? { code: e.code } : {}) };
};
const ok = (req: number, value: unknown) => send({ t: 'ok', req, value });
const fail = (req: number, err: unknown) => send({ t: 'err', req, error: wire(err) });

/** Answers a message of a transaction that has already failed. */
function refuse(tx: Tx, m: TxMessage): void {
  if (m.t === 'stmt' || m.commit) fail(m.req, tx.failed);
}

/** The next message of `tx`, waiting for it. */
async function next(tx: Tx): Promise<TxMessage> {
  while (tx.inbox.length === 0) await new Promise<void>((resolve) => (tx.wake = resolve));
  return tx.inbox.shift()!;
}

/** Runs the statements of transaction `id` as they arrive, until its `end`. */
async function body(tx: Tx, inTx: SqlExecutor): Promise<void> {
  for (;;) {
    const m = await next(tx);
    if (m.t === 'end') {
      if (!m.commit) throw ABORTED;
      tx.endReq = m.req;
      return;
    }
    try {
      ok(m.req, m.op === 'all' ? await inTx.all(m.sql, m.params) : await inTx.run(m.sql, m.params));
    } catch (err) {
      // The main thread's body decides: it may catch this (a unique clash it looks into) or end the transaction.
      fail(m.req, err);
    }
  }
}

function begin(id: number): Tx {
  const tx: Tx = { inbox: [], wake: null, endReq: null, failed: undefined };
  txs.set(id, tx);
  exec
    .transaction((inTx) => body(tx, inTx))
    .then(
      () => {
        txs.delete(id);
        transactions++;
        ok(tx.endReq!, null);
      },
      (err: unknown) => {
        if (tx.endReq !== null) {
          // The body had ended well; its COMMIT (or its group's) failed.
          txs.delete(id);
          fail(tx.endReq, err);
        } else if (err === ABORTED) {
          txs.delete(id);
        } else {
          // Failed before the body ended (BEGIN, a savepoint): every message of it, now and later, gets the error; its `end` forgets it.
          tx.failed = err;
          for (const m of tx.inbox.splice(0)) {
            refuse(tx, m);
            if (m.t === 'end') txs.delete(id);
          }
        }
      },
    );
  return tx;
}

function onTxMessage(m: TxMessage): void {
  let tx = txs.get(m.tx);
  if (!tx) {
    // A transaction ended on the main thread before sending anything here needs nothing.
    if (m.t === 'end' && !m.commit) return;
    tx = begin(m.tx);
  }
  if (tx.failed !== undefined) {
    refuse(tx, m);
    if (m.t === 'end') txs.delete(m.tx);
    return;
  }
  tx.inbox.push(m);
  const wake = tx.wake;
  tx.wake = null;
  wake?.();
}

port.on('message', (m: ToWriter) => {
  switch (m.t) {
    case 'stmt':
    case 'end':
      onTxMessage(m);
      return;
    case 'run':
      exec
        .transaction((inTx) => inTx.run(m.sql, m.params))
        .then(
          (changes) => {
            transactions++;
            ok(m.req, changes);
          },
          (err: unknown) => fail(m.req, err),
        );
      return;
    case 'stats':
      ok(m.req, { transactions, commits: exec.commits } satisfies WriterStats);
      return;
    case 'close':
      // Queued behind every transaction begun before it: when it is done, they are too.
      exec
        .transaction(async () => undefined)
        .finally(() => {
          db.close();
          ok(m.req, null);
        });
      return;
    case 'crash':
      setImmediate(() => {
        throw new Error('writer thread crash (test hook)');
      });
      return;
  }
});

send({ t: 'ready' });
