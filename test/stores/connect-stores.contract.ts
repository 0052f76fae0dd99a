import { randomBytes } from 'node:crypto';
import type { Keyring } from '../../src/crypto/keyring';
import { auditLogMigration } from '../../src/stores/sql/migrations/audit-log';
import { providerTablesMigration } from '../../src/stores/sql/migrations/providers';
import { tokenTableMigrations } from '../../src/stores/sql/migrations/token-table';
import type { OAuthClientInput } from '../../src/stores/client-store';
import type { PendingConnect } from '../../src/stores/connect-store';
import type { Stores } from '../../src/stores/stores';

const client = (over: Partial<OAuthClientInput> = {}): OAuthClientInput => ({
  name: 'crm',
  provider: 'zoho',
  clientId: '1000.CLIENT',
  clientSecret: 'the-client-secret',
  scopes: ['ZohoCRM.modules.ALL'],
  redirectUrl: 'https://tokens.example.com/oauth/callback',
  accountsUrl: 'https://accounts.zoho.com',
  ...over,
});

const pending = (over: Partial<PendingConnect> = {}): PendingConnect => ({
  stateHash: randomBytes(32).toString('hex'),
  clientRecordId: 'client-1',
  userName: 'ana@example.com',
  scopes: ['ZohoCRM.modules.ALL'],
  returnTo: 'https://app.example.com/settings?x=1',
  tokenId: null,
  replaceOldest: false,
  codeVerifier: 'the-code-verifier-0123456789',
  actor: { role: 'operator', name: 'crm-sync', requestId: 'req-1' },
  createdAt: new Date(1_767_225_600_000),
  expiresAt: new Date(1_767_226_200_000),
  ...over,
});

/**
 * The contract of the connect flow's stores (`ClientStore`,
 * `PendingConnectStore`), run against every backend: what a client's save,
 * lookup and deletion do, and that a pending connect is taken exactly once,
 * however many take it at the same time.
 */
