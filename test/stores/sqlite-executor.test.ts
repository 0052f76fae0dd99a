import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteExecutor } from '../../src/stores/sql/sqlite-executor';

/**
 * The SQLite executor's group commit, on a real database file: transactions
 * waiting behind an open one join it before its COMMIT, each in a savepoint.
 * A second connection on the same file tells what is committed.
 */

const dirs: string[] = [];
const open: Database.Database[] = [];
afterEach(() => {
  for (const db of open.splice(0)) if (db.open) db.close();
});
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-executor-'));
  dirs.push(dir);
  return path.join(dir, 'executor.db');
}

interface Setup {
  file: string;
  db: Database.Database;
  exec: SqliteExecutor;
  /** A second connection on the same file: sees committed data only. */
  reader: Database.Database;
  /** Whether the row `v` is committed (read through the second connection). */
  committed(v: string): boolean;
  /** The committed values, sorted. */
  committedValues(): string[];
}

function setup(options: { journal?: 'wal' | 'delete'; timeoutMs?: number } = {}): Setup {
  const file = tempFile();
  const db = new Database(file, { timeout: options.timeoutMs ?? 5000 });
  db.pragma(`journal_mode = ${options.journal ?? 'wal'}`);
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)');
  const reader = new Database(file, { timeout: 5000 });
  open.push(db, reader);
  const exec = new SqliteExecutor(db);
  const one = reader.prepare('SELECT COUNT(*) AS n FROM t WHERE v = ?');
  const every = reader.prepare('SELECT v FROM t ORDER BY v');
  return {
    file,
    db,
    exec,
    reader,
    committed: (v) => (one.get(v) as { n: number }).n === 1,
    committedValues: () => (every.all() as Array<{ v: string }>).map((r) => r.v),
  };
}

/** Frames in the WAL since it was last truncated: about one per page per commit. */
function walFrames(db: Database.Database): number {
  const [row] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
  return row!.log;
}

const insert = (v: string) => async (tx: import('../../src/stores/sql/sql-executor').SqlExecutor) => {
  await tx.run('INSERT INTO t (v) VALUES (?)', [v]);
  return v;
};

class BodyError extends Error {}

/** Collects what a promise settled with, without an unhandled rejection. */
function settle<T>(p: Promise<T>, onSettled?: () => void): Promise<{ ok: true; value: T } | { ok: false; err: unknown }> {
  return p.then(
    (value) => {
      onSettled?.();
      return { ok: true as const, value };
    },
    (err: unknown) => {
      onSettled?.();
      return { ok: false as const, err };
    },
  );
}

