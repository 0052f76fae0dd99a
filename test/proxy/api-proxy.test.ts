import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiHostPolicy } from '../../src/proxy/api-hosts';
import { ProxyCredentials } from '../../src/proxy/proxy-credentials';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { startFakeZohoApi, type FakeZohoApi } from '../support/fake-zoho-api';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { httpCall } from '../support/http-call';

const ISSUE = `mutation($id: ID!, $ttl: Int!, $m: [String!]!, $p: [String!]!) { issueProxyCredential(tokenId: $id, ttlSeconds: $ttl, methods: $m, pathPrefixes: $p) { credential expiresAt } }`;

/**
 * The API proxy against a fake Zoho CRM API (its own process) and a fake
 * Accounts server, through a gateway on a SQLite file.
 */
describe('API proxy (/api/{tokenId}/{path})', () => {
  let accounts: FakeAccountsServer;
  let api: FakeZohoApi;
  let gw: TestGateway;
  /** A server that is not an allowed API host: it must never get a request. */
  let trap: http.Server;
  let trapHits = 0;
  let trapUrl: string;
  const credentialKey = randomBytes(32);
  const clientId = '1000.PROXYCLIENT';
  const clientSecret = `secret-${randomBytes(8).toString('hex')}`;
  const FRONTEND = 'http://frontend.test:8080';

  beforeAll(async () => {
    [accounts, api] = await Promise.all([startFakeAccountsServer({ delayMs: 0 }), startFakeZohoApi()]);
    accounts.addClient(clientId, clientSecret);
    trap = http.createServer((_req, res) => {
      trapHits += 1;
      res.end('{}');
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    trapUrl = `http://127.0.0.1:${(trap.address() as AddressInfo).port}`;
    gw = await startTestGateway({
      store: 'sqlite',
      env: {
        TOKENGATE_ACCOUNTS_URL: accounts.url,
        TOKENGATE_ALLOWED_API_HOSTS: api.url,
        TOKENGATE_CORS_ORIGINS: FRONTEND,
        TOKENGATE_PROXY_REPLAY_LIMIT: '16kb',
        TOKENGATE_PROXY_BODY_LIMIT: '1mb',
        TOKENGATE_PROXY_TIMEOUT_MS: '1500',
        TOKENGATE_PROXY_CREDENTIAL_KEY: credentialKey.toString('base64'),
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await api?.close();
    await accounts?.close();
    await new Promise<void>((resolve) => (trap ? trap.close(() => resolve()) : resolve()));
  });
  beforeEach(async () => {
    accounts.configure({ delayMs: 0 });
    accounts.setFailure('none');
    accounts.resetRequests();
    await api.reset();
  });

  /** A refreshable, ACTIVE token whose API domain is the fake API. */
  const saveToken = async (extra: Record<string, unknown> = {}) => {
    const accessToken = `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;
    const refreshToken = accounts.addRefreshToken(clientId);
    const token = await gw.gateway.stores.tokens.saveToken({
      clientId,
      clientSecret,
      refreshToken,
      accessToken,
      expiresAt: new Date(Date.now() + 3_600_000),
      apiDomain: api.url,
      ...extra,
    });
    return token;
  };
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
  const storedAccessToken = async (id: string) => (await gw.gateway.stores.tokens.findTokenById(id))!.accessToken;
  const issue = async (id: string, methods: string[], prefixes: string[], ttl = 300) => {
    const r = await gw.gql(ISSUE, { id, ttl, m: methods, p: prefixes }, gw.keys.operator);
    expect(r.body.errors).toBeUndefined();
    return r.body.data.issueProxyCredential.credential as string;
  };

  it('forwards a GET with the token injected and nothing of the caller; passes rate-limit headers back, drops Set-Cookie', async () => {
    const token = await saveToken();
    const r = await httpCall(gw.url, 'GET', `/api/${token.id}/crm/v8/Leads?fields=Last_Name,Company&page=1`, {
      headers: {
        ...bearer(gw.keys.operator),
        cookie: 'session=caller-cookie',
        'x-forwarded-for': '203.0.113.9',
        'x-forwarded-host': 'evil.example',
        forwarded: 'for=203.0.113.9',
        connection: 'keep-alive, x-hop',
        'x-hop': 'hop-value',
        'proxy-authorization': 'Basic c2VjcmV0',
        accept: 'application/json',
      },
    });
    expect(r.status).toBe(200);
    expect(r.json.data.map((l: { Last_Name: string }) => l.Last_Name)).toEqual(['Lovelace', 'Hopper']);
    expect(r.headers['x-ratelimit-remaining']).toBe('97');
    expect(r.headers['x-ratelimit-limit']).toBe('100');
    expect(r.headers['set-cookie']).toBeUndefined();
    expect(r.headers['access-control-allow-origin']).toBeUndefined(); // the provider's '*' is not passed on
    expect(r.headers['x-request-id']).toMatch(/^[\w-]+$/);
    expect(r.headers['x-content-type-options']).toBe('nosniff');

    const [seen] = await api.requests();
    expect(seen!.authorization).toBe(`Zoho-oauthtoken ${token.accessToken}`);
    expect(seen!.path).toBe('/crm/v8/Leads');
    expect(seen!.query).toBe('?fields=Last_Name,Company&page=1');
    expect(seen!.headers.accept).toBe('application/json');
    for (const h of ['cookie', 'x-forwarded-for', 'x-forwarded-host', 'forwarded', 'x-hop', 'proxy-authorization']) expect(seen!.headers[h]).toBeUndefined();
    expect(JSON.stringify(seen!.headers)).not.toContain(gw.keys.operator);
    expect(seen!.headers.host).toBe(new URL(api.url).host);
  });

  it('answers errors of its own as JSON with Tokengate-Error: no key, a viewer key, an unknown token, a FAILED token — nothing sent upstream', async () => {
    const token = await saveToken();
    const none = await httpCall(gw.url, 'GET', `/api/${token.id}/crm/v8/Leads`);
    expect(none.status).toBe(401);
    expect(none.headers['tokengate-error']).toBe('UNAUTHENTICATED');
    expect(none.json).toEqual({ error: { code: 'UNAUTHENTICATED', message: expect.any(String) } });
    const viewer = await httpCall(gw.url, 'GET', `/api/${token.id}/crm/v8/Leads`, { headers: bearer(gw.keys.viewer) });
    expect([viewer.status, viewer.json.error.code]).toEqual([403, 'FORBIDDEN']);
    const unknown = await httpCall(gw.url, 'GET', `/api/no-such-token/crm/v8/Leads`, { headers: bearer(gw.keys.admin) });
    expect([unknown.status, unknown.json.error.code, unknown.headers['tokengate-error']]).toEqual([404, 'NOT_FOUND', 'NOT_FOUND']);
    const failed = await saveToken({ failedAt: new Date(), lastError: 'invalid_code' });
    const refused = await httpCall(gw.url, 'GET', `/api/${failed.id}/crm/v8/Leads`, { headers: bearer(gw.keys.operator) });
    expect([refused.status, refused.json.error.code]).toEqual([409, 'REFRESH_FAILED']);
    expect(refused.json.error.message).toContain('invalid_code');
    expect(await api.requests()).toEqual([]);
    expect(accounts.count()).toBe(0);
  });

  it('answers a refresh the provider refuses on the way with 409 REFRESH_FAILED, not a 500 — nothing sent upstream', async () => {
    const expired = await saveToken({ refreshToken: 'a-refresh-token-the-provider-does-not-know', expiresAt: new Date(Date.now() - 60_000) });
    await api.reset();
    const r = await httpCall(gw.url, 'GET', `/api/${expired.id}/crm/v8/Leads`, { headers: bearer(gw.keys.operator) });
    expect([r.status, r.json.error.code, r.headers['tokengate-error']]).toEqual([409, 'REFRESH_FAILED', 'REFRESH_FAILED']);
    expect(await api.requests()).toEqual([]);
  });

  it('never calls a host that is not an allowed API host (403 naming it), whatever a token says', async () => {
    for (const apiDomain of [trapUrl, 'https://www.zohoapis.com.evil.example', 'http://www.zohoapis.com', `${api.url}/crm`]) {
      const token = await saveToken({ apiDomain });
      const r = await httpCall(gw.url, 'GET', `/api/${token.id}/crm/v8/Leads`, { headers: bearer(gw.keys.admin) });
      expect([r.status, r.json.error.code]).toEqual([403, 'FORBIDDEN']);
      expect(r.json.error.message).toContain(new URL(apiDomain).host);
    }
    expect(trapHits).toBe(0);
    expect(await api.requests()).toEqual([]);
  });

  it('forwards long paths and query strings as they are', async () => {
    const token = await saveToken();
    const longPath = `/echo/${Array.from({ length: 12 }, (_, i) => `5725767000000${String(i).padStart(6, '0')}`).join('/')}`;
    const query = `?criteria=${'(Last_Name:equals:O%27Brien)and'.repeat(40)}`;
    const r = await httpCall(gw.url, 'GET', `/api/${token.id}${longPath}${query}`, { headers: bearer(gw.keys.operator) });
    expect(r.status).toBe(200);
    expect([r.json.path, r.json.query]).toEqual([longPath, query]);
  });

  it('refuses paths with dot segments or encoded slashes (400), sending nothing', async () => {
    const token = await saveToken();
    for (const p of ['/crm/../settings', '/crm/./v8/Leads', '/crm/v8%2FLeads', '/crm/%2e%2e/x', '/crm//v8', '/crm/v8\\Leads']) {
      const r = await httpCall(gw.url, 'GET', `/api/${token.id}${p}`, { headers: bearer(gw.keys.operator) });
      expect([p, r.status, r.json?.error?.code]).toEqual([p, 400, 'BAD_REQUEST']);
    }
    expect(await api.requests()).toEqual([]);
  });

  it('after the provider invalidates the token: the next call refreshes once and succeeds with the new token', async () => {
    const token = await saveToken();
    await api.invalidate(token.accessToken!);
    const r = await httpCall(gw.url, 'GET', `/api/${token.id}/crm/v8/Leads`, { headers: bearer(gw.keys.operator) });
    expect(r.status).toBe(200);
    expect(accounts.count('refresh_token')).toBe(1);
    const fresh = await storedAccessToken(token.id);
    expect(fresh).not.toBe(token.accessToken);
    expect((await api.requests()).map((q) => q.authorization)).toEqual([`Zoho-oauthtoken ${token.accessToken}`, `Zoho-oauthtoken ${fresh}`]);
  });

  it("checks and parses the token's API host once per call, for a refresh on the way and a replay too", async () => {
    const checked = jest.spyOn(ApiHostPolicy.prototype, 'target');
    try {
      const invalidated = await saveToken();
      await api.invalidate(invalidated.accessToken!);
      const expired = await saveToken({ accessToken: null, expiresAt: null });
      for (const token of [invalidated, expired]) {
        checked.mockClear();
        const r = await httpCall(gw.url, 'GET', `/api/${token.id}/crm/v8/Leads`, { headers: bearer(gw.keys.operator) });
        expect(r.status).toBe(200);
        expect(checked.mock.calls).toEqual([[api.url]]);
      }
      expect(accounts.count('refresh_token')).toBe(2);
      expect((await api.requests()).map((q) => q.path)).toEqual(['/crm/v8/Leads', '/crm/v8/Leads', '/crm/v8/Leads']);
    } finally {
      checked.mockRestore();
    }
  });

  it('100 concurrent calls at the moment of invalidation make one refresh, and all succeed', async () => {
    const token = await saveToken();
    await api.invalidate(token.accessToken!);
    // A slower Accounts server keeps the refresh in flight while the refusals come in.
    accounts.configure({ delayMs: 300 });
    const results = await Promise.all(
      Array.from({ length: 100 }, () => httpCall(gw.url, 'GET', `/api/${token.id}/crm/v8/Leads`, { headers: bearer(gw.keys.operator) })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(100).fill(200));
    expect(accounts.count('refresh_token')).toBe(1);
    const fresh = await storedAccessToken(token.id);
    const seen = await api.requests();
    expect(new Set(seen.map((q) => q.authorization))).toEqual(new Set([`Zoho-oauthtoken ${token.accessToken}`, `Zoho-oauthtoken ${fresh}`]));
    expect(seen.filter((q) => q.authorization === `Zoho-oauthtoken ${fresh}`)).toHaveLength(100);
  });

  it('replays a buffered body unchanged; a streamed one (over the replay limit) gets the 401, and the next call the new token', async () => {
    const token = await saveToken();
    await api.invalidate(token.accessToken!);
    const small = Buffer.from(JSON.stringify({ data: [{ Last_Name: 'Turing' }] }));
    const created = await httpCall(gw.url, 'POST', `/api/${token.id}/crm/v8/Leads`, {
      headers: { ...bearer(gw.keys.operator), 'content-type': 'application/json' },
      body: small,
    });
    expect(created.status).toBe(201);
    const posts = await api.requests();
    expect(posts).toHaveLength(2);
    expect(posts[1]!.bodySha256).toBe(createHash('sha256').update(small).digest('hex'));
    expect(posts[0]!.bodySha256).toBe(posts[1]!.bodySha256);

    await api.reset();
    const current = await storedAccessToken(token.id);
    await api.invalidate(current!);
    const big = randomBytes(64 * 1024);
    const streamed = await httpCall(gw.url, 'PUT', `/api/${token.id}/echo/upload`, {
      headers: { ...bearer(gw.keys.operator), 'content-type': 'application/octet-stream' },
      body: big,
    });
    expect(streamed.status).toBe(401);
    expect(streamed.json.code).toBe('INVALID_OAUTHTOKEN'); // the provider's answer, as it gave it
    expect(streamed.headers['tokengate-error']).toBeUndefined();
    // The refresh it started in the background is joined (or found done) by the next call.
    const next = await httpCall(gw.url, 'PUT', `/api/${token.id}/echo/upload`, {
      headers: { ...bearer(gw.keys.operator), 'content-type': 'application/octet-stream' },
      body: big,
    });
    expect(next.status).toBe(200);
    expect(next.json.bodyBytes).toBe(big.length);
    const seen = await api.requests();
    expect(seen.at(-1)!.bodySha256).toBe(createHash('sha256').update(big).digest('hex'));
    expect(seen.at(-1)!.authorization).not.toBe(`Zoho-oauthtoken ${current}`);
  });

  it('streams a chunked request body through, and refuses bodies over the limit with 413', async () => {
    const token = await saveToken();
    const chunks = Array.from({ length: 40 }, () => randomBytes(8 * 1024)); // 320 KB, chunked
    const ok = await httpCall(gw.url, 'POST', `/api/${token.id}/echo/chunked`, { headers: bearer(gw.keys.operator), body: chunks });
    expect(ok.status).toBe(200);
    expect(ok.json.bodyBytes).toBe(320 * 1024);
    const tooBig = await httpCall(gw.url, 'POST', `/api/${token.id}/echo/big`, { headers: bearer(gw.keys.operator), body: Buffer.alloc(1024 * 1024 + 1) });
    expect([tooBig.status, tooBig.json.error.code]).toEqual([413, 'BAD_REQUEST']);
    const tooBigChunked = await httpCall(gw.url, 'POST', `/api/${token.id}/echo/big`, {
      headers: bearer(gw.keys.operator),
      body: Array.from({ length: 20 }, () => Buffer.alloc(64 * 1024)),
    });
    expect(tooBigChunked.status).toBe(413);
  });

  it('answers 504 when the provider does not answer in time', async () => {
    const token = await saveToken();
    const r = await httpCall(gw.url, 'GET', `/api/${token.id}/slow`, { headers: bearer(gw.keys.operator) });
    expect([r.status, r.json.error.code, r.headers['tokengate-error']]).toEqual([504, 'UPSTREAM_UNAVAILABLE', 'UPSTREAM_UNAVAILABLE']);
  });

  it("presents the access token in the scheme of the token's provider profile; a provider no longer registered answers 409, sending nothing", async () => {
    const saved = await gw.gql(
      `mutation { saveProvider(provider: { name: "acme-proxy", tokenUrl: "${accounts.url}/oauth/v2/token" }) { name } }`,
      {},
      gw.keys.admin,
    );
    expect(saved.body.errors).toBeUndefined();
    const generic = await saveToken({ provider: 'acme-proxy' });
    const zoho = await saveToken();
    // The fake Zoho API takes only Zoho-oauthtoken: the generic token's call gets its 401, passed through as it is.
    const r = await httpCall(gw.url, 'GET', `/api/${generic.id}/crm/v8/Leads`, { headers: bearer(gw.keys.operator) });
    expect([r.status, r.json.code, r.headers['tokengate-error']]).toEqual([401, 'AUTHENTICATION_FAILURE', undefined]);
    expect((await httpCall(gw.url, 'GET', `/api/${zoho.id}/crm/v8/Leads`, { headers: bearer(gw.keys.operator) })).status).toBe(200);
    expect((await api.requests()).map((q) => q.authorization)).toEqual([`Bearer ${generic.accessToken}`, `Zoho-oauthtoken ${zoho.accessToken}`]);

    await api.reset();
    const orphan = await saveToken({ provider: 'no-such-provider' });
    const refused = await httpCall(gw.url, 'GET', `/api/${orphan.id}/crm/v8/Leads`, { headers: bearer(gw.keys.operator) });
    expect([refused.status, refused.headers['tokengate-error']]).toEqual([409, 'BAD_USER_INPUT']);
    expect(refused.json.error.message).toContain('no-such-provider');
    expect(await api.requests()).toEqual([]);
  });

  it('an EXPIRED token is refreshed first (force: false), and its api_domain does not replace the stored one', async () => {
    const token = await saveToken({ accessToken: null, expiresAt: null });
    accounts.configure({ apiDomain: 'https://www.zohoapis.eu' });
    const r = await httpCall(gw.url, 'GET', `/api/${token.id}/crm/v8/Leads`, { headers: bearer(gw.keys.operator) });
    accounts.configure({ apiDomain: 'https://www.zohoapis.com' });
    expect(r.status).toBe(200);
    expect(accounts.count('refresh_token')).toBe(1);
    const stored = (await gw.gateway.stores.tokens.findTokenById(token.id))!;
    expect(stored.apiDomain).toBe(api.url);
    expect((await api.requests())[0]!.authorization).toBe(`Zoho-oauthtoken ${stored.accessToken}`);
  });

  describe('proxy credentials', () => {
    it('grant one token, its methods (HEAD with GET) and path prefixes segment-wise; nothing else', async () => {
      const token = await saveToken();
      const other = await saveToken();
      const credential = await issue(token.id, ['get'], ['/crm/v8/Leads/']);
      const as = bearer(credential);
      expect((await httpCall(gw.url, 'GET', `/api/${token.id}/crm/v8/Leads`, { headers: as })).status).toBe(200);
      expect((await httpCall(gw.url, 'GET', `/api/${token.id}/crm/v8/Leads/5725767000000411001`, { headers: as })).status).toBe(200);
      expect((await httpCall(gw.url, 'HEAD', `/api/${token.id}/crm/v8/Leads`, { headers: as })).status).toBe(200);
      const refusals = await Promise.all([
        httpCall(gw.url, 'GET', `/api/${token.id}/crm/v8/LeadsX`, { headers: as }),
        httpCall(gw.url, 'GET', `/api/${token.id}/crm/v8/Contacts`, { headers: as }),
        httpCall(gw.url, 'POST', `/api/${token.id}/crm/v8/Leads`, { headers: as, body: '{}' }),
        httpCall(gw.url, 'DELETE', `/api/${token.id}/crm/v8/Leads/1`, { headers: as }),
        httpCall(gw.url, 'GET', `/api/${other.id}/crm/v8/Leads`, { headers: as }),
      ]);
      for (const r of refusals) expect([r.status, r.json.error.code, r.headers['tokengate-error']]).toEqual([403, 'FORBIDDEN', 'FORBIDDEN']);
      // Useless for GraphQL.
      const gql = await gw.gql('{ tokens { nodes { id } } }', {}, credential);
      expect(gql.status).toBe(401);
      expect(gql.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
      expect((await api.requests()).map((q) => q.method)).toEqual(['GET', 'GET', 'HEAD']);
    });

    it('an expired, tampered or foreign-key credential is UNAUTHENTICATED', async () => {
      const token = await saveToken();
      const signer = new ProxyCredentials(credentialKey);
      const by = { role: 'operator' as const, name: 'operator-1' };
      const expired = signer.issue(
        { tokenId: token.id, ttlSeconds: 60, methods: ['GET'], pathPrefixes: ['/crm'], issuedBy: by },
        Date.now() - 61_000,
      ).credential;
      const foreign = new ProxyCredentials(randomBytes(32)).issue({
        tokenId: token.id,
        ttlSeconds: 60,
        methods: ['GET'],
        pathPrefixes: ['/crm'],
        issuedBy: by,
      }).credential;
      const valid = signer.issue({ tokenId: token.id, ttlSeconds: 60, methods: ['GET'], pathPrefixes: ['/crm'], issuedBy: by }).credential;
      const [h, p, s] = valid.split('.');
      const widened = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), mth: ['GET', 'DELETE'] })).toString('base64url');
      for (const [what, c] of [
        ['expired', expired],
        ['foreign', foreign],
        ['tampered', `${h}.${widened}.${s}`],
        ['garbage', 'abc.def.ghi'],
      ] as const) {
        const r = await httpCall(gw.url, 'GET', `/api/${token.id}/crm/v8/Leads`, { headers: bearer(c) });
        expect([what, r.status, r.json.error.code]).toEqual([what, 401, 'UNAUTHENTICATED']);
        if (what === 'expired') expect(r.json.error.message).toMatch(/expired/);
      }
      expect((await httpCall(gw.url, 'GET', `/api/${token.id}/crm/v8/Leads`, { headers: bearer(valid) })).status).toBe(200);
    });

    it("counts and logs its 401s with the gateway's other auth failures (rate-limited), never the key or credential", async () => {
      const token = await saveToken();
      const counted = async () => {
        const text = await (await fetch(`${gw.url}/metrics`)).text();
        const of = (reason: string) => Number(new RegExp(`^tokengate_auth_failures_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
        return { missing: of('missing'), unknown_key: of('unknown_key'), expired: of('expired') };
      };
      const before = await counted();
      const wrongKey = `wrong-key-${randomBytes(12).toString('hex')}`;
      const expired = new ProxyCredentials(credentialKey).issue(
        { tokenId: token.id, ttlSeconds: 60, methods: ['GET'], pathPrefixes: ['/crm'], issuedBy: { role: 'operator', name: 'operator-1' } },
        Date.now() - 61_000,
      ).credential;
      const badKey = await httpCall(gw.url, 'GET', `/api/${token.id}/crm/v8/Leads`, { headers: bearer(wrongKey) });
      const late = await httpCall(gw.url, 'GET', `/api/${token.id}/crm/v8/Leads`, { headers: bearer(expired) });
      const none = await httpCall(gw.url, 'GET', `/api/${token.id}/crm/v8/Leads`);
      for (const r of [badKey, late, none]) expect([r.status, r.json.error.code]).toEqual([401, 'UNAUTHENTICATED']);
      expect(await counted()).toEqual({ missing: before.missing + 1, unknown_key: before.unknown_key + 1, expired: before.expired + 1 });

      const lines = gw
        .logs()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const lineOf = (r: { headers: Record<string, unknown> }) =>
        lines.filter((l) => l.reqId === r.headers['x-request-id'] && l.msg === 'request refused: missing or wrong API key');
      const hash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12);
      expect(lineOf(badKey)).toEqual([
        expect.objectContaining({ level: 'warn', reason: 'unknown_key', route: 'api', keyHash: hash(wrongKey), remoteAddress: '127.0.0.1' }),
      ]);
      expect(lineOf(late)).toEqual([expect.objectContaining({ reason: 'expired', route: 'api', keyHash: hash(expired) })]);
      expect(lineOf(none)).toEqual([expect.objectContaining({ reason: 'missing', route: 'api' })]);
      expect(gw.logs()).not.toContain(wrongKey);
      expect(gw.logs()).not.toContain(expired.split('.')[2]!);
      expect(gw.logs()).not.toContain(expired.split('.')[1]!);
      expect(await api.requests()).toEqual([]);
    });

    it('issueProxyCredential is for operators, checks its input, and needs an existing token', async () => {
      const token = await saveToken();
      const asViewer = await gw.gql(ISSUE, { id: token.id, ttl: 60, m: ['GET'], p: ['/crm'] }, gw.keys.viewer);
      expect(asViewer.body.errors[0].extensions.code).toBe('FORBIDDEN');
      const bad = [
        { ttl: 0, m: ['GET'], p: ['/crm'] },
        { ttl: 3601, m: ['GET'], p: ['/crm'] },
        { ttl: 60, m: [], p: ['/crm'] },
        { ttl: 60, m: ['CONNECT'], p: ['/crm'] },
        { ttl: 60, m: ['GET'], p: [] },
        { ttl: 60, m: ['GET'], p: ['crm'] },
        { ttl: 60, m: ['GET'], p: ['/crm/../x'] },
      ];
      for (const v of bad) {
        const r = await gw.gql(ISSUE, { id: token.id, ...v }, gw.keys.operator);
        expect([v, r.body.errors?.[0]?.extensions?.code]).toEqual([v, 'BAD_USER_INPUT']);
      }
      const missing = await gw.gql(ISSUE, { id: 'nope', ttl: 60, m: ['GET'], p: ['/crm'] }, gw.keys.operator);
      expect(missing.body.errors[0].extensions.code).toBe('NOT_FOUND');
      const ok = await gw.gql(ISSUE, { id: token.id, ttl: 120, m: ['GET'], p: ['/crm'] }, gw.keys.operator);
      expect(Date.parse(ok.body.data.issueProxyCredential.expiresAt)).toBeGreaterThan(Date.now() + 100_000);
      expect(ok.body.data.issueProxyCredential.credential).not.toContain(token.accessToken);
    });
  });

  it('CORS for TOKENGATE_CORS_ORIGINS: a preflight is answered by the gateway, never forwarded', async () => {
    const token = await saveToken();
    const pre = await httpCall(gw.url, 'OPTIONS', `/api/${token.id}/crm/v8/Leads`, {
      headers: { origin: FRONTEND, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe(FRONTEND);
    expect(pre.headers['access-control-allow-headers']).toBe('authorization');
    expect(pre.headers['access-control-allow-methods']).toContain('GET');
    const stranger = await httpCall(gw.url, 'OPTIONS', `/api/${token.id}/crm/v8/Leads`, {
      headers: { origin: 'http://evil.test', 'access-control-request-method': 'GET' },
    });
    expect(stranger.headers['access-control-allow-origin']).toBeUndefined();
    const get = await httpCall(gw.url, 'GET', `/api/${token.id}/crm/v8/Leads`, { headers: { ...bearer(gw.keys.operator), origin: FRONTEND } });
    expect(get.headers['access-control-allow-origin']).toBe(FRONTEND);
    expect(get.headers['access-control-expose-headers']).toMatch(/x-ratelimit-remaining/i);
    expect((await api.requests()).map((q) => q.method)).toEqual(['GET']);
  });

  it('counts calls in metrics, audits them per token per minute with a count, and never logs a query value or a token', async () => {
    const token = await saveToken();
    const marker = `q${randomBytes(6).toString('hex')}`;
    for (let i = 0; i < 3; i++) {
      expect((await httpCall(gw.url, 'GET', `/api/${token.id}/crm/v8/Leads?criteria=${marker}`, { headers: bearer(gw.keys.operator) })).status).toBe(200);
    }
    await httpCall(gw.url, 'GET', `/api/${token.id}/crm/v8/Nope?criteria=${marker}`, { headers: bearer(gw.keys.operator) });
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/tokengate_proxy_requests_total\{status_class="2xx"\} \d+/);
    expect(metrics).toMatch(/tokengate_proxy_request_duration_seconds_count\{status_class="4xx"\} \d+/);
    gw.gateway.proxyAudit.flush();
    await gw.gateway.audit.flush();
    const log = await gw.gql(`query($t: ID) { auditLog(tokenId: $t) { nodes { action count detail actorName actorRole } } }`, { t: token.id }, gw.keys.admin);
    const entries = log.body.data.auditLog.nodes.filter((e: { action: string }) => e.action === 'PROXY');
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ count: 4, actorRole: 'operator', actorName: 'operator-1' });
    expect(entries[0].detail).toContain('2xx:3');
    expect(entries[0].detail).toContain('4xx:1');
    expect(JSON.stringify(log.body)).not.toContain(marker);
    expect(gw.logs()).not.toContain(marker);
    expect(gw.logs()).not.toContain(token.accessToken);
  });
});
