import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { startFakeOAuth2Server, type FakeOAuth2Server } from '../support/fake-oauth2-server';

/**
 * A generic OAuth 2.0 provider end to end, against a standard server of the
 * tests' own (HTTP Basic, 400/401 JSON errors, a new refresh token on every
 * refresh, RFC 7009 revocation): registered by an admin, a token saved with
 * it, refreshed (the rotated refresh token kept), revoked. And the
 * allow-list: a client secret goes to a registered provider's endpoints, or
 * to an allowed Zoho accounts server, and nowhere else.
 */
describe('a generic OAuth 2.0 provider', () => {
  let idp: FakeOAuth2Server;
  let outsider: FakeOAuth2Server;
  let gw: TestGateway;
  let providersFile: string;
  const CLIENT = 'acme-client';
  const SECRET = 'acme secret:with+odd&chars';

  beforeAll(async () => {
    idp = await startFakeOAuth2Server();
    outsider = await startFakeOAuth2Server();
    idp.addClient(CLIENT, SECRET);
    providersFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tg-providers-')), 'providers.json');
    fs.writeFileSync(providersFile, JSON.stringify([{ name: 'filed', tokenUrl: `${idp.url}/token`, clientAuthMethod: 'client_secret_post' }]));
    gw = await startTestGateway({ store: 'sqlite', env: { TOKENGATE_PROVIDERS_FILE: providersFile } });
  });
  afterAll(async () => {
    await gw?.close();
    await idp.close();
    await outsider.close();
    fs.rmSync(path.dirname(providersFile), { recursive: true, force: true });
  });

  const PROVIDER = 'name kind tokenUrl revocationUrl authorizationUrl clientAuthMethod pkce limits { accessTokensPerWindow windowSeconds }';
  const TOKEN = 'id provider accountsUrl status hasAccessToken throttled';
  const save = (token: Record<string, unknown>, key = gw.keys.operator) =>
    gw.gql(`mutation($t: TokenInput!) { saveToken(token: $t) { ${TOKEN} } }`, { t: token }, key);

  it('is registered by an admin, listed to every role, and refused to an operator', async () => {
    const denied = await gw.gql(`mutation { saveProvider(provider: { name: "acme", tokenUrl: "${idp.tokenUrl}" }) { name } }`, {}, gw.keys.operator);
    expect(denied.body.errors[0].extensions.code).toBe('FORBIDDEN');
    const saved = await gw.gql(
      `mutation($p: ProviderInput!) { saveProvider(provider: $p) { ${PROVIDER} } }`,
      { p: { name: 'acme', tokenUrl: idp.tokenUrl, revocationUrl: idp.revocationUrl, authorizationUrl: `${idp.url}/authorize` } },
      gw.keys.admin,
    );
    expect(saved.body.errors).toBeUndefined();
    expect(saved.body.data.saveProvider).toEqual({
      name: 'acme',
      kind: 'oauth2',
      tokenUrl: idp.tokenUrl,
      revocationUrl: idp.revocationUrl,
      authorizationUrl: `${idp.url}/authorize`,
      clientAuthMethod: 'client_secret_basic',
      pkce: false,
      limits: { accessTokensPerWindow: null, windowSeconds: null },
    });
    const list = await gw.gql(`{ providers { name kind } }`, {}, gw.keys.viewer);
    expect(list.body.data.providers).toEqual([
      { name: 'zoho', kind: 'zoho' },
      { name: 'acme', kind: 'oauth2' },
      { name: 'filed', kind: 'oauth2' },
    ]);
    const zoho = await gw.gql(`{ provider(name: "zoho") { ${PROVIDER} } }`, {}, gw.keys.viewer);
    expect(zoho.body.data.provider).toMatchObject({
      kind: 'zoho',
      tokenUrl: 'https://accounts.zoho.com/oauth/v2/token',
      clientAuthMethod: 'client_secret_post',
      limits: { accessTokensPerWindow: 10, windowSeconds: 600 },
    });
  });

  it('refuses a malformed provider, a provider of the file and an unknown provider on a token, changing nothing', async () => {
    for (const p of [
      { name: 'Bad Name', tokenUrl: idp.tokenUrl },
      { name: 'nourl' },
      { name: 'x', tokenUrl: 'ftp://idp.example/token' },
      { name: 'x', tokenUrl: 'https://u:p@idp.example/token' },
      { name: 'x', tokenUrl: idp.tokenUrl, clientAuthMethod: 'private_key_jwt' },
      { name: 'x', tokenUrl: idp.tokenUrl, limits: { windowSeconds: 0 } },
    ]) {
      const r = await gw.gql(`mutation($p: ProviderInput!) { saveProvider(provider: $p) { name } }`, { p }, gw.keys.admin);
      expect(r.body.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
    }
    const filed = await gw.gql(`mutation { saveProvider(provider: { name: "filed", tokenUrl: "${outsider.tokenUrl}" }) { name } }`, {}, gw.keys.admin);
    expect(filed.body.errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: expect.stringContaining('TOKENGATE_PROVIDERS_FILE') });
    const unknown = await save({ provider: 'nobody', clientId: CLIENT, clientSecret: SECRET, refreshToken: 'rt-unknown' });
    expect(unknown.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect((await gw.gql(`{ providers { name } }`, {}, gw.keys.viewer)).body.data.providers.map((p: { name: string }) => p.name)).toEqual([
      'zoho',
      'acme',
      'filed',
    ]);
  });

  it('saves, refreshes with Basic authentication and keeps every rotated refresh token, then revokes', async () => {
    const first = idp.addRefreshToken(CLIENT);
    const saved = await save({ provider: 'acme', clientId: CLIENT, clientSecret: SECRET, refreshToken: first });
    expect(saved.body.data.saveToken).toMatchObject({ provider: 'acme', accountsUrl: null, status: 'EXPIRED', hasAccessToken: false });
    const id = saved.body.data.saveToken.id;
    let previous = first;
    for (let i = 0; i < 3; i++) {
      const r = await gw.gql(`mutation($id: ID!) { refresh(id: $id) { ${TOKEN} accessToken } }`, { id }, gw.keys.operator);
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data.refresh).toMatchObject({ provider: 'acme', status: 'ACTIVE', throttled: false, accessToken: idp.issuedAccessTokens.at(-1) });
      const stored = (await gw.gql(`{ tokenById(id: "${id}") { refreshToken } }`, {}, gw.keys.admin)).body.data.tokenById.refreshToken;
      expect(stored).not.toBe(previous);
      expect(idp.isRefreshTokenValid(stored)).toBe(true);
      expect(idp.isRefreshTokenValid(previous)).toBe(false);
      previous = stored;
    }
    const refreshes = idp.requests.filter((r) => r.path === '/token');
    expect(refreshes).toHaveLength(3);
    expect(refreshes.every((r) => r.clientAuth === 'basic' && r.status === 200 && r.clientId === CLIENT)).toBe(true);

    const inUse = await gw.gql(`mutation { deleteProvider(name: "acme") }`, {}, gw.keys.admin);
    expect(inUse.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');

    const revoked = await gw.gql(`mutation($id: ID!) { revokeToken(id: $id) }`, { id }, gw.keys.operator);
    expect(revoked.body.data.revokeToken).toBe(true);
    expect(idp.revoked).toEqual([previous]);
    expect(idp.requests.at(-1)).toMatchObject({ path: '/revoke', clientAuth: 'basic', status: 200 });
    expect(idp.isRefreshTokenValid(previous)).toBe(false);
    expect((await gw.gql(`mutation { deleteProvider(name: "acme") }`, {}, gw.keys.admin)).body.data.deleteProvider).toBe(true);
    expect((await gw.gql(`mutation { deleteProvider(name: "zoho") }`, {}, gw.keys.admin)).body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('a refusal (HTTP 400 invalid_grant) marks the token FAILED and keeps it; client_secret_post from the providers file', async () => {
    await gw.gql(`mutation($p: ProviderInput!) { saveProvider(provider: $p) { name } }`, { p: { name: 'acme', tokenUrl: idp.tokenUrl } }, gw.keys.admin);
    const saved = await save({ provider: 'acme', clientId: CLIENT, clientSecret: SECRET, refreshToken: 'rt-never-issued' });
    const r = await gw.gql(`mutation($id: ID!) { refresh(id: $id) { id } }`, { id: saved.body.data.saveToken.id }, gw.keys.operator);
    expect(r.body.errors[0].extensions).toMatchObject({ code: 'REFRESH_FAILED', oauthError: 'invalid_grant' });
    expect(
      (await gw.gql(`{ tokenById(id: "${saved.body.data.saveToken.id}") { status lastError hasRefreshToken } }`, {}, gw.keys.viewer)).body.data.tokenById,
    ).toEqual({ status: 'FAILED', lastError: 'invalid_grant', hasRefreshToken: true });

    idp.addClient('post-client', 'post-secret', 'client_secret_post');
    const filed = await save({ provider: 'filed', clientId: 'post-client', clientSecret: 'post-secret', refreshToken: idp.addRefreshToken('post-client') });
    const ok = await gw.gql(`mutation($id: ID!) { refresh(id: $id) { status } }`, { id: filed.body.data.saveToken.id }, gw.keys.operator);
    expect(ok.body.data.refresh.status).toBe('ACTIVE');
    expect(idp.requests.at(-1)).toMatchObject({ clientAuth: 'post', status: 200 });
  });

  it('never sends a client secret to a host that is not a registered provider endpoint or an allowed Zoho accounts server', async () => {
    outsider.addClient(CLIENT, SECRET);
    // A registered provider's host is not a Zoho accounts server, nor is any other host.
    for (const accountsUrl of [idp.url, outsider.url]) {
      const r = await save({ clientId: CLIENT, clientSecret: SECRET, refreshToken: outsider.addRefreshToken(CLIENT), accountsUrl });
      expect(r.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    }
    // A generic token has no accounts URL to point elsewhere.
    const pointed = await save({
      provider: 'acme',
      clientId: CLIENT,
      clientSecret: SECRET,
      refreshToken: outsider.addRefreshToken(CLIENT),
      accountsUrl: outsider.url,
    });
    expect(pointed.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    // The allow-list the client checks before every request holds each provider's own endpoints only.
    const token = await save({ provider: 'acme', clientId: CLIENT, clientSecret: SECRET, refreshToken: idp.addRefreshToken(CLIENT) });
    expect(token.body.errors).toBeUndefined();
    const before = idp.requests.length;
    const policy = (gw.gateway.engine as unknown as { o: { policy: { assertProviderEndpoint(p: string, u: string): void } } }).o.policy;
    expect(() => policy.assertProviderEndpoint('acme', outsider.tokenUrl)).toThrow(/not an endpoint of the registered provider acme/);
    expect(() => policy.assertProviderEndpoint('filed', idp.revocationUrl)).toThrow();
    expect(idp.requests.length).toBe(before);
    expect(outsider.requests).toHaveLength(0);
    expect(gw.logs()).not.toContain(SECRET);
  });
});