describe('SqliteExecutor group commit', () => {
  it('commits many concurrent transactions, each caller answered only once its row is committed', async () => {
    const s = setup();
    const n = 200;
    const seenAtResolve: boolean[] = [];
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        s.exec.transaction(insert(`v${String(i).padStart(3, '0')}`)).then((v) => {
          // The moment the promise resolves: the row must already be visible to another connection.
          seenAtResolve[i] = s.committed(v);
          return v;
        }),
      ),
    );
    expect(results).toHaveLength(n);
    expect(seenAtResolve.filter(Boolean)).toHaveLength(n);
    expect(s.committedValues()).toEqual(results.slice().sort());
  });

  it('runs waiting transactions inside the open one: fewer commits than transactions', async () => {
    const s = setup();
    const n = 64;
    // Sequential: one commit each.
    s.db.pragma('wal_checkpoint(TRUNCATE)');
    for (let i = 0; i < n; i++) await s.exec.transaction(insert(`seq${i}`));
    const sequentialFrames = walFrames(s.db);
    expect(sequentialFrames).toBeGreaterThanOrEqual(n);

    // Concurrent: a member's body sees the rows of the members before it, which another connection does not see yet.
    s.db.pragma('wal_checkpoint(TRUNCATE)');
    let sawUncommittedGroupRow = 0;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        s.exec.transaction(async (tx) => {
          if (i > 0) {
            const [{ c }] = await tx.all<{ c: number }>("SELECT COUNT(*) AS c FROM t WHERE v = 'con0'");
            if (c === 1 && !s.committed('con0')) sawUncommittedGroupRow++;
          }
          await tx.run('INSERT INTO t (v) VALUES (?)', [`con${i}`]);
        }),
      ),
    );
    const groupedFrames = walFrames(s.db);
    expect(sawUncommittedGroupRow).toBeGreaterThan(0);
    expect(groupedFrames).toBeLessThan(sequentialFrames / 4);
    expect(s.committedValues().filter((v) => v.startsWith('con'))).toHaveLength(n);
  });

  it('rolls back a failing member alone and rejects it at once with its own error; the others commit', async () => {
    const s = setup();
    s.db.exec("INSERT INTO t (v) VALUES ('existing')");
    const own = new BodyError('member b failed');
    let committedWhenBFailed: boolean | null = null;
    let committedWhenDFailed: boolean | null = null;
    const a = settle(s.exec.transaction(insert('a')));
    const b = settle(
      s.exec.transaction(async (tx) => {
        await tx.run("INSERT INTO t (v) VALUES ('b')");
        await tx.run("INSERT INTO t (v) VALUES ('b2')");
        throw own;
      }),
      () => (committedWhenBFailed = s.committed('a')),
    );
    const c = settle(s.exec.transaction(insert('c')));
    // A driver error after a write of its own: a unique violation.
    const d = settle(
      s.exec.transaction(async (tx) => {
        await tx.run("INSERT INTO t (v) VALUES ('d')");
        await tx.run("INSERT INTO t (v) VALUES ('existing')");
      }),
      () => (committedWhenDFailed = s.committed('a')),
    );
    const e = settle(s.exec.transaction(insert('e')));
    const [ra, rb, rc, rd, re] = await Promise.all([a, b, c, d, e]);

    expect(ra).toEqual({ ok: true, value: 'a' });
    expect(rc).toEqual({ ok: true, value: 'c' });
    expect(re).toEqual({ ok: true, value: 'e' });
    expect(rb.ok).toBe(false);
    expect(!rb.ok && rb.err).toBe(own); // the very error the body threw
    expect(rd.ok).toBe(false);
    expect(!rd.ok && (rd.err as { code?: string }).code).toBe('SQLITE_CONSTRAINT_UNIQUE');
    expect(s.exec.classify(!rd.ok && rd.err)).toBe('unique');
    // Rejected before the group's COMMIT: 'a' (same group) was not committed yet.
    expect(committedWhenBFailed).toBe(false);
    expect(committedWhenDFailed).toBe(false);
    expect(s.committedValues()).toEqual(['a', 'c', 'e', 'existing']);
  });

  it('a failing first transaction is rolled back alone; those waiting behind it still commit', async () => {
    const s = setup();
    const own = new BodyError('first failed');
    const first = settle(
      s.exec.transaction(async (tx) => {
        await tx.run("INSERT INTO t (v) VALUES ('first')");
        throw own;
      }),
    );
    const rest = Array.from({ length: 5 }, (_, i) => settle(s.exec.transaction(insert(`r${i}`))));
    const [r0, ...others] = await Promise.all([first, ...rest]);
    expect(!r0.ok && r0.err).toBe(own);
    expect(others.every((r) => r.ok)).toBe(true);
    expect(s.committedValues()).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
  });

  it('a caller that retries after its body failed (as saveToken does) lands in a group and commits once', async () => {
    const s = setup();
    const attempts = new Map<number, number>();
    const save = async (i: number): Promise<string> => {
      for (;;) {
        try {
          return await s.exec.transaction(async (tx) => {
            const attempt = (attempts.get(i) ?? 0) + 1;
            attempts.set(i, attempt);
            await tx.run('INSERT INTO t (v) VALUES (?)', [`s${i}`]);
            // Every other caller loses its first attempt after writing.
            if (i % 2 === 0 && attempt === 1) throw new BodyError('lost race');
            return `s${i}`;
          });
        } catch (err) {
          if (!(err instanceof BodyError)) throw err;
        }
      }
    };
    const n = 40;
    const seenAtResolve = await Promise.all(Array.from({ length: n }, (_, i) => save(i).then((v) => s.committed(v))));
    expect(seenAtResolve.every(Boolean)).toBe(true);
    expect(s.committedValues()).toHaveLength(n);
    for (let i = 0; i < n; i++) expect(attempts.get(i)).toBe(i % 2 === 0 ? 2 : 1);
  });

  it('a COMMIT that fails rejects every member whose body succeeded with its error and leaves the database as before', async () => {
    // Rollback journal: a reader's SHARED lock keeps the writer's COMMIT from its EXCLUSIVE lock (SQLITE_BUSY).
    const s = setup({ journal: 'delete', timeoutMs: 50 });
    s.db.exec("INSERT INTO t (v) VALUES ('before')");
    s.reader.exec('BEGIN');
    expect(s.reader.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 1 });
    const own = new BodyError('member failed');
    const a = settle(s.exec.transaction(insert('a')));
    const b = settle(
      s.exec.transaction(async (tx) => {
        await tx.run("INSERT INTO t (v) VALUES ('b')");
        throw own;
      }),
    );
    const c = settle(s.exec.transaction(insert('c')));
    const [ra, rb, rc] = await Promise.all([a, b, c]);
    s.reader.exec('COMMIT');

    expect(!rb.ok && rb.err).toBe(own);
    expect(ra.ok).toBe(false);
    expect(rc.ok).toBe(false);
    const commitError = !ra.ok ? ra.err : null;
    expect((commitError as { code?: string }).code).toBe('SQLITE_BUSY');
    expect(!rc.ok && rc.err).toBe(commitError);
    expect(s.exec.classify(commitError)).toBe('retry');
    expect(s.db.inTransaction).toBe(false);
    expect(s.committedValues()).toEqual(['before']);

    // The executor goes on: the same transactions now commit.
    await Promise.all([s.exec.transaction(insert('a')), s.exec.transaction(insert('c'))]);
    expect(s.committedValues()).toEqual(['a', 'before', 'c']);
  });

  it('a lone transaction whose COMMIT fails gets the error and leaves the database as before', async () => {
    const s = setup({ journal: 'delete', timeoutMs: 50 });
    s.reader.exec('BEGIN');
    s.reader.prepare('SELECT COUNT(*) FROM t').get();
    const r = await settle(s.exec.transaction(insert('lone')));
    s.reader.exec('COMMIT');
    expect(!r.ok && (r.err as { code?: string }).code).toBe('SQLITE_BUSY');
    expect(s.committedValues()).toEqual([]);
    expect(s.db.inTransaction).toBe(false);
  });

  it('when SQLite itself rolls the whole transaction back, no member of the group is told it committed', async () => {
    const s = setup();
    s.db.exec("INSERT INTO t (v) VALUES ('existing')");
    const a = settle(s.exec.transaction(insert('a')));
    // INSERT OR ROLLBACK: a unique violation rolls back the whole transaction, the group's writes included.
    const b = settle(s.exec.transaction(async (tx) => tx.run("INSERT OR ROLLBACK INTO t (v) VALUES ('existing')")));
    // Swallows the same kind of error: its own body "succeeds" on a transaction that no longer exists.
    const c = settle(
      s.exec.transaction(async (tx) => {
        await tx.run("INSERT INTO t (v) VALUES ('c')");
        await tx.run("INSERT OR ROLLBACK INTO t (v) VALUES ('existing')").catch(() => 0);
        return 'c';
      }),
    );
    const d = settle(s.exec.transaction(insert('d')));
    const [ra, rb, rc, rd] = await Promise.all([a, b, c, d]);
    expect(rb.ok).toBe(false);
    expect((!rb.ok && (rb.err as { code?: string }).code) || '').toMatch(/^SQLITE_CONSTRAINT/);
    expect(ra.ok).toBe(false); // its write was rolled back with b's transaction
    expect(!ra.ok && ra.err).toBe(!rb.ok && rb.err);
    expect(rc.ok).toBe(false); // COMMIT found no transaction
    expect(rd).toEqual({ ok: true, value: 'd' });
    expect(s.committedValues()).toEqual(['d', 'existing']);
    expect(s.db.inTransaction).toBe(false);
  });

  it('a statement issued while a group is open runs after its COMMIT and before later transactions', async () => {
    const s = setup();
    const order: string[] = [];
    const a = s.exec.transaction(insert('a')).then(() => order.push('a'));
    const b = s.exec.transaction(insert('b')).then(() => order.push('b'));
    const count = s.exec.all<{ n: number }>('SELECT COUNT(*) AS n FROM t').then(([row]) => {
      order.push('count');
      return { n: row!.n, aCommitted: s.committed('a'), bCommitted: s.committed('b') };
    });
    const c = s.exec.transaction(insert('c')).then(() => order.push('c'));
    const failing = settle(
      s.exec.transaction(async (tx) => {
        await tx.run("INSERT INTO t (v) VALUES ('x')");
        throw new BodyError('x');
      }),
    );
    const count2 = s.exec.all<{ n: number }>('SELECT COUNT(*) AS n FROM t');
    await Promise.all([a, b, c, failing]);
    expect(await count).toEqual({ n: 2, aCommitted: true, bCommitted: true });
    // Never a failed member's write, never an uncommitted one.
    expect(await count2).toEqual([{ n: 3 }]);
    expect(order.indexOf('count')).toBeGreaterThan(order.indexOf('b'));
    expect(order.indexOf('count')).toBeLessThan(order.indexOf('c'));
  });

  it('a lone transaction is a plain transaction: committed when it resolves, one commit', async () => {
    const s = setup();
    s.db.pragma('wal_checkpoint(TRUNCATE)');
    const v = await s.exec.transaction(insert('lone'));
    expect(s.committed(v)).toBe(true);
    expect(walFrames(s.db)).toBeLessThanOrEqual(2);
    expect(s.db.inTransaction).toBe(false);
  });

  it('refuses nested transactions inside a grouped body', async () => {
    const s = setup();
    const outcomes = await Promise.all(
      Array.from({ length: 3 }, (_, i) =>
        settle(
          s.exec.transaction(async (tx) => {
            await tx.run('INSERT INTO t (v) VALUES (?)', [`n${i}`]);
            return settle(tx.transaction(insert(`nested${i}`)));
          }),
        ),
      ),
    );
    for (const o of outcomes) {
      expect(o.ok).toBe(true);
      const inner = o.ok ? o.value : null;
      expect(inner && !inner.ok && String(inner.err)).toMatch(/nested transactions are not supported/);
    }
    expect(s.committedValues()).toEqual(['n0', 'n1', 'n2']);
  });
});

