import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { Keyring } from '../../src/crypto/keyring';
import { keyStatus, rotateKeys } from '../../src/keys/rotate';
import { memoryStores } from '../../src/stores/memory/memory-stores';
import { openStore } from '../../src/stores/open-store';
import type { Stores } from '../../src/stores/stores';
import { createScratchDatabase, describeWithMysql, type ScratchDatabase } from '../support/mysql';

interface Place {
  open(keys: Buffer[]): Promise<Stores>;
  /** Every value of every row of the token table, as text (to look for an old key id). */
  dump(): Promise<string>;
}

const N = 120;
const secretsOf = (i: number) => ({
  userName: `user${i}@example.com`,
  clientId: 'cid',
  clientSecret: `cs-${i}`,
  refreshToken: `rt-${i}`,
  accessToken: `at-${i}`,
});

/**
 * Key rotation on a SQL store: `rotateKeys` re-encrypts every token under the
 * newest key, in batches, while writes and lookups go on, resumably; at the
 * end the old key is unused, and a store that lists only the new key opens.
 */
function rotationContract(name: string, newPlace: () => Promise<Place>): void {
  describe(`key rotation (${name})`, () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const oldId = new Keyring([oldKey]).currentKeyId;
    const newId = new Keyring([newKey]).currentKeyId;

    const seed = async (place: Place) => {
      const store = await place.open([oldKey]);
      const ids: string[] = [];
      for (let i = 0; i < N; i++) ids.push((await store.tokens.saveToken(secretsOf(i))).id);
      await store.close();
      return ids;
    };

    it('re-encrypts every token under the newest key while lookups and writes go on; the old key is then unused', async () => {
      const place = await newPlace();
      const ids = await seed(place);
      // Only the new key: refused, the tokens need the old one.
      await expect(place.open([newKey])).rejects.toThrow(/encrypted with key/);
      const keyring = new Keyring([newKey, oldKey]);
      const store = await place.open([newKey, oldKey]);
      expect(await keyStatus(store.keys, keyring)).toEqual([
        { keyId: newId, position: 1, current: true, tokens: 0 },
        { keyId: oldId, position: 2, current: false, tokens: N },
      ]);

      let stop = false;
      const problems: string[] = [];
      let lookups = 0;
      let writes = 0;
      const reader = async () => {
        while (!stop) {
          const i = Math.floor(Math.random() * N);
          const t = await store.tokens.findToken({ refreshToken: `rt-${i}`, clientId: 'cid' });
          if (t?.id !== ids[i] || t.clientSecret !== `cs-${i}` || (t.accessToken !== `at-${i}` && t.accessToken !== `at-${i}-new`))
            problems.push(`lookup ${i}`);
          lookups++;
          await yieldToEventLoop(); // SQLite answers synchronously: let the rotation's timers run
        }
      };
      const writer = async () => {
        while (!stop) {
          const i = Math.floor(Math.random() * N);
          const t = await store.tokens.findTokenById(ids[i]!);
          // A compare-and-swap write, like a refresh's.
          await store.tokens
            .saveToken({ id: ids[i]!, accessToken: `at-${i}-new`, expiresAt: new Date(Date.now() + 3600_000) }, { ifVersion: t!.version })
            .catch((e: Error) => {
              if (!/changed/.test(e.message)) problems.push(`write ${i}: ${e.message}`);
            });
          writes++;
          await yieldToEventLoop();
        }
      };
      const load = [reader(), reader(), writer()];
      const progress: number[] = [];
      const result = await rotateKeys(store, keyring, { batchSize: 25, pauseMs: 5, onProgress: (p) => progress.push(p.reencrypted) });
      stop = true;
      await Promise.all(load);

      expect(problems).toEqual([]);
      expect(lookups).toBeGreaterThan(0);
      expect(writes).toBeGreaterThan(0);
      expect(result).toMatchObject({ currentKeyId: newId, total: N, remaining: [], failedIds: [], aborted: false });
      // Each token either re-encrypted by the rotation, or by a write of the load (then skipped or never seen as old).
      expect(result.reencrypted).toBeLessThanOrEqual(N);
      expect(result.reencrypted).toBeGreaterThan(N / 2);
      expect(progress.length).toBeGreaterThanOrEqual(Math.ceil(result.reencrypted / 25));
      expect(await store.keys.keyUsage()).toEqual([{ keyId: newId, tokens: N }]);
      expect((await store.audit.listAudit({ first: 1, actions: ['KEY_ROTATION'] })).nodes[0]?.detail).toMatch(new RegExp(`under key ${newId}; 0 left`));
      await store.close();

      // The old key is no longer used anywhere: a store with only the new key opens, and finds every token by its secrets.
      expect(await place.dump()).not.toContain(`.${oldId}.`);
      const after = await place.open([newKey]);
      for (let i = 0; i < N; i++) {
        const t = await after.tokens.findToken({ refreshToken: `rt-${i}` });
        expect(t).toMatchObject({ id: ids[i], clientSecret: `cs-${i}`, userName: `user${i}@example.com` });
        expect(await after.tokens.findToken({ accessToken: t!.accessToken! })).toMatchObject({ id: ids[i] });
      }
      await after.close();
    });

    it('is resumable: a run stopped after a batch leaves every token readable, and the next run finishes', async () => {
      const place = await newPlace();
      const ids = await seed(place);
      const keyring = new Keyring([newKey, oldKey]);
      let store = await place.open([newKey, oldKey]);
      const stop = new AbortController();
      const first = await rotateKeys(store, keyring, { batchSize: 30, onProgress: () => stop.abort(), signal: stop.signal });
      expect(first).toMatchObject({ aborted: true, reencrypted: 30, remaining: [{ keyId: oldId, tokens: N - 30 }] });
      await store.close(); // as if the process had died here
      store = await place.open([newKey, oldKey]);
      for (let i = 0; i < N; i += 7) expect((await store.tokens.findToken({ refreshToken: `rt-${i}` }))?.id).toBe(ids[i]);
      const second = await rotateKeys(store, keyring, { batchSize: 30 });
      expect(second).toMatchObject({ aborted: false, total: N - 30, reencrypted: N - 30, remaining: [] });
      const third = await rotateKeys(store, keyring);
      expect(third).toMatchObject({ total: 0, reencrypted: 0, remaining: [] });
      await store.close();
    });
  });
}

