import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { Keyring } from '../../src/crypto/keyring';
import { TokenStoreError } from '../../src/errors';
import { openStore } from '../../src/stores/open-store';
import type { SqlExecutor } from '../../src/stores/sql/sql-executor';
import { ThreadedSqliteExecutor } from '../../src/stores/sql/sqlite-writer';
import { WRITER_UNAVAILABLE } from '../../src/stores/sql/sqlite-writer-protocol';
import type { Stores } from '../../src/stores/stores';

/**
 * SQLite writes on the writer thread, on a real database file: the main
 * thread reads through its own connection, every write and transaction runs
 * on the thread that owns the write connection. A third connection on the
 * same file tells what is committed.
 */

const dirs: string[] = [];
const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-writer-'));
  dirs.push(dir);
  return path.join(dir, 'writer.db');
}

interface Setup {
  file: string;
  exec: ThreadedSqliteExecutor;
  /** Another connection on the file: sees committed rows only. */
  probe: Database.Database;
  committedValues(): string[];
}

function setup(): Setup {
  const file = tempFile();
  const main = new Database(file, { timeout: 5000 });
  main.pragma('journal_mode = WAL');
  main.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)');
  // A deferred foreign key: its violation is found by the COMMIT, not by the statement.
  main.exec('CREATE TABLE parent (id INTEGER PRIMARY KEY)');
  main.exec('CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)');
  const exec = new ThreadedSqliteExecutor(main, file);
  const probe = new Database(file, { readonly: true });
  closers.push(
    () => main.close(),
    () => probe.close(),
  );
  closers.push(() => exec.close());
  const every = probe.prepare('SELECT v FROM t ORDER BY v');
  return { file, exec, probe, committedValues: () => (every.all() as Array<{ v: string }>).map((r) => r.v) };
}

const insert = (v: string) => async (tx: SqlExecutor) => {
  await tx.run('INSERT INTO t (v) VALUES (?)', [v]);
  return v;
};

/** A promise and the function that resolves it: a test's own signal. */
function gate(): { open: () => void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

/** Collects what a promise settled with, without an unhandled rejection. */
function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; err: unknown }> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (err: unknown) => ({ ok: false as const, err }),
  );
}

const codeOf = (r: { ok: boolean; err?: unknown }) => (r.ok ? 'ok' : (r.err as { code?: string }).code);