describe('SqliteExecutor read batching', () => {
  it('runs the first read of a turn at once, and those after it together at the end of the turn', async () => {
    const s = setup();
    s.db.prepare("INSERT INTO t (v) VALUES ('a'), ('b')").run();
    const ran: string[] = [];
    const reads = ['a', 'b', 'zz'].map((v) =>
      s.exec.all<{ v: string }>('SELECT v FROM t WHERE v = ?', [v]).then((rows) => {
        ran.push(v);
        return rows.map((r) => r.v);
      }),
    );
    // The first read ran when it was issued; the others wait for the end of this turn.
    await Promise.resolve();
    expect(ran).toEqual(['a']);
    expect(await Promise.all(reads)).toEqual([['a'], ['b'], []]);
    expect(ran).toEqual(['a', 'b', 'zz']);
  });

  it('a failing read rejects alone; the others of its batch are answered', async () => {
    const s = setup();
    s.db.prepare("INSERT INTO t (v) VALUES ('a')").run();
    const [bad, good] = await Promise.all([settle(s.exec.all('SELECT nope FROM t')), settle(s.exec.all<{ v: string }>('SELECT v FROM t'))]);
    expect(bad.ok).toBe(false);
    expect(good).toEqual({ ok: true, value: [{ v: 'a' }] });
  });

  it('a read whose turn ends inside an open transaction waits for its COMMIT: it never sees an uncommitted write', async () => {
    const s = setup();
    const order: string[] = [];
    await s.exec.all('SELECT 1'); // a turn of its own
    void s.exec.all('SELECT 1'); // the first read of this turn: runs at once
    const read = s.exec.all<{ n: number }>('SELECT COUNT(*) AS n FROM t').then(([row]) => {
      order.push('read');
      return { n: row!.n, committed: s.committed('slow') };
    });
    // Starts before the read's batch runs, and holds the transaction open across turns of the event loop.
    const slow = s.exec
      .transaction(async (tx) => {
        await tx.run("INSERT INTO t (v) VALUES ('slow')");
        for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
        return 'slow';
      })
      .then(() => order.push('slow'));
    await Promise.all([read, slow]);
    expect(await read).toEqual({ n: 1, committed: true });
    expect(order).toEqual(['slow', 'read']);
  });

  it('a read issued after an awaited write sees it', async () => {
    const s = setup();
    await s.exec.run("INSERT INTO t (v) VALUES ('w')");
    expect(await s.exec.all('SELECT v FROM t')).toEqual([{ v: 'w' }]);
    await s.exec.transaction(insert('x'));
    expect(await s.exec.all('SELECT v FROM t ORDER BY v')).toEqual([{ v: 'w' }, { v: 'x' }]);
  });
});