describe('key rotation (memory)', () => {
  it('has nothing to re-encrypt', async () => {
    const store = memoryStores();
    await store.tokens.saveToken({ refreshToken: 'r' });
    expect(await rotateKeys(store, new Keyring([randomBytes(32)]))).toMatchObject({ total: 0, reencrypted: 0, remaining: [] });
  });
});

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

rotationContract('sqlite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-rotate-'));
  dirs.push(dir);
  const file = path.join(dir, 'tokengate.db');
  return {
    open: (keys) => openStore({ kind: 'sqlite', path: file }, new Keyring(keys)),
    dump: async () => {
      const db = new Database(file, { readonly: true });
      const rows = db.prepare('SELECT * FROM oauthtoken').all();
      db.close();
      return JSON.stringify(rows);
    },
  };
});

describeWithMysql('on MariaDB', () => {
  let db: ScratchDatabase;
  let n = 0;
  beforeAll(async () => {
    db = await createScratchDatabase('tg_rotate');
  });
  afterAll(async () => {
    await db?.drop();
  });
  rotationContract('mysql', async () => {
    const table = `rot_${++n}`;
    return {
      open: (keys) => openStore({ kind: 'mysql', url: db.url, table, poolSize: 6 }, new Keyring(keys)),
      dump: async () => {
        const conn = await mysql.createConnection({ uri: db.url });
        const [rows] = await conn.query(`SELECT * FROM \`${table}\``);
        await conn.end();
        return JSON.stringify(rows);
      },
    };
  });
});
