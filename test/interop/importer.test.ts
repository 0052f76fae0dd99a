/**
 * The import logic over real stores (memory and SQLite): counts, Zoho's ids,
 * idempotence, validation before any write, atomicity with roll-back,
 * encryption at rest, and the order of every SDK's file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { ImportFailedError, ImportRejectedError, importTokens } from '../../src/interop/importer';
import { readZohoCsv } from '../../src/interop/zoho-csv';
import { ZOHO_CSV_HEADER } from '../../src/interop/zoho-format';
import { AccountsUrlPolicy } from '../../src/oauth/accounts-url-policy';
import { ZOHO_ACCOUNTS_URLS } from '../../src/oauth/data-centers';
import { MemoryTokenStore } from '../../src/stores/memory/memory-token-store';
import { openStore } from '../../src/stores/open-store';
import type { Token, TokenInput } from '../../src/stores/token';
import type { SaveOptions, TokenStore } from '../../src/stores/token-store';
import { testKeyring } from '../support/keys';
import { writeWithTsSdk } from './zoho-sdk-files';

const FIXTURES = path.join(__dirname, 'fixtures');
const policy = new AccountsUrlPolicy({ defaultAccountsUrl: 'https://accounts.zoho.com', allowed: [...ZOHO_ACCOUNTS_URLS] });
const csv = (text: string) => readZohoCsv(Readable.from([Buffer.from(text)]));
const lines = (...rows: string[]) => [ZOHO_CSV_HEADER, ...rows].join('\n');

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-import-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('importing into a store', () => {
  let store: TokenStore;
  beforeEach(() => {
    store = new MemoryTokenStore();
  });

  it("keeps Zoho's ids, converts every field, fixes accountsUrl from api_domain, and counts imported/updated/unchanged", async () => {
    const result = await importTokens(store, readZohoCsv(path.join(FIXTURES, 'python-sdk_tokens.txt')), { policy });
    expect(result).toMatchObject({ imported: 3, updated: 0, unchanged: 0, skipped: 0, written: true });
    const alice = (await store.findTokenById('1'))!;
    expect(alice).toMatchObject({
      userName: 'alice@example.com',
      clientId: '1000.PYCLIENT',
      clientSecret: 'py,secret "with" quotes',
      refreshToken: '1000.py-refresh-1',
      accessToken: '1000.py-access-1',
      grantToken: null,
      expiresAt: new Date(1767225600000),
      redirectUrl: 'https://app.example.com/oauth, callback',
      apiDomain: 'https://www.zohoapis.eu',
      accountsUrl: 'https://accounts.zoho.eu',
    });
    expect((await store.findTokenById('2'))!.refreshToken).toBe('1000.py-refresh-2,with-comma');
    expect((await store.findTokenById('3'))!).toMatchObject({ userName: null, grantToken: '1000.py-grant-3', accountsUrl: 'https://accounts.zoho.com' });

    // The same input again changes nothing.
    const before = await store.getTokens();
    const again = await importTokens(store, readZohoCsv(path.join(FIXTURES, 'python-sdk_tokens.txt')), { policy });
    expect(again).toMatchObject({ imported: 0, updated: 0, unchanged: 3 });
    expect(await store.getTokens()).toEqual(before);

    // A changed row is an update of that token only; an empty field clears it.
    const changed = lines(
      '1,alice@example.com,1000.PYCLIENT,"py,secret ""with"" quotes",1000.py-refresh-1,1000.py-access-NEW,,1767229200000,"https://app.example.com/oauth, callback",https://www.zohoapis.eu',
      '4,new@example.com,1000.PYCLIENT,s,1000.r4,,,,,',
    );
    expect(await importTokens(store, csv(changed), { policy })).toMatchObject({ imported: 1, updated: 1, unchanged: 0 });
    expect((await store.findTokenById('1'))!).toMatchObject({ accessToken: '1000.py-access-NEW', expiresAt: new Date(1767229200000) });
    expect((await store.findTokenById('4'))!).toMatchObject({ userName: 'new@example.com', apiDomain: null });
  });

  it('reads the 9-column form without touching api_domain, and every other SDK file alike', async () => {
    await store.saveToken({ id: '11', userName: 'erin@example.com', refreshToken: '1000.old-refresh-11', apiDomain: 'https://www.zohoapis.com.au' });
    const r = await importTokens(store, readZohoCsv(path.join(FIXTURES, 'nine-column_tokens.txt')), { policy });
    expect(r).toMatchObject({ imported: 1, updated: 1, unchanged: 0 });
    expect((await store.findTokenById('11'))!).toMatchObject({ apiDomain: 'https://www.zohoapis.com.au', accessToken: '1000.old-access-11' });
    expect(await importTokens(store, readZohoCsv(path.join(FIXTURES, 'node-sdk_tokens.txt')), { policy })).toMatchObject({ imported: 2 });
    expect((await store.findTokenById('8'))!).toMatchObject({ clientSecret: 'node"sec\'ret', accountsUrl: 'https://accounts.zoho.in' });

    const tsFile = path.join(dir, 'ts-9col.txt');
    await writeWithTsSdk(tsFile, [{ user: 'ts@example.com', refresh: '1000.ts-r' }]);
    expect(await importTokens(store, readZohoCsv(tsFile), { policy })).toMatchObject({ imported: 1 });
    // The TS SDK numbered it 1 (max(id)+1 of its own file); id 1 was free here.
    expect((await store.findTokenById('1'))!.userName).toBe('ts@example.com');
  });

  it('matches rows without an id (the 6-column form) by user name, and generates ids for new ones', async () => {
    const six =
      'user_mail,client_id,refresh_token,access_token,grant_token,expiry_time\nx@example.com,1000.C,1000.rx,1000.ax,,1767225600000\ny@example.com,1000.C,1000.ry,,,';
    const sixRows = () => readZohoCsv(Readable.from([Buffer.from(six)]));
    expect(await importTokens(store, sixRows())).toMatchObject({ imported: 2 });
    const x = (await store.findToken({ userName: 'x@example.com' }))!;
    expect(x.id).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(await importTokens(store, sixRows())).toMatchObject({ imported: 0, unchanged: 2 });
    expect((await store.getTokens()).length).toBe(2);
  });

  it('writes nothing when any row is invalid, and lists every invalid row with its line number', async () => {
    await store.saveToken({ id: 'keep', userName: 'taken@example.com', refreshToken: '1000.taken' });
    const text = lines(
      '1,ok@example.com,1000.C,s,1000.r1,,,,,', // line 2: fine
      '2,bad@example.com,1000.C,s,1000.r2,,,not-a-time,,', // line 3: expiry
      '3,none@example.com,1000.C,s,,,,,,', // line 4: no token
      '4,ok@example.com,1000.C,s,1000.r4,,,,,', // line 5: same user as line 2
      '5,dup@example.com,1000.C,s,1000.r1,,,,,', // line 6: same refresh token as line 2
      '6,taken@example.com,1000.C,s,1000.r6,,,,,', // line 7: user of another stored token
      '7,other@example.com,1000.C,s,1000.taken,,,,,', // line 8: refresh token of another stored token
      '8,x@example.com,1000.C,s,1000.r8,a,b,,,,', // line 9: 11 fields
      '1,again@example.com,1000.C,s,1000.r9,,,,,', // line 10: same id as line 2
    );
    const err = (await importTokens(store, csv(text), { policy }).catch((e: unknown) => e)) as ImportRejectedError;
    expect(err).toBeInstanceOf(ImportRejectedError);
    expect(err.invalid.map((r) => r.where)).toEqual(['line 3', 'line 4', 'line 5', 'line 6', 'line 7', 'line 8', 'line 9', 'line 10']);
    expect(err.invalid.map((r) => r.problems.join('; '))).toEqual([
      'expiry_time is not a time in epoch milliseconds',
      'holds no access_token, refresh_token or grant_token',
      'has the same user_name as line 2',
      'has the same refresh_token as line 2',
      'its user_name belongs to another stored token (id keep)',
      'its refresh_token belongs to another stored token (id keep)',
      expect.stringMatching(/^has 11 fields, the header has 10/),
      'has the same id as line 2',
    ]);
    expect(JSON.stringify(err.invalid)).not.toMatch(/1000\.r|not-a-time|1000\.taken/);
    expect((await store.getTokens()).map((t) => t.id)).toEqual(['keep']);

    // --skip-invalid imports the rest.
    const partial = await importTokens(store, csv(text), { policy, skipInvalid: true });
    expect(partial).toMatchObject({ imported: 1, skipped: 8 });
    expect((await store.getTokens()).map((t) => t.id).sort()).toEqual(['1', 'keep']);
  });

  it('refuses two rows that end on one stored token (by id and by refresh token)', async () => {
    await store.saveToken({ id: '9', userName: 'nine@example.com', refreshToken: '1000.r9' });
    const text = 'id,user_mail,refresh_token\n9,,1000.r9-new\n,,1000.r9';
    const err = (await importTokens(store, readZohoCsv(Readable.from([text]))).catch((e: unknown) => e)) as ImportRejectedError;
    expect(err.invalid).toEqual([{ where: 'line 3', problems: ['is for the same stored token as line 2'] }]);
  });

  it('a dry run compares and writes nothing', async () => {
    const r = await importTokens(store, readZohoCsv(path.join(FIXTURES, 'python-sdk_tokens.txt')), { dryRun: true });
    expect(r).toMatchObject({ imported: 3, written: false });
    expect(await store.getTokens()).toEqual([]);
  });

  it('does not replace an access token the gateway refreshed since the file was written', async () => {
    await importTokens(store, readZohoCsv(path.join(FIXTURES, 'node-sdk_tokens.txt')), { policy });
    await store.saveToken({ id: '7', accessToken: '1000.gateway-newer', expiresAt: new Date(1767229200000), lastRefreshedAt: new Date() });
    expect(await importTokens(store, readZohoCsv(path.join(FIXTURES, 'node-sdk_tokens.txt')), { policy })).toMatchObject({ updated: 0, unchanged: 2 });
    expect((await store.findTokenById('7'))!.accessToken).toBe('1000.gateway-newer');
  });

  it('new credentials clear a FAILED state, as a save through the API does', async () => {
    await store.saveToken({ id: '7', refreshToken: '1000.revoked', failedAt: new Date(), lastError: 'invalid_code' });
    await importTokens(store, readZohoCsv(path.join(FIXTURES, 'node-sdk_tokens.txt')), { policy });
    expect((await store.findTokenById('7'))!).toMatchObject({ refreshToken: '1000.node-refresh-7', failedAt: null, lastError: null });
  });

  it('puts every written token back when a write fails part-way: all or nothing', async () => {
    await store.saveToken({ id: '1', userName: 'alice@example.com', refreshToken: '1000.alice-old', clientSecret: 'old' });
    const failing = failAfter(store, 3);
    const rows = Array.from({ length: 20 }, (_, i) => `${i + 1},u${i + 1}@example.com,1000.C,s,1000.r${i + 1},,,,,`);
    rows[0] = '1,alice@example.com,1000.C,new,1000.alice-new,,,,,';
    const before = await store.getTokens();
    const err = (await importTokens(failing, csv(lines(...rows)), { concurrency: 2 }).catch((e: unknown) => e)) as ImportFailedError;
    expect(err).toBeInstanceOf(ImportFailedError);
    expect(err.restored).toBe(true);
    expect(err.message).toMatch(/put back as they were: nothing was imported/);
    const after = await store.getTokens();
    expect(after.map(({ id, userName, refreshToken, clientSecret, clientId }) => ({ id, userName, refreshToken, clientSecret, clientId }))).toEqual(
      before.map(({ id, userName, refreshToken, clientSecret, clientId }) => ({ id, userName, refreshToken, clientSecret, clientId })),
    );
  });
});

describe('importing into SQLite', () => {
  it('stores the secrets encrypted: the database file holds none of them in plaintext', async () => {
    const file = path.join(dir, 'enc.db');
    const stores = await openStore({ kind: 'sqlite', path: file }, testKeyring());
    const store = stores.tokens;
    try {
      expect(await importTokens(store, readZohoCsv(path.join(FIXTURES, 'python-sdk_tokens.txt')), { policy })).toMatchObject({ imported: 3 });
      expect((await store.findTokenById('1'))!.clientSecret).toBe('py,secret "with" quotes');
    } finally {
      await stores.close();
    }
    const db = new Database(file, { readonly: true });
    const dump = JSON.stringify(db.prepare('SELECT * FROM oauthtoken').all());
    db.close();
    for (const secret of ['py,secret', '1000.py-refresh-1', '1000.py-access-1', '1000.py-grant-3', 'plainsecret']) expect(dump).not.toContain(secret);
    expect(dump).toContain('alice@example.com');
  });

  it('imports 3,000 rows in a few seconds of work, and the second time finds them unchanged', async () => {
    const stores = await openStore({ kind: 'sqlite', path: path.join(dir, 'big.db') }, testKeyring());
    const calls: Record<string, number> = {};
    const store = counting(stores.tokens, calls);
    try {
      const rows = Array.from(
        { length: 3000 },
        (_, i) => `${i + 1},user${i + 1}@example.com,1000.C,secret${i},1000.refresh-${i},1000.access-${i},,1767225600000,,https://www.zohoapis.com`,
      );
      const text = lines(...rows);
      const phases = new Set<string>();
      // Its cost, not the wall clock's time (which a busy machine stretches): the CPU it takes and its store round trips.
      const cpu = process.cpuUsage();
      expect(await importTokens(store, csv(text), { policy, onProgress: (p) => phases.add(p.phase) })).toMatchObject({ imported: 3000 });
      const first = process.cpuUsage(cpu);
      expect(phases).toEqual(new Set(['reading', 'checking', 'writing']));
      // Into an empty store: one count, one write a row, no lookup.
      expect(calls).toEqual({ countTokens: 1, saveToken: 3000 });
      for (const k of Object.keys(calls)) delete calls[k];
      expect(await importTokens(store, csv(text), { policy })).toMatchObject({ imported: 0, unchanged: 3000 });
      // The second time: one lookup a row (by its Zoho id), no write.
      expect(calls).toEqual({ countTokens: 1, findTokenById: 3000 });
      expect(await store.countTokens()).toBe(3000);
      expect((first.user + first.system) / 1000).toBeLessThan(30_000);
    } finally {
      await stores.close();
    }
  });
});

/** The store, counting the calls made to it by name into `calls`. */
function counting(store: TokenStore, calls: Record<string, number>): TokenStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls[String(prop)] = (calls[String(prop)] ?? 0) + 1;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** A store whose `saveToken` fails after `n` successful saves (a database going away mid-import). */
function failAfter(store: TokenStore, n: number): TokenStore {
  let saves = 0;
  let failing = true;
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'saveToken') {
        return async (input: TokenInput, options?: SaveOptions): Promise<Token> => {
          if (failing && ++saves > n) {
            failing = false; // the roll-back's own writes go through
            const { TokenStoreError } = await import('../../src/errors');
            throw new TokenStoreError('saveToken', 'UNAVAILABLE', 'the database went away');
          }
          return target.saveToken(input, options);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