describe('SQLite writer thread', () => {
  it('answers a write only once it is committed: visible to another connection the moment it settles', async () => {
    const s = setup();
    const seenAtResolve = await Promise.all(
      Array.from({ length: 50 }, (_, i) => s.exec.transaction(insert(`v${String(i).padStart(2, '0')}`)).then((v) => s.committedValues().includes(v))),
    );
    expect(seenAtResolve.every(Boolean)).toBe(true);
    const changed = await s.exec.run("UPDATE t SET v = 'renamed' WHERE v = 'v00'");
    expect(changed).toBe(1);
    expect(s.committedValues()).toContain('renamed');
  });

  it('rejects a transaction whose COMMIT fails, though every statement of it succeeded, and keeps nothing of it', async () => {
    const s = setup();
    const r = await settle(
      s.exec.transaction(async (tx) => {
        await tx.run('INSERT INTO child (id, parent) VALUES (1, 42)'); // no parent 42: the COMMIT refuses
        await tx.run("INSERT INTO t (v) VALUES ('with-orphan')");
        return 'body done';
      }),
    );
    expect(codeOf(r)).toBe('SQLITE_CONSTRAINT_FOREIGNKEY');
    expect(s.committedValues()).toEqual([]);
    expect(s.probe.prepare('SELECT COUNT(*) AS n FROM child').get()).toEqual({ n: 0 });
  });

  it("a transaction's reads see its own writes; the main thread's reads see only what is committed", async () => {
    const s = setup();
    await s.exec.transaction(insert('before'));
    // Read on the main thread right after the write settled.
    expect(await s.exec.all<{ v: string }>('SELECT v FROM t')).toEqual([{ v: 'before' }]);
    const seen = await s.exec.transaction(async (tx) => {
      await tx.run("INSERT INTO t (v) VALUES ('inside')");
      const own = await tx.all<{ v: string }>('SELECT v FROM t ORDER BY v');
      const outside = await s.exec.all<{ v: string }>('SELECT v FROM t ORDER BY v');
      return { own: own.map((r) => r.v), outside: outside.map((r) => r.v) };
    });
    expect(seen).toEqual({ own: ['before', 'inside'], outside: ['before'] });
    expect((await s.exec.all<{ v: string }>('SELECT v FROM t ORDER BY v')).map((r) => r.v)).toEqual(['before', 'inside']);
  });

  it("rolls back a transaction whose body throws; a unique clash is the body's to handle", async () => {
    const s = setup();
    await s.exec.transaction(insert('taken'));
    const clash = await settle(
      s.exec.transaction(async (tx) => {
        await tx.run("INSERT INTO t (v) VALUES ('mine')");
        try {
          await tx.run("INSERT INTO t (v) VALUES ('taken')");
        } catch (err) {
          // As the store's upsert does: look into the clash inside the transaction, then fail.
          const rows = await tx.all<{ v: string }>("SELECT v FROM t WHERE v = 'taken'");
          throw Object.assign(new Error(`clash with ${rows.length} row`), { cause: err });
        }
      }),
    );
    expect(!clash.ok && (clash.err as Error).message).toBe('clash with 1 row');
    expect(!clash.ok && s.exec.classify((clash.err as Error).cause)).toBe('unique');
    await s.exec.transaction(insert('after'));
    expect(s.committedValues()).toEqual(['after', 'taken']);
  });

  it('answers reads on the main thread while a write waits for the lock another connection holds', async () => {
    const s = setup();
    await s.exec.transaction(insert('old'));
    const other = new Database(s.file, { timeout: 5000 });
    closers.push(() => other.close());
    other.exec('BEGIN IMMEDIATE');
    let writeSettled = false;
    const write = settle(s.exec.run("INSERT INTO t (v) VALUES ('new')")).finally(() => (writeSettled = true));
    // The write waits on the writer thread; the event loop goes on.
    await new Promise((resolve) => setImmediate(resolve));
    const rows = await s.exec.all<{ v: string }>('SELECT v FROM t');
    expect(writeSettled).toBe(false);
    expect(rows).toEqual([{ v: 'old' }]);
    other.exec('COMMIT');
    expect(codeOf(await write)).toBe('ok');
    expect(s.committedValues()).toEqual(['new', 'old']);
  });

  it('still commits waiting transactions as one group', async () => {
    const s = setup();
    const before = await s.exec.writer.stats();
    const held = gate();
    const holding = gate();
    // An open transaction holding the write lock until the test lets it end.
    const first = s.exec.transaction(async (tx) => {
      await tx.run("INSERT INTO t (v) VALUES ('first')");
      holding.open();
      await held.opened;
    });
    await holding.opened;
    const n = 10;
    const rest = Array.from({ length: n }, (_, i) => s.exec.run('INSERT INTO t (v) VALUES (?)', [`r${i}`]));
    // Answered after the ten writes were queued on the writer thread (it takes its messages in order).
    await s.exec.writer.stats();
    held.open();
    await Promise.all([first, ...rest]);
    const after = await s.exec.writer.stats();
    expect(after.transactions - before.transactions).toBe(n + 1);
    // The held one commits alone (it was open longer than a group may take in); the ten waiting behind it share
    // COMMITs (one or two groups; a few more only if the thread lost the CPU for a group's 5 ms). One each: 11.
    expect(after.commits - before.commits).toBeLessThanOrEqual(5);
    expect(s.committedValues()).toHaveLength(n + 1);
  });

  it.each([
    ['terminated', (e: ThreadedSqliteExecutor) => e.writer.terminateForTests()],
    ['crashed (uncaught exception)', (e: ThreadedSqliteExecutor) => e.writer.crashForTests()],
  ])('fails the pending writes as unavailable when the writer thread is %s, and starts a new one with the committed data', async (_how, kill) => {
    const s = setup();
    await s.exec.transaction(insert('committed'));
    const held = gate();
    const holding = gate();
    const open = settle(
      s.exec.transaction(async (tx) => {
        await tx.run("INSERT INTO t (v) VALUES ('uncommitted')");
        holding.open();
        await held.opened;
        await tx.run("INSERT INTO t (v) VALUES ('uncommitted-2')");
      }),
    );
    await holding.opened;
    // Queued on the writer thread behind the open transaction.
    const queued = [settle(s.exec.run("INSERT INTO t (v) VALUES ('queued')")), settle(s.exec.transaction(insert('queued-tx')))];
    await kill(s.exec);
    held.open();
    const results = await Promise.all([open, ...queued]);
    expect(results.map(codeOf)).toEqual([WRITER_UNAVAILABLE, WRITER_UNAVAILABLE, WRITER_UNAVAILABLE]);
    expect(results.map((r) => !r.ok && s.exec.classify(r.err))).toEqual(['unavailable', 'unavailable', 'unavailable']);
    // The next write starts a new writer thread; what was committed is there, what was not is not.
    const startedBefore = s.exec.writer.started;
    await s.exec.transaction(insert('after-restart'));
    expect(s.exec.writer.started).toBe(startedBefore + 1);
    expect(s.committedValues()).toEqual(['after-restart', 'committed']);
    expect((await s.exec.all<{ v: string }>('SELECT v FROM t ORDER BY v')).map((r) => r.v)).toEqual(['after-restart', 'committed']);
  });

  it('close lets the writes already issued commit', async () => {
    const s = setup();
    const writes = Array.from({ length: 20 }, (_, i) => settle(s.exec.run('INSERT INTO t (v) VALUES (?)', [`w${String(i).padStart(2, '0')}`])));
    await s.exec.close();
    expect((await Promise.all(writes)).map(codeOf).every((c) => c === 'ok')).toBe(true);
    expect(s.committedValues()).toHaveLength(20);
  });
});

