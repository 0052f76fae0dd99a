import { randomBytes } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import mysql from 'mysql2/promise';
import { Keyring } from '../../src/crypto/keyring';
import { TokenStoreError } from '../../src/errors';
import { openStore } from '../../src/stores/open-store';
import { classifyMysqlError } from '../../src/stores/sql/mysql-errors';
import { MysqlExecutor } from '../../src/stores/sql/mysql-executor';
import { RACE_ATTEMPTS } from '../../src/stores/lost-races';
import type { SqlExecutor } from '../../src/stores/sql/sql-executor';
import { sqlStores } from '../../src/stores/sql/sql-stores';
import type { Stores } from '../../src/stores/stores';
import { createScratchDatabase, describeWithMysql, type ScratchDatabase } from '../support/mysql';

/** The executor of the store, counting its transactions and telling (as an event) each failure it classifies as a lost race. */
class WatchedExecutor extends MysqlExecutor {
  readonly races = new EventEmitter();
  transactions = 0;
  override transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    this.transactions++;
    return super.transaction(fn);
  }
  override classify(err: unknown) {
    const kind = super.classify(err);
    if (kind === 'retry') this.races.emit('race', err);
    return kind;
  }
}

/**
 * Writes that lose a lock race on a real MariaDB: here a lock wait timeout
 * (1205), with the store's sessions waiting 1 s for a row lock, while a
 * transaction of the test holds it. (Galera's certification failures, 1213,
 * are exercised by the reliability suite's Galera cluster.)
 */
describeWithMysql('MySQL store: lost lock races', () => {
  let db: ScratchDatabase;
  let pool: mysql.Pool;
  let exec: WatchedExecutor;
  let stores: Stores;
  let holder: mysql.Connection;

  beforeAll(async () => {
    db = await createScratchDatabase('tg_galera_races');
    const keyring = new Keyring([randomBytes(32)]);
    // Migrated as the gateway does, then served by a pool whose sessions give up on a row lock after 1 s.
    await (await openStore({ kind: 'mysql', url: db.url, table: 'oauthtoken' }, keyring)).close();
    pool = mysql.createPool({ uri: db.url, connectionLimit: 4, charset: 'utf8mb4_bin', timezone: 'Z' });
    pool.pool.on('connection', (c) => c.query('SET SESSION innodb_lock_wait_timeout = 1'));
    exec = new WatchedExecutor(pool);
    stores = sqlStores(exec, keyring, 'oauthtoken', async () => undefined);
    holder = await mysql.createConnection({ uri: db.url });
  });
  afterAll(async () => {
    await holder?.end();
    await pool?.end();
    await db?.drop();
  });

  /** Locks the token's row in a transaction of the test's own until `release()`. */
  async function lockRow(id: string) {
    await holder.query('START TRANSACTION');
    await holder.query('SELECT id FROM oauthtoken WHERE id = ? FOR UPDATE', [id]);
    return { release: () => holder.query('ROLLBACK') };
  }

  it('classifies real server errors: a deadlock and a lock wait timeout are lost races, a duplicate is unique, a refused connection is unavailable', async () => {
    const a = await stores.tokens.saveToken({ userName: 'a@x', refreshToken: 'ra' });
    const b = await stores.tokens.saveToken({ userName: 'b@x', refreshToken: 'rb' });
    const other = await mysql.createConnection({ uri: db.url });
    try {
      // A deadlock: each transaction locks one row, then asks for the other's.
      await holder.query('START TRANSACTION');
      await other.query('START TRANSACTION');
      await holder.query('SELECT id FROM oauthtoken WHERE id = ? FOR UPDATE', [a.id]);
      await other.query('SELECT id FROM oauthtoken WHERE id = ? FOR UPDATE', [b.id]);
      const first = holder.query('SELECT id FROM oauthtoken WHERE id = ? FOR UPDATE', [b.id]).then(
        () => null,
        (e: unknown) => e,
      );
      const second = other.query('SELECT id FROM oauthtoken WHERE id = ? FOR UPDATE', [a.id]).then(
        () => null,
        (e: unknown) => e,
      );
      const victim = (await first) ?? (await second);
      expect((victim as { errno?: number }).errno).toBe(1213);
      expect(classifyMysqlError(victim)).toBe('retry');
    } finally {
      await holder.query('ROLLBACK');
      await other.query('ROLLBACK');
      await other.end();
    }
    const duplicate = await pool.execute('INSERT INTO oauthtoken (id, created_at, updated_at) VALUES (?, 0, 0)', [a.id]).catch((e: unknown) => e);
    expect(classifyMysqlError(duplicate)).toBe('unique');
    const refused = await mysql.createConnection({ host: '127.0.0.1', port: 1, user: 'root', connectTimeout: 1000 }).catch((e: unknown) => e);
    expect(classifyMysqlError(refused)).toBe('unavailable');
  });

  it('a lease whose row stays locked past the lock wait timeout is not acquired (no error), and is acquired once the lock is gone', async () => {
    const t = await stores.tokens.saveToken({ userName: 'lease@x', refreshToken: 'r-lease' });
    const lock = await lockRow(t.id);
    const raced = once(exec.races, 'race');
    try {
      await expect(stores.leases.acquireLease(t.id, 'owner-1', 30_000)).resolves.toBe(false);
      const [err] = await raced;
      expect((err as { errno?: number }).errno).toBe(1205);
    } finally {
      await lock.release();
    }
    await expect(stores.leases.acquireLease(t.id, 'owner-1', 30_000)).resolves.toBe(true);
    await stores.leases.releaseLease(t.id, 'owner-1');
  });

  it('a delete that loses the lock race is retried, and succeeds once the lock is released', async () => {
    const t = await stores.tokens.saveToken({ userName: 'delete@x', refreshToken: 'r-delete' });
    const lock = await lockRow(t.id);
    const raced = once(exec.races, 'race');
    const deleted = stores.tokens.deleteToken(t.id);
    try {
      await raced; // the first attempt timed out waiting for the lock
    } finally {
      await lock.release();
    }
    await expect(deleted).resolves.toBe(true);
    expect(await stores.tokens.findTokenById(t.id)).toBeNull();
  });

  it(`a save that keeps losing is given up after ${RACE_ATTEMPTS} attempts as UNAVAILABLE (retryable), and changes nothing`, async () => {
    const t = await stores.tokens.saveToken({ userName: 'save@x', refreshToken: 'r-save', accessToken: 'a-1' });
    const lock = await lockRow(t.id);
    const before = exec.transactions;
    try {
      const err = await stores.tokens.saveToken({ id: t.id, accessToken: 'a-2' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TokenStoreError);
      expect((err as TokenStoreError).kind).toBe('UNAVAILABLE');
      expect((err as TokenStoreError).operation).toBe('saveToken');
      expect(exec.transactions - before).toBe(RACE_ATTEMPTS);
    } finally {
      await lock.release();
    }
    expect((await stores.tokens.findTokenById(t.id))?.accessToken).toBe('a-1');
  }, 60_000);
});