describe('SqliteExecutor rows', () => {
  it("come back as plain objects, as better-sqlite3's would: every column, its type, duplicate names last, a `__proto__` column never the prototype", async () => {
    const db = new Database(tempFile());
    open.push(db);
    db.exec('CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER, b BLOB, x TEXT)');
    db.prepare('INSERT INTO t VALUES (?, ?, ?, ?)').run('a', 7, Buffer.from('hi'), null);
    db.prepare('INSERT INTO t VALUES (?, ?, ?, ?)').run('b', 8, null, 'y');
    const exec = new SqliteExecutor(db);
    const sql = 'SELECT id, n, b, x FROM t ORDER BY id';
    const expected = db.prepare(sql).all();
    expect(await exec.all(sql)).toEqual(expected);
    expect(await exec.all('SELECT id, n AS id FROM t WHERE id = ?', ['a'])).toEqual(db.prepare('SELECT id, n AS id FROM t WHERE id = ?').all('a'));
    // A `__proto__` column is left to better-sqlite3 (an object literal would set the prototype): whatever it makes.
    const protoSql = 'SELECT id AS __proto__, n FROM t WHERE id = ?';
    const [proto] = await exec.all<Record<string, unknown>>(protoSql, ['a']);
    expect(proto).toEqual(db.prepare(protoSql).get('a'));
    expect(Object.getPrototypeOf(Object.getPrototypeOf(proto))).toBeNull();
    expect(await exec.all('SELECT id FROM t WHERE id = ?', ['none'])).toEqual([]);
    // The same statement also runs as a write's read (run) and keeps working after.
    expect(await exec.run('UPDATE t SET n = n + 1 WHERE id = ?', ['a'])).toBe(1);
    expect(await exec.all(sql)).toEqual(db.prepare(sql).all());
  });
});
