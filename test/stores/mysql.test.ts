import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { Keyring } from '../../src/crypto/keyring';
import { TokenStoreError } from '../../src/errors';
import { openStore } from '../../src/stores/open-store';
import type { Stores } from '../../src/stores/stores';
import { createScratchDatabase, describeWithMysql, type ScratchDatabase } from '../support/mysql';
import { tokenBrowseContract } from './token-browse.contract';
import { tokenStoreContract } from './token-store.contract';
import { connectStoresContract, expectMigratedForConnect, preConnectMigrations, preConnectTokenRow } from './connect-stores.contract';
import { DataSource } from 'typeorm';

let db: ScratchDatabase;
let tableCounter = 0;
const keyrings = new WeakMap<Stores, { table: string; keyring: Keyring }>();

async function open(table = `tokens_${++tableCounter}`, keyring = new Keyring([randomBytes(32)])): Promise<Stores> {
  const store = await openStore({ kind: 'mysql', url: db.url, table, poolSize: 8 }, keyring);
  keyrings.set(store, { table, keyring });
  return store;
}

describeWithMysql('MySQL/MariaDB', () => {
  beforeAll(async () => {
    db = await createScratchDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  tokenStoreContract('mysql', {
    open: () => open(),
    reopen: async (store) => {
      const { table, keyring } = keyrings.get(store)!;
      await store.close();
      return open(table, keyring);
    },
  });

  tokenBrowseContract('mysql', () => open());

  connectStoresContract('mysql', () => open());

  describe('MySQL store of the connect flow', () => {
    it('adds the client column and the connect tables to a database made before them, by itself at open', async () => {
      const table = 'pre_connect';
      const keyring = new Keyring([randomBytes(32)]);
      const ds = new DataSource({
        type: 'mysql',
        url: db.url,
        entities: [],
        migrations: preConnectMigrations('mysql', table),
        migrationsTableName: `${table}_migrations`,
      });
      await ds.initialize();
      await ds.runMigrations({ transaction: 'all' });
      const row = preConnectTokenRow(keyring, table, (t) => `\`${t}\``);
      await ds.query(row.sql, row.params);
      await ds.destroy();
      const store = await open(table, keyring);
      try {
        await expectMigratedForConnect(store);
      } finally {
        await store.close();
      }
    });
  });

  describe('MySQL store', () => {
    it('keeps no plaintext secret in any column', async () => {
      const store = await open('plain_check');
      await store.tokens.saveToken({
        userName: 'u@x',
        clientId: 'cid',
        clientSecret: 'the-client-secret',
        refreshToken: 'the-refresh-token',
        accessToken: 'the-access-token',
        grantToken: 'the-grant-token',
      });
      await store.close();
      const conn = await mysql.createConnection({ uri: db.url });
      const [rows] = await conn.query('SELECT * FROM plain_check');
      await conn.end();
      const text = JSON.stringify(rows);
      expect(text).toContain('cid');
      for (const s of ['the-client-secret', 'the-refresh-token', 'the-access-token', 'the-grant-token']) expect(text).not.toContain(s);
    });

    it('uses the configured table name and its own migrations table', async () => {
      const store = await open('custom_table_name');
      await store.tokens.saveToken({ refreshToken: 'r' });
      await store.close();
      const conn = await mysql.createConnection({ uri: db.url });
      const [tables] = await conn.query('SHOW TABLES');
      await conn.end();
      const names = (tables as Array<Record<string, string>>).map((r) => Object.values(r)[0]);
      expect(names).toEqual(expect.arrayContaining(['custom_table_name', 'custom_table_name_migrations']));
    });

    it('refuses to open with the wrong encryption key', async () => {
      const store = await open('wrong_key');
      await store.tokens.saveToken({ refreshToken: 'r' });
      await store.close();
      const err = await open('wrong_key', new Keyring([randomBytes(32)])).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TokenStoreError);
      expect((err as Error).message).toMatch(/encrypted with key/);
    });

    it('reports an unreachable server as UNAVAILABLE, naming the operation', async () => {
      const err = (await openStore({ kind: 'mysql', url: 'mysql://root@127.0.0.1:1/none', table: 't' }, new Keyring([randomBytes(32)])).catch(
        (e: unknown) => e,
      )) as TokenStoreError;
      expect(err).toBeInstanceOf(TokenStoreError);
      expect(err.operation).toBe('open');
      expect(err.kind).toBe('UNAVAILABLE');
      expect(err.cause).toBeDefined();
    });
  });
});
