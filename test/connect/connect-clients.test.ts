/**
 * OAuth clients through the API (admin writes, every role lists, the secret
 * admin-only and encrypted at rest) and the connect flow's writes of tokens:
 * a reconnect of a FAILED token in place, Zoho's save rules by user name,
 * and what a client's deletion leaves.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { freePort } from '../support/process-gateway';
import { SAVE_CLIENT, START_CONNECT, consent, hop, outcomeOf } from '../support/connect-flow';

const CLIENT_SECRET = 'crm-client-secret-0123456789';
const RETURN_TO = 'https://app.example.com/';

let zoho: FakeAccountsServer;
let gw: TestGateway;
let publicUrl: string;

beforeAll(async () => {
  zoho = await startFakeAccountsServer();
  zoho.addClient('1000.CRMCLIENT', CLIENT_SECRET);
  const port = await freePort();
  publicUrl = `http://127.0.0.1:${port}`;
  gw = await startTestGateway({
    store: 'sqlite',
    port,
    env: { TOKENGATE_ACCOUNTS_URL: zoho.url, TOKENGATE_PUBLIC_URL: publicUrl, TOKENGATE_CONNECT_RETURN_ORIGINS: 'https://app.example.com' },
  });
});

afterAll(async () => {
  await gw?.close();
  await zoho?.close();
});

/** startConnect → consent → callback; @returns the outcome at returnTo. */
async function connect(input: Record<string, unknown>) {
  const { body } = await gw.gql(START_CONNECT, { input: { client: 'crm', returnTo: RETURN_TO, ...input } }, gw.keys.operator);
  expect(body.errors).toBeUndefined();
  return outcomeOf((await hop((await consent(body.data.startConnect.authorizationUrl)).toString())).location);
}