export function connectStoresContract(name: string, open: () => Promise<Stores>): void {
  describe(`ClientStore and PendingConnectStore contract (${name})`, () => {
    let stores: Stores;
    beforeEach(async () => {
      stores = await open();
    });
    afterEach(async () => {
      await stores.close();
    });

    it('saves a client, finds it by name or id, lists by name, and replaces it by name keeping its id', async () => {
      const first = await stores.clients.saveClient(client());
      expect(first.created).toBe(true);
      expect(first.client).toMatchObject({ ...client(), id: expect.any(String), createdAt: expect.any(Date) });
      await stores.clients.saveClient(client({ name: 'books', clientId: '1000.BOOKS' }));
      expect(await stores.clients.findClient('crm')).toEqual(first.client);
      expect(await stores.clients.findClient(first.client.id)).toEqual(first.client);
      expect(await stores.clients.findClient('nope')).toBeNull();
      expect((await stores.clients.listClients()).map((c) => c.name)).toEqual(['books', 'crm']);

      const again = await stores.clients.saveClient(client({ clientSecret: 'a-new-secret', scopes: ['a', 'b'], accountsUrl: 'https://accounts.zoho.eu' }));
      expect(again.created).toBe(false);
      expect(again.client).toMatchObject({
        id: first.client.id,
        clientSecret: 'a-new-secret',
        scopes: ['a', 'b'],
        accountsUrl: 'https://accounts.zoho.eu',
        createdAt: first.client.createdAt,
      });
      expect(await stores.clients.findClient('crm')).toEqual(again.client);
    });

    it('makes one client of concurrent first saves of one name', async () => {
      const saved = await Promise.all(Array.from({ length: 5 }, (_, i) => stores.clients.saveClient(client({ clientId: `1000.C${i}` }))));
      expect(saved.filter((s) => s.created)).toHaveLength(1);
      expect(new Set(saved.map((s) => s.client.id)).size).toBe(1);
      expect(await stores.clients.listClients()).toHaveLength(1);
    });

    it("deletes a client and clears its tokens' client, leaving the tokens and their credentials", async () => {
      await stores.clients.saveClient(client());
      const token = await stores.tokens.saveToken({
        userName: 'u@example.com',
        clientId: '1000.CLIENT',
        clientSecret: 's',
        refreshToken: 'r-1',
        client: 'crm',
      });
      const other = await stores.tokens.saveToken({ userName: 'v@example.com', refreshToken: 'r-2', client: 'books' });
      expect(token.client).toBe('crm');
      expect(await stores.clients.deleteClient('crm')).toBe(true);
      expect(await stores.clients.deleteClient('crm')).toBe(false);
      expect(await stores.clients.findClient('crm')).toBeNull();
      expect(await stores.tokens.findTokenById(token.id)).toMatchObject({ client: null, refreshToken: 'r-1', clientSecret: 's' });
      expect(await stores.tokens.findTokenById(other.id)).toMatchObject({ client: 'books' });
    });

    it('takes a pending connect once: the second take, and an unknown state, get null', async () => {
      const p = pending();
      await stores.connects.savePendingConnect(p);
      expect(await stores.connects.takePendingConnect(p.stateHash)).toEqual(p);
      expect(await stores.connects.takePendingConnect(p.stateHash)).toBeNull();
      expect(await stores.connects.takePendingConnect(randomBytes(32).toString('hex'))).toBeNull();
      const plain = pending({ codeVerifier: null, returnTo: null, userName: null, tokenId: 'tok-1', replaceOldest: true });
      await stores.connects.savePendingConnect(plain);
      expect(await stores.connects.takePendingConnect(plain.stateHash)).toEqual(plain);
    });

    it('gives a pending connect to exactly one of many concurrent takers', async () => {
      for (let round = 0; round < 5; round++) {
        const p = pending();
        await stores.connects.savePendingConnect(p);
        const taken = await Promise.all(Array.from({ length: 8 }, () => stores.connects.takePendingConnect(p.stateHash)));
        expect(taken.filter((t) => t !== null)).toHaveLength(1);
      }
    });

    it('prunes the connects that expired before a time, and only those', async () => {
      const old = pending({ expiresAt: new Date(1_000_000) });
      const current = pending({ expiresAt: new Date(3_000_000) });
      await stores.connects.savePendingConnect(old);
      await stores.connects.savePendingConnect(current);
      expect(await stores.connects.prunePendingConnects(new Date(2_000_000))).toBe(1);
      expect(await stores.connects.takePendingConnect(old.stateHash)).toBeNull();
      expect(await stores.connects.takePendingConnect(current.stateHash)).toEqual(current);
    });
  });
}

/** The migrations of a database made before the connect flow existed (no `client` column, no connect tables). */
export function preConnectMigrations(dialect: 'sqlite' | 'mysql', table: string) {
  return [
    ...tokenTableMigrations(dialect, table).filter((m) => !m.name.startsWith('TokenClientColumn')),
    auditLogMigration(dialect, table),
    providerTablesMigration(dialect, table),
  ];
}

/** A token row as a gateway before the connect flow wrote it (its refresh token encrypted under `keyring`). */
export function preConnectTokenRow(keyring: Keyring, table: string, quote: (s: string) => string) {
  const now = Date.now();
  return {
    sql: `INSERT INTO ${quote(table)} (id, user_name, refresh_token, key_id, provider, created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, 1)`,
    params: ['old-1', 'old@example.com', keyring.encrypt('old-refresh-token', 'old-1/refreshToken'), keyring.currentKeyId, 'zoho', now, now],
  };
}

/** What an existing database must look like once a gateway of today opened it. */
export async function expectMigratedForConnect(stores: Stores): Promise<void> {
  expect(await stores.tokens.findTokenById('old-1')).toMatchObject({
    userName: 'old@example.com',
    refreshToken: 'old-refresh-token',
    client: null,
    provider: 'zoho',
  });
  const saved = await stores.clients.saveClient(client());
  expect(await stores.clients.findClient('crm')).toEqual(saved.client);
  const p = pending();
  await stores.connects.savePendingConnect(p);
  expect(await stores.connects.takePendingConnect(p.stateHash)).toEqual(p);
  await stores.tokens.saveToken({ id: 'old-1', client: 'crm' });
  expect((await stores.tokens.findTokenById('old-1'))!.client).toBe('crm');
}
