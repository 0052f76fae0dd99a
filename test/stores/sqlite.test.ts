import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { Keyring } from '../../src/crypto/keyring';
import { TokenStoreError } from '../../src/errors';
import { openStore } from '../../src/stores/open-store';
import type { Stores } from '../../src/stores/stores';
import { tokenBrowseContract } from './token-browse.contract';
import { tokenStoreContract } from './token-store.contract';
import { connectStoresContract, expectMigratedForConnect, preConnectMigrations, preConnectTokenRow } from './connect-stores.contract';
import { DataSource } from 'typeorm';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tempDbPath(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-sqlite-'));
  dirs.push(dir);
  return path.join(dir, 'tokengate.db');
}

const files = new WeakMap<Stores, { file: string; keyring: Keyring }>();

async function open(file = tempDbPath(), keyring = new Keyring([randomBytes(32)])): Promise<Stores> {
  const store = await openStore({ kind: 'sqlite', path: file }, keyring);
  files.set(store, { file, keyring });
  return store;
}

tokenStoreContract('sqlite', {
  open: () => open(),
  reopen: async (store) => {
    const { file, keyring } = files.get(store)!;
    await store.close();
    return open(file, keyring);
  },
});

tokenBrowseContract('sqlite', () => open());

connectStoresContract('sqlite', () => open());