describe('OAuth clients', () => {
  it('are registered by admins only, with the callback as redirect URL and the default accounts server', async () => {
    const asOperator = await gw.gql(SAVE_CLIENT, { client: { name: 'crm', clientId: '1000.CRMCLIENT', clientSecret: CLIENT_SECRET } }, gw.keys.operator);
    expect(asOperator.body.errors[0].extensions.code).toBe('FORBIDDEN');
    const { body } = await gw.gql(
      SAVE_CLIENT,
      { client: { name: 'crm', clientId: '1000.CRMCLIENT', clientSecret: CLIENT_SECRET, scopes: ['ZohoCRM.modules.ALL'] } },
      gw.keys.admin,
    );
    expect(body.errors).toBeUndefined();
    expect(body.data.saveClient).toMatchObject({
      name: 'crm',
      provider: 'zoho',
      clientId: '1000.CRMCLIENT',
      scopes: ['ZohoCRM.modules.ALL'],
      redirectUrl: `${publicUrl}/oauth/callback`,
      accountsUrl: zoho.url,
    });
  });

  it.each([
    ['a name that is not URL-safe', { name: 'crm client' }],
    ['a redirect URL other than the callback', { redirectUrl: 'https://evil.example/oauth/callback' }],
    ['an accounts server off the allow-list', { accountsUrl: 'https://accounts.evil.example' }],
    ['an unknown provider', { provider: 'nope' }],
    ['no secret for a new client', { name: 'other', clientSecret: null }],
    ['a scope with a space', { scopes: ['a b'] }],
  ])('refuse %s with BAD_USER_INPUT, storing nothing', async (_name, over) => {
    const before = await gw.gateway.stores.clients.listClients();
    const { body } = await gw.gql(
      SAVE_CLIENT,
      { client: { name: 'crm', clientId: '1000.CRMCLIENT', clientSecret: 'another-secret-value', ...over } },
      gw.keys.admin,
    );
    expect(body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(JSON.stringify(body)).not.toContain('another-secret-value');
    expect(await gw.gateway.stores.clients.listClients()).toEqual(before);
  });

  it('are listed by every role; the secret is read by admins only (null and FORBIDDEN for others)', async () => {
    const query = `{ clients { name provider clientId } client(name: "crm") { name clientSecret } }`;
    const viewer = await gw.gql(query, {}, gw.keys.viewer);
    expect(viewer.body.data.clients).toEqual([{ name: 'crm', provider: 'zoho', clientId: '1000.CRMCLIENT' }]);
    expect(viewer.body.data.client).toEqual({ name: 'crm', clientSecret: null });
    expect(viewer.body.errors.map((e: { extensions: { code: string } }) => e.extensions.code)).toEqual(['FORBIDDEN']);
    const operator = await gw.gql(query, {}, gw.keys.operator);
    expect(operator.body.data.client.clientSecret).toBeNull();
    const admin = await gw.gql(query, {}, gw.keys.admin);
    expect(admin.body.errors).toBeUndefined();
    expect(admin.body.data.client).toEqual({ name: 'crm', clientSecret: CLIENT_SECRET });
    expect((await gw.gql(`{ client(name: "nope") { name } }`, {}, gw.keys.viewer)).body.data.client).toBeNull();
    // A viewer's list that asks for the secret: listed, the secret null with FORBIDDEN, nowhere in the answer.
    const listed = await gw.gql(`{ clients { name clientSecret } }`, {}, gw.keys.viewer);
    expect(listed.body.data.clients).toEqual([{ name: 'crm', clientSecret: null }]);
    expect(listed.body.errors.map((e: { extensions: { code: string }; path: unknown[] }) => [e.extensions.code, e.path])).toEqual([
      ['FORBIDDEN', ['clients', 0, 'clientSecret']],
    ]);
    expect(JSON.stringify(listed.body)).not.toContain(CLIENT_SECRET);
  });

  it('are listed without decrypting a secret: one that no longer decrypts fails only an admin reading it', async () => {
    const saved = await gw.gql(SAVE_CLIENT, { client: { name: 'stale', clientId: '1000.STALECLIENT', clientSecret: 'stale-secret-value' } }, gw.keys.admin);
    expect(saved.body.errors).toBeUndefined();
    // As if encrypted under a key that is no longer configured.
    const db = new Database(path.join(gw.dataDir, 'tokengate.db'));
    try {
      db.pragma('busy_timeout = 5000');
      expect(db.prepare(`UPDATE oauthtoken_clients SET client_secret = ? WHERE name = ?`).run('tg1:gone:AAAA', 'stale').changes).toBe(1);
    } finally {
      db.close();
    }
    try {
      const viewer = await gw.gql(`{ clients { name clientId } }`, {}, gw.keys.viewer);
      expect(viewer.body.errors).toBeUndefined();
      expect(viewer.body.data.clients).toEqual([
        { name: 'crm', clientId: '1000.CRMCLIENT' },
        { name: 'stale', clientId: '1000.STALECLIENT' },
      ]);
      const admin = await gw.gql(`{ clients { name clientSecret } }`, {}, gw.keys.admin);
      expect(admin.body.data.clients).toEqual([
        { name: 'crm', clientSecret: CLIENT_SECRET },
        { name: 'stale', clientSecret: null },
      ]);
      expect(admin.body.errors.map((e: { extensions: { code: string }; path: unknown[] }) => [e.extensions.code, e.path])).toEqual([
        ['INTERNAL_SERVER_ERROR', ['clients', 1, 'clientSecret']],
      ]);
    } finally {
      expect((await gw.gql(`mutation { deleteClient(name: "stale") }`, {}, gw.keys.admin)).body.data.deleteClient).toBe(true);
    }
  });

  it('keep the secret when saved again without one, and never store it in plaintext', async () => {
    const { body } = await gw.gql(
      SAVE_CLIENT,
      { client: { name: 'crm', clientId: '1000.CRMCLIENT', scopes: ['ZohoCRM.modules.ALL', 'ZohoCRM.users.READ'] } },
      gw.keys.admin,
    );
    expect(body.errors).toBeUndefined();
    const stored = await gw.gateway.stores.clients.findClient('crm');
    expect(stored).toMatchObject({ clientSecret: CLIENT_SECRET, scopes: ['ZohoCRM.modules.ALL', 'ZohoCRM.users.READ'] });
    const files = fs.readdirSync(gw.dataDir).filter((f) => f.startsWith('tokengate.db'));
    for (const f of files) expect(fs.readFileSync(path.join(gw.dataDir, f)).includes(CLIENT_SECRET)).toBe(false);
  });
});

describe('reconnecting a FAILED token', () => {
  it('replaces its credentials in place: same id, its history kept, FAILED cleared, the old refresh token revoked', async () => {
    const oldRefresh = zoho.addRefreshToken('1000.CRMCLIENT');
    const saved = await gw.gql(
      `mutation($t: TokenInput!) { saveToken(token: $t) { id } }`,
      { t: { userName: 'failing@example.com', clientId: '1000.CRMCLIENT', clientSecret: CLIENT_SECRET, refreshToken: oldRefresh, expiresIn: 0 } },
      gw.keys.operator,
    );
    const id = saved.body.data.saveToken.id as string;
    // The user revoked the app at Zoho: the next refresh fails for good.
    await fetch(`${zoho.url}/oauth/v2/token/revoke?token=${encodeURIComponent(oldRefresh)}`, { method: 'POST' });
    const refused = await gw.gql(`mutation($id: ID!) { refresh(id: $id) { id } }`, { id }, gw.keys.operator);
    expect(refused.body.errors[0].extensions.code).toBe('REFRESH_FAILED');
    const failed = await gw.gateway.stores.tokens.findTokenById(id);
    expect(failed).toMatchObject({ lastError: 'invalid_code', failedAt: expect.any(Date) });
    // Revoked at the fake already: re-register it so the revocation of the reconnect can be seen to take it.
    zoho.addRefreshToken('1000.CRMCLIENT', oldRefresh);
    const revocations = zoho.count('revoke');

    const outcome = await connect({ tokenId: id });
    expect(outcome).toMatchObject({ connect: 'ok', token: id });

    const { body } = await gw.gql(
      `query($id: ID!) { tokenById(id: $id) { id userName status lastError client createdAt } auditLog(tokenId: $id) { nodes { action outcome detail actorRole } } tokens { nodes { id } } }`,
      { id },
      gw.keys.admin,
    );
    expect(body.data.tokenById).toEqual({
      id,
      userName: 'failing@example.com',
      status: 'ACTIVE',
      lastError: null,
      client: 'crm',
      createdAt: failed!.createdAt.toISOString(),
    });
    expect(body.data.tokens.nodes.filter((t: { id: string }) => t.id === id)).toHaveLength(1);
    const actions = body.data.auditLog.nodes.map((e: { action: string; outcome: string }) => `${e.action}:${e.outcome}`);
    // Newest first: the CONNECT, the refused refresh, the first save.
    expect(actions).toEqual(['CONNECT:OK', 'REFRESH:REFUSED', 'SAVE:OK']);
    expect(body.data.auditLog.nodes[0]).toMatchObject({ detail: 'reconnected', actorRole: 'operator' });

    await gw.gateway.connect.idle();
    expect(zoho.count('revoke')).toBe(revocations + 1);
    expect(zoho.isRefreshTokenValid(oldRefresh)).toBe(false);
    const stored = await gw.gateway.stores.tokens.findTokenById(id);
    expect(zoho.isRefreshTokenValid(stored!.refreshToken!)).toBe(true);
    const refreshed = await gw.gql(`mutation($id: ID!) { refresh(id: $id) { status } }`, { id }, gw.keys.operator);
    expect(refreshed.body.data.refresh.status).toBe('ACTIVE');
  });
});

describe("Zoho's save rules by user name", () => {
  it('updates the token of that user name instead of making a second one, and revokes its replaced refresh token', async () => {
    const first = await connect({ userName: 'bea@example.com' });
    expect(first.connect).toBe('ok');
    const before = await gw.gateway.stores.tokens.findTokenById(first.token!);
    const second = await connect({ userName: 'bea@example.com' });
    expect(second).toMatchObject({ connect: 'ok', token: first.token });
    const after = await gw.gateway.stores.tokens.findTokenById(first.token!);
    expect(after!.refreshToken).not.toBe(before!.refreshToken);
    expect(after!.version).toBeGreaterThan(before!.version);
    const all = await gw.gateway.stores.tokens.getTokens();
    expect(all.filter((t) => t.userName === 'bea@example.com')).toHaveLength(1);
    await gw.gateway.connect.idle();
    expect(zoho.isRefreshTokenValid(before!.refreshToken!)).toBe(false);
    expect(zoho.isRefreshTokenValid(after!.refreshToken!)).toBe(true);
  });

  it('refuses a connect for a user name whose token belongs to another provider', async () => {
    await gw.gql(
      `mutation { saveProvider(provider: { name: "idp", tokenUrl: "https://idp.example.com/token", authorizationUrl: "https://idp.example.com/authorize" }) { name } }`,
      {},
      gw.keys.admin,
    );
    await gw.gql(
      `mutation($t: TokenInput!) { saveToken(token: $t) { id } }`,
      { t: { userName: 'idp-user@example.com', provider: 'idp', clientId: 'c', clientSecret: 's', refreshToken: 'idp-refresh-token-1' } },
      gw.keys.operator,
    );
    const { body } = await gw.gql(START_CONNECT, { input: { client: 'crm', userName: 'idp-user@example.com' } }, gw.keys.operator);
    expect(body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(body.errors[0].message).toContain('belongs to the provider idp');
  });
});

describe('deleting a client', () => {
  it('leaves its tokens working, their client now null', async () => {
    const outcome = await connect({ userName: 'cleo@example.com' });
    const id = outcome.token!;
    expect((await gw.gateway.stores.tokens.findTokenById(id))!.client).toBe('crm');
    const deleted = await gw.gql(`mutation { deleteClient(name: "crm") }`, {}, gw.keys.admin);
    expect(deleted.body.data.deleteClient).toBe(true);
    expect((await gw.gql(`mutation { deleteClient(name: "crm") }`, {}, gw.keys.admin)).body.data.deleteClient).toBe(false);
    const { body } = await gw.gql(`mutation($id: ID!) { refresh(id: $id) { status client } }`, { id }, gw.keys.operator);
    expect(body.data.refresh).toEqual({ status: 'ACTIVE', client: null });
    expect((await gw.gql(`{ clients { name } }`, {}, gw.keys.viewer)).body.data.clients).toEqual([]);
  });
});
