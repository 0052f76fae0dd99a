/**
 * `@tokengate/client` (through `tokengate/client`) against a running gateway (SQLite) and a fake Zoho
 * Accounts server: every method, typed results, and errors carrying the API's
 * `extensions.code` — never the API key.
 */
import { isTokengateError, TokengateClient, TokengateError } from '../../src/client';
import { consent, hop } from '../support/connect-flow';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { freePort } from '../support/process-gateway';

let gw: TestGateway;
let accounts: FakeAccountsServer;
let admin: TokengateClient;
let operator: TokengateClient;

beforeAll(async () => {
  accounts = await startFakeAccountsServer();
  // A public URL (the connect flow's callback) on the port the gateway listens on.
  const port = await freePort();
  gw = await startTestGateway({ store: 'sqlite', port, env: { TOKENGATE_ACCOUNTS_URL: accounts.url, TOKENGATE_PUBLIC_URL: `http://127.0.0.1:${port}` } });
  admin = new TokengateClient({ url: gw.url, apiKey: gw.keys.admin, secrets: 'all' });
  operator = new TokengateClient({ url: `${gw.url}/graphql`, apiKey: gw.keys.operator });
});
afterAll(async () => {
  await gw?.close();
  await accounts?.close();
});

async function caught(p: Promise<unknown>): Promise<TokengateError> {
  const err = await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TokengateError);
  return err as TokengateError;
}