describe('SQLite store of the connect flow', () => {
  it('adds the client column and the connect tables to a database made before them, by itself at open', async () => {
    const file = tempDbPath();
    const keyring = new Keyring([randomBytes(32)]);
    const ds = new DataSource({
      type: 'better-sqlite3',
      database: file,
      entities: [],
      migrations: preConnectMigrations('sqlite', 'oauthtoken'),
      migrationsTableName: 'oauthtoken_migrations',
    });
    await ds.initialize();
    await ds.runMigrations({ transaction: 'all' });
    const row = preConnectTokenRow(keyring, 'oauthtoken', (t) => `"${t}"`);
    await ds.query(row.sql, row.params);
    await ds.destroy();
    const store = await open(file, keyring);
    try {
      await expectMigratedForConnect(store);
    } finally {
      await store.close();
    }
  });

  it('keeps no plaintext client secret or PKCE verifier in the database file', async () => {
    const store = await open();
    await store.clients.saveClient({
      name: 'crm',
      provider: 'zoho',
      clientId: '1000.C',
      clientSecret: 'the-client-secret-value',
      scopes: [],
      redirectUrl: 'https://t.example/oauth/callback',
      accountsUrl: null,
    });
    const now = Date.now();
    await store.connects.savePendingConnect({
      stateHash: 'a'.repeat(64),
      clientRecordId: 'x',
      userName: 'u',
      scopes: [],
      returnTo: null,
      tokenId: null,
      replaceOldest: false,
      codeVerifier: 'the-code-verifier-value',
      actor: { role: 'operator', name: 'op' },
      createdAt: new Date(now),
      expiresAt: new Date(now + 600_000),
    });
    const { file } = files.get(store)!;
    await store.close();
    for (const f of [file, `${file}-wal`].filter((p) => fs.existsSync(p))) {
      const bytes = fs.readFileSync(f);
      expect(bytes.includes('the-client-secret-value')).toBe(false);
      expect(bytes.includes('the-code-verifier-value')).toBe(false);
    }
  });

  it('re-encrypts client secrets under the newest key, after which the old key is no longer needed', async () => {
    const file = tempDbPath();
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    let store = await open(file, new Keyring([oldKey]));
    await store.clients.saveClient({
      name: 'crm',
      provider: 'zoho',
      clientId: '1000.C',
      clientSecret: 'secret-under-old-key',
      scopes: [],
      redirectUrl: 'https://t.example/oauth/callback',
      accountsUrl: null,
    });
    await store.close();
    // Without the old key the store does not open: the clients' secrets would not decrypt.
    await expect(open(file, new Keyring([newKey]))).rejects.toThrow(/OAuth clients' secrets were encrypted with key/);
    store = await open(file, new Keyring([newKey, oldKey]));
    expect(await store.clients.reencryptClients()).toBe(1);
    expect(await store.clients.reencryptClients()).toBe(0);
    await store.close();
    store = await open(file, new Keyring([newKey]));
    expect((await store.clients.findClient('crm'))!.clientSecret).toBe('secret-under-old-key');
    await store.close();
  });
});

describe('SQLite store', () => {
  it('keeps no plaintext secret in the database file', async () => {
    const file = tempDbPath();
    const store = await open(file);
    const secrets = {
      refreshToken: '1000.refresh' + randomBytes(16).toString('hex'),
      accessToken: '1000.access' + randomBytes(16).toString('hex'),
      clientSecret: 'client-secret-' + randomBytes(16).toString('hex'),
      grantToken: '1000.grant' + randomBytes(16).toString('hex'),
    };
    await store.tokens.saveToken({ userName: 'u@x', clientId: '1000.CLIENT', ...secrets });
    await store.close();
    // The database, its WAL and shared-memory files: every byte on disk.
    const bytes = Buffer.concat(fs.readdirSync(path.dirname(file)).map((f) => fs.readFileSync(path.join(path.dirname(file), f))));
    expect(bytes.includes(Buffer.from('1000.CLIENT'))).toBe(true); // the test can see plain columns
    for (const value of Object.values(secrets)) {
      expect(bytes.includes(Buffer.from(value))).toBe(false);
      expect(bytes.includes(Buffer.from(value, 'utf16le'))).toBe(false);
    }
  });

  it('refuses to open with the wrong encryption key, and says so', async () => {
    const file = tempDbPath();
    const store = await open(file);
    await store.tokens.saveToken({ refreshToken: 'r' });
    await store.close();
    const err = await openStore({ kind: 'sqlite', path: file }, new Keyring([randomBytes(32)])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenStoreError);
    expect((err as TokenStoreError).operation).toBe('open');
    expect((err as Error).message).toMatch(/encrypted with key [0-9a-f]+.*TOKENGATE_ENCRYPTION_KEY/);
  });

  it('reads tokens written under an older key while writing under the newest', async () => {
    const file = tempDbPath();
    const oldKey = randomBytes(32);
    const first = await open(file, new Keyring([oldKey]));
    const t = await first.tokens.saveToken({ refreshToken: 'r-old', clientSecret: 's' });
    await first.close();
    const rotated = new Keyring([randomBytes(32), oldKey]);
    const store = await open(file, rotated);
    expect(await store.tokens.findToken({ refreshToken: 'r-old' })).toEqual(t);
    await store.tokens.saveToken({ id: t.id, accessToken: 'a' });
    expect((await store.tokens.findToken({ refreshToken: 'r-old' }))?.accessToken).toBe('a');
    await store.close();
  });

  it('reads a token whose secret was tampered with, and refuses only that secret, when it is read', async () => {
    const file = tempDbPath();
    const keyring = new Keyring([randomBytes(32)]);
    const first = await open(file, keyring);
    const a = await first.tokens.saveToken({ userName: 'a@x', accessToken: 'access-a', refreshToken: 'refresh-a' });
    const b = await first.tokens.saveToken({ userName: 'b@x', accessToken: 'access-b', refreshToken: 'refresh-b' });
    await first.close();
    // Move b's access-token ciphertext into a's row: it is a valid ciphertext, of another row.
    const db = new Database(file);
    db.prepare('UPDATE oauthtoken SET access_token = (SELECT access_token FROM oauthtoken WHERE id = ?) WHERE id = ?').run(b.id, a.id);
    db.close();
    const store = await open(file, keyring);
    const read = (await store.tokens.findTokenById(a.id))!;
    expect(read.userName).toBe('a@x');
    expect(read.refreshToken).toBe('refresh-a');
    let err: unknown;
    try {
      void read.accessToken;
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TokenStoreError);
    expect(err).toMatchObject({ operation: 'findTokenById', kind: 'INTERNAL' });
    expect(String((err as Error).message)).not.toContain('access-b');
    expect((await store.tokens.findTokenById(b.id))?.accessToken).toBe('access-b');
    await store.close();
  });

  it('runs migrations once: a reopen of a migrated file changes nothing', async () => {
    const file = tempDbPath();
    const keyring = new Keyring([randomBytes(32)]);
    await (await open(file, keyring)).close();
    const store = await open(file, keyring);
    expect(await store.tokens.getTokens()).toEqual([]);
    await store.close();
  });

  it('names the operation and keeps the cause when the database fails', async () => {
    const store = await open();
    await store.close();
    const err = (await store.tokens.findTokenById('x').catch((e: unknown) => e)) as TokenStoreError;
    expect(err).toBeInstanceOf(TokenStoreError);
    expect(err.operation).toBe('findTokenById');
    expect(err.cause).toBeDefined();
  });
});