describe('SQLite store with the writer thread', () => {
  it('fails a save pending when the writer thread dies with UNAVAILABLE; the next save succeeds and nothing committed is lost', async () => {
    const file = tempFile();
    const keyring = new Keyring([randomBytes(32)]);
    let stores: Stores = await openStore({ kind: 'sqlite', path: file }, keyring);
    closers.push(() => stores.close());
    const store = () => stores.tokens;
    const a = await store().saveToken({ userName: 'a@example.com', clientId: '1000.C', refreshToken: '1000.refresh-a' });
    // White box: the store's executor, to hold its writer thread busy while a save waits behind.
    const exec = (store() as unknown as { exec: ThreadedSqliteExecutor }).exec;
    expect(exec).toBeInstanceOf(ThreadedSqliteExecutor);
    const held = gate();
    const holding = gate();
    const holder = settle(
      exec.transaction(async (tx) => {
        await tx.all('SELECT 1 AS one');
        holding.open();
        await held.opened;
      }),
    );
    await holding.opened;
    const pending = settle(store().saveToken({ userName: 'b@example.com', clientId: '1000.C', refreshToken: '1000.refresh-b' }));
    await exec.writer.terminateForTests();
    held.open();
    const r = await pending;
    expect(r.ok).toBe(false);
    expect(!r.ok && r.err).toBeInstanceOf(TokenStoreError);
    expect(!r.ok && (r.err as TokenStoreError).kind).toBe('UNAVAILABLE');
    expect(!r.ok && (r.err as TokenStoreError).operation).toBe('saveToken');
    expect((await holder).ok).toBe(false);

    const c = await store().saveToken({ userName: 'c@example.com', clientId: '1000.C', refreshToken: '1000.refresh-c' });
    expect((await store().findTokenById(a.id))?.refreshToken).toBe('1000.refresh-a');
    expect(await store().findToken({ userName: 'b@example.com' })).toBeNull();
    // Reopened from the file: the same.
    await stores.close();
    stores = await openStore({ kind: 'sqlite', path: file }, keyring);
    expect((await store().getTokens()).map((t) => t.id).sort()).toEqual([a.id, c.id].sort());
  });
});