describe('TokengateClient', () => {
  it('saves, gets (by id and by match), lists, refreshes and deletes, with typed results', async () => {
    accounts.addClient('1000.CLIENT', 'client-secret');
    const refreshToken = accounts.addRefreshToken('1000.CLIENT');
    const saved = await operator.saveToken({
      id: 'c1',
      userName: 'c1@example.com',
      clientId: '1000.CLIENT',
      clientSecret: 'client-secret',
      refreshToken,
      expiresAt: new Date(Date.now() - 1000),
    });
    expect(saved).toMatchObject({ id: 'c1', userName: 'c1@example.com', status: 'EXPIRED', hasRefreshToken: true, accessToken: null });
    expect(saved).toMatchObject({ provider: 'zoho', client: null, throttled: false, throttledUntil: null });
    // Zoho's limits: 10 access tokens per 10 minutes, none minted yet.
    expect(saved.budget).toEqual({ accessTokensLeft: 10, accessTokensPerWindow: 10, windowSeconds: 600, resetsAt: null, nextAt: null });
    expect(saved.createdAt).toBeInstanceOf(Date);
    expect(saved.expiresAt).toBeInstanceOf(Date);
    expect('refreshToken' in saved).toBe(false); // an operator client asks for the access token only

    expect((await operator.getToken('c1'))!.id).toBe('c1');
    expect((await operator.getToken({ userName: 'c1@example.com' }))!.id).toBe('c1');
    expect(await operator.getToken('nope')).toBeNull();
    expect((await admin.getToken('c1'))!.refreshToken).toBe(refreshToken);

    const refreshed = await operator.refresh('c1', { force: false });
    expect(refreshed.status).toBe('ACTIVE');
    expect(refreshed.accessToken).toBe(accounts.issuedAccessTokens.at(-1)!.accessToken);
    // One mint counted: it leaves the window 10 minutes after it was made.
    expect(refreshed.budget).toMatchObject({ accessTokensLeft: 9, nextAt: null });
    expect(refreshed.budget!.resetsAt).toBeInstanceOf(Date);
    expect(refreshed.budget!.resetsAt!.getTime() - refreshed.lastRefreshedAt!.getTime()).toBeGreaterThanOrEqual(599_000);
    expect(refreshed.budget!.resetsAt!.getTime() - Date.now()).toBeLessThanOrEqual(600_000);
    // Still valid: getAccessToken does not refresh again.
    const before = accounts.count('refresh_token');
    expect(await operator.getAccessToken('c1')).toBe(refreshed.accessToken);
    expect(accounts.count('refresh_token')).toBe(before);
    // force (the default) does.
    expect((await operator.refresh('c1')).accessToken).not.toBe(refreshed.accessToken);

    await operator.saveToken({ id: 'c2', refreshToken: 'other-refresh', expiresIn: 3600, accessToken: 'x-access' });
    const page = await operator.listTokens({ first: 1 });
    expect(page).toMatchObject({ totalCount: 2, hasNextPage: true });
    expect(page.nodes.map((t) => t.id)).toEqual(['c1']);
    const all: string[] = [];
    for await (const t of operator.allTokens(1)) all.push(t.id);
    expect(all).toEqual(['c1', 'c2']);

    expect(await operator.deleteToken('c2')).toBe(true);
    expect(await operator.deleteToken('c2')).toBe(false);
  });

  it('revokes at the provider, then deletes', async () => {
    accounts.addClient('1000.REVOKE', 'rs');
    const rt = accounts.addRefreshToken('1000.REVOKE');
    await operator.saveToken({ id: 'r1', clientId: '1000.REVOKE', clientSecret: 'rs', refreshToken: rt });
    expect(await operator.revokeToken('r1')).toBe(true);
    expect(accounts.isRefreshTokenValid(rt)).toBe(false);
    expect(await operator.getToken('r1')).toBeNull();
    expect(await operator.revokeToken('r1')).toBe(false);
  });

  it('deleteTokens needs an admin key: FORBIDDEN for an operator', async () => {
    const err = await caught(operator.deleteTokens());
    expect(err.code).toBe('FORBIDDEN');
    expect(isTokengateError(err, 'FORBIDDEN')).toBe(true);
    await operator.saveToken({ id: 'd1', refreshToken: 'd1-r' });
    expect(await admin.deleteTokens()).toBeGreaterThanOrEqual(1);
    expect(await admin.getToken('d1')).toBeNull();
  });

  it('a viewer reads with secrets: "none"; asking it for secrets is FORBIDDEN', async () => {
    await operator.saveToken({ id: 'v1', refreshToken: 'v1-r', accessToken: 'v1-a', expiresIn: 3600 });
    const viewer = new TokengateClient({ url: gw.url, apiKey: gw.keys.viewer, secrets: 'none' });
    expect((await viewer.getToken('v1'))!).toMatchObject({ id: 'v1', hasAccessToken: true });
    const err = await caught(new TokengateClient({ url: gw.url, apiKey: gw.keys.viewer }).getToken('v1'));
    expect(err.code).toBe('FORBIDDEN');
    expect(err.errors[0]!.path).toEqual(['tokenById', 'accessToken']);
  });

  it('maps the API errors to their codes: NOT_FOUND, BAD_USER_INPUT, REFRESH_FAILED with oauthError', async () => {
    expect((await caught(operator.refresh('missing'))).code).toBe('NOT_FOUND');
    expect((await caught(operator.getToken({ clientId: 'only' }))).code).toBe('BAD_USER_INPUT');
    expect((await caught(operator.saveToken({ refreshToken: 'x', expiresAt: new Date(), expiresIn: 5 }))).code).toBe('BAD_USER_INPUT');

    accounts.addClient('1000.FAIL', 'fs');
    await operator.saveToken({ id: 'f1', clientId: '1000.FAIL', clientSecret: 'fs', refreshToken: 'unknown-to-the-provider' });
    const err = await caught(operator.refresh('f1'));
    expect(err).toMatchObject({ code: 'REFRESH_FAILED', oauthError: 'invalid_code', status: 200 });
    expect(err.requestId).toEqual(expect.any(String));
    expect((await operator.getToken('f1'))!.status).toBe('FAILED');
  });

  it("THROTTLED carries retryAfter, from the error's extensions.retryAfter", async () => {
    accounts.addClient('1000.THROTTLE', 'ts');
    await operator.saveToken({ id: 't1', clientId: '1000.THROTTLE', clientSecret: 'ts', refreshToken: accounts.addRefreshToken('1000.THROTTLE') });
    // Zoho's rate limit answer closes the token's window (Zoho's 10 minutes); no valid access token is held.
    accounts.setFailure('accessDenied', 1);
    expect(await caught(operator.refresh('t1'))).toMatchObject({ code: 'REFRESH_FAILED', oauthError: 'access_denied', retryAfter: undefined });
    const err = await caught(operator.refresh('t1'));
    expect(err.code).toBe('THROTTLED');
    expect(isTokengateError(err, 'THROTTLED')).toBe(true);
    expect(err.retryAfter).toBeGreaterThan(590);
    expect(err.retryAfter).toBeLessThanOrEqual(600);
    expect(Number.isInteger(err.retryAfter)).toBe(true);
    const throttled = (await operator.getToken('t1'))!;
    expect(throttled.status).toBe('THROTTLED');
    // Until when: the end of the window the provider closed, as retryAfter counts it.
    expect(throttled.throttledUntil).toBeInstanceOf(Date);
    const untilMs = throttled.throttledUntil!.getTime() - Date.now();
    expect(untilMs).toBeGreaterThan(580_000);
    expect(untilMs).toBeLessThanOrEqual(600_000);
    expect(throttled.throttled).toBe(false);
    expect(throttled.budget).toMatchObject({ accessTokensLeft: 0, accessTokensPerWindow: 10, windowSeconds: 600 });
    expect(throttled.budget!.nextAt).toBeInstanceOf(Date);
    expect(throttled.budget!.nextAt!.getTime()).toBeGreaterThanOrEqual(throttled.throttledUntil!.getTime());
  });

  it('a forced refresh the governor will not send answers the held access token with throttled: true, the budget at 0', async () => {
    accounts.addClient('1000.WINDOW', 'ws');
    await operator.saveToken({ id: 'w1', clientId: '1000.WINDOW', clientSecret: 'ws', refreshToken: accounts.addRefreshToken('1000.WINDOW') });
    let last = await operator.refresh('w1');
    for (let i = 1; i < 10; i++) last = await operator.refresh('w1'); // Zoho's 10 access tokens of the window
    expect(last).toMatchObject({ status: 'ACTIVE', throttled: false, budget: { accessTokensLeft: 0 } });
    const sent = accounts.count('refresh_token');
    const held = await operator.refresh('w1');
    expect(accounts.count('refresh_token')).toBe(sent); // not sent
    expect(held).toMatchObject({ throttled: true, accessToken: last.accessToken, status: 'ACTIVE', throttledUntil: null });
    expect(held.budget).toMatchObject({ accessTokensLeft: 0, accessTokensPerWindow: 10 });
    expect(held.budget!.nextAt).toBeInstanceOf(Date);
    expect(held.budget!.nextAt!.getTime()).toBeGreaterThan(Date.now());
    // throttled is a property of that refresh answer only.
    expect((await operator.getToken('w1'))!.throttled).toBe(false);
  });

  it("provider: saveToken's provider names a registered one, fixed on the first save; a generic provider without limits has no budget", async () => {
    await admin.request(`mutation { saveProvider(provider: { name: "acme", tokenUrl: "${accounts.url}/acme/token" }) { name } }`);
    const acme = await operator.saveToken({ id: 'p1', provider: 'acme', userName: 'p1@example.com', refreshToken: 'p1-refresh' });
    expect(acme).toMatchObject({ id: 'p1', provider: 'acme', client: null, budget: null });
    expect((await operator.getToken('p1'))!.provider).toBe('acme');
    // Left out, the provider is kept.
    expect((await operator.saveToken({ id: 'p1', apiDomain: 'https://api.acme.example' })).provider).toBe('acme');
    expect((await caught(operator.saveToken({ id: 'p1', provider: 'zoho' }))).code).toBe('BAD_USER_INPUT');
    expect((await caught(operator.saveToken({ id: 'p2', provider: 'no-such-provider', refreshToken: 'x' }))).code).toBe('BAD_USER_INPUT');
    expect(await operator.getToken('p2')).toBeNull();
    expect(await operator.deleteToken('p1')).toBe(true);
  });

  it('client: a token connected through a named OAuth client carries its name', async () => {
    accounts.addClient('1000.CONNECT', 'connect-secret');
    await admin.saveClient({ name: 'crm', clientId: '1000.CONNECT', clientSecret: 'connect-secret', scopes: ['ZohoCRM.modules.ALL'] });
    const { authorizationUrl } = await operator.startConnect({ client: 'crm', userName: 'connected@example.com' });
    // The person consents; the provider sends the browser to the callback, which stores the token (a page: no returnTo).
    expect((await hop((await consent(authorizationUrl)).toString())).status).toBe(200);
    const connected = (await operator.getToken({ userName: 'connected@example.com' }))!;
    expect(connected).toMatchObject({ client: 'crm', provider: 'zoho', clientId: '1000.CONNECT', status: 'ACTIVE', throttled: false, throttledUntil: null });
    expect(connected.accessToken).toBe(accounts.issuedAccessTokens.at(-1)!.accessToken);
    // The grant exchange minted its first access token: one of the window's 10.
    expect(connected.budget).toMatchObject({ accessTokensLeft: 9, accessTokensPerWindow: 10 });
    // Saved without a client: null.
    expect((await operator.saveToken({ id: 'nc', refreshToken: 'nc-refresh' })).client).toBeNull();
  });

  it('UNAUTHENTICATED for a wrong key, and no error message ever holds the key', async () => {
    const key = 'wrong-key-0123456789abcdef';
    const err = await caught(new TokengateClient({ url: gw.url, apiKey: key }).getToken('c1'));
    expect(err).toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
    expect(`${err.message} ${JSON.stringify(err.errors)} ${String(err.stack)}`).not.toContain(key);
  });

  it('NETWORK_ERROR when nothing listens, TIMEOUT when the gateway does not answer, BAD_RESPONSE for a body that is not the API', async () => {
    const key = gw.keys.operator;
    const port = await freePort();
    const down = await caught(new TokengateClient({ url: `http://127.0.0.1:${port}`, apiKey: key }).getToken('x'));
    expect(down.code).toBe('NETWORK_ERROR');
    expect(down.message).toBe(`cannot reach tokengate at http://127.0.0.1:${port}/graphql (ECONNREFUSED)`);
    expect(down.message).not.toContain(key);

    const slow = await caught(
      new TokengateClient({
        url: gw.url,
        apiKey: key,
        timeoutMs: 50,
        fetch: (async (_u: unknown, init?: RequestInit) => {
          await new Promise((_, reject) => init!.signal!.addEventListener('abort', () => reject(init!.signal!.reason)));
          throw new Error('unreachable');
        }) as typeof fetch,
      }).getToken('x'),
    );
    expect(slow.code).toBe('TIMEOUT');

    const html = await caught(
      new TokengateClient({
        url: gw.url,
        apiKey: key,
        fetch: (async () => new Response('<html>proxy error</html>', { status: 502 })) as typeof fetch,
      }).getToken('x'),
    );
    expect(html).toMatchObject({ code: 'BAD_RESPONSE', status: 502 });
  });

  it('calls fetch as a plain function, never as a method (a browser fetch called on another object throws "Illegal invocation")', async () => {
    const receivers: unknown[] = [];
    // Behaves as a browser's fetch does: any receiver but none or the global object is refused.
    const strictFetch = function (this: unknown, input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
      receivers.push(this);
      if (this !== undefined && this !== globalThis) return Promise.reject(new TypeError("Failed to execute 'fetch' on 'Window': Illegal invocation"));
      return fetch(input, init);
    };
    const tg = new TokengateClient({ url: gw.url, apiKey: gw.keys.operator, fetch: strictFetch as typeof fetch });
    expect(await tg.getToken('no-such-token')).toBeNull();
    expect(receivers).toEqual([undefined]);
  });

  it('refuses a malformed URL or key up front', () => {
    expect(() => new TokengateClient({ url: 'localhost:4000', apiKey: 'k'.repeat(20) })).toThrow(/absolute http\(s\) URL/);
    expect(() => new TokengateClient({ url: 'http://127.0.0.1:4000', apiKey: '' })).toThrow(/apiKey/);
    expect(new TokengateClient({ url: 'http://127.0.0.1:4000/', apiKey: 'k' }).endpoint).toBe('http://127.0.0.1:4000/graphql');
  });
});
