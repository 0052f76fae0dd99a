import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { startTestGateway, type TestGateway } from '../support/gateway';

/**
 * What a caller sees when the governor says no, through the API: the held
 * token with `throttled: true` while it is valid long enough, else
 * `THROTTLED` with `retryAfter` and the status `THROTTLED`; Zoho's limits
 * changed with `saveProvider(name: "zoho", limits)`; `access_denied` closing
 * the window; the decisions in the metrics. No upstream request is sent
 * when the governor refuses.
 */
describe.each(['sqlite', 'memory'] as const)('the governor through the API (%s)', (store) => {
  let accounts: FakeAccountsServer;
  let gw: TestGateway;
  const clientId = '1000.GOVCLIENT';
  const clientSecret = 'gov-secret';
  const REFRESH = `mutation($id: ID!) { refresh(id: $id) { status accessToken throttled expiresAt } }`;

  beforeAll(async () => {
    accounts = await startFakeAccountsServer();
    accounts.addClient(clientId, clientSecret);
    gw = await startTestGateway({ store, env: { TOKENGATE_ACCOUNTS_URL: accounts.url } });
    const r = await gw.gql(
      `mutation { saveProvider(provider: { name: "zoho", tokenUrl: "https://ignored.example/token", limits: { accessTokensPerWindow: 2, windowSeconds: 3600 } }) { name tokenUrl limits { accessTokensPerWindow windowSeconds maxAliveAccessTokens accessTokenLifetimeSeconds } } }`,
      {},
      gw.keys.admin,
    );
    // Only the limits are taken; the others keep Zoho's defaults.
    expect(r.body.data.saveProvider).toEqual({
      name: 'zoho',
      tokenUrl: `${accounts.url}/oauth/v2/token`,
      limits: { accessTokensPerWindow: 2, windowSeconds: 3600, maxAliveAccessTokens: 15, accessTokenLifetimeSeconds: 3600 },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await accounts.close();
  });

  const saveToken = async () =>
    (
      await gw.gql(
        `mutation($t: TokenInput!) { saveToken(token: $t) { id } }`,
        { t: { clientId, clientSecret, refreshToken: accounts.addRefreshToken(clientId) } },
        gw.keys.operator,
      )
    ).body.data.saveToken.id as string;

  it('answers the held token with throttled: true once the window is spent, without an upstream request', async () => {
    const id = await saveToken();
    const first = await gw.gql(REFRESH, { id }, gw.keys.operator);
    const second = await gw.gql(REFRESH, { id }, gw.keys.operator);
    expect(second.body.data.refresh).toMatchObject({ status: 'ACTIVE', throttled: false });
    expect(second.body.data.refresh.accessToken).not.toBe(first.body.data.refresh.accessToken);
    const before = accounts.count('refresh_token');
    const third = await gw.gql(REFRESH, { id }, gw.keys.operator);
    expect(third.body.errors).toBeUndefined();
    expect(third.body.data.refresh).toEqual({ ...second.body.data.refresh, throttled: true });
    expect(accounts.count('refresh_token')).toBe(before);
    // Everywhere else throttled is false; an ACTIVE token is held back until no time.
    expect((await gw.gql(`{ tokenById(id: "${id}") { throttled status throttledUntil } }`, {}, gw.keys.viewer)).body.data.tokenById).toEqual({
      throttled: false,
      status: 'ACTIVE',
      throttledUntil: null,
    });
  });

  it('fails with THROTTLED and retryAfter when the held token is about to expire, and shows THROTTLED until then', async () => {
    const id = await saveToken();
    await gw.gql(REFRESH, { id }, gw.keys.operator);
    accounts.configure({ expiresIn: 2 });
    try {
      await gw.gql(REFRESH, { id }, gw.keys.operator);
    } finally {
      accounts.configure({ expiresIn: 3600 });
    }
    const before = accounts.count('refresh_token');
    const sent = Date.now();
    const r = await gw.gql(REFRESH, { id }, gw.keys.operator);
    const answered = Date.now();
    expect(r.body.data).toBeNull();
    expect(r.body.errors[0].extensions.code).toBe('THROTTLED');
    // The window of an hour opens again when the first of the two mints leaves it.
    expect(r.body.errors[0].extensions.retryAfter).toBeGreaterThan(3590);
    expect(r.body.errors[0].extensions.retryAfter).toBeLessThanOrEqual(3600);
    expect(accounts.count('refresh_token')).toBe(before);
    const shown = (await gw.gql(`{ tokenById(id: "${id}") { status lastError throttledUntil } }`, {}, gw.keys.viewer)).body.data.tokenById;
    expect(shown).toEqual({ status: 'THROTTLED', lastError: null, throttledUntil: expect.any(String) });
    // Until when: the time retryAfter counted to (in whole seconds, rounded up) from the refusal.
    const until = Date.parse(shown.throttledUntil);
    const { retryAfter } = r.body.errors[0].extensions;
    expect(until).toBeGreaterThan(sent + (retryAfter - 1) * 1000);
    expect(until).toBeLessThanOrEqual(answered + retryAfter * 1000);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/tokengate_governor_decisions_total\{provider="zoho",decision="throttled"\} [1-9]/);
    expect(metrics).toMatch(/tokengate_governor_decisions_total\{provider="zoho",decision="held"\} [1-9]/);
    expect(metrics).toMatch(/tokengate_governor_decisions_total\{provider="zoho",decision="allowed"\} [1-9]/);
  });

  it('access_denied closes the window: no further request until it ends', async () => {
    const id = await saveToken();
    accounts.setFailure('accessDenied', 1);
    const denied = await gw.gql(REFRESH, { id }, gw.keys.operator);
    expect(denied.body.errors[0].extensions).toMatchObject({ code: 'REFRESH_FAILED', oauthError: 'access_denied' });
    const before = accounts.count();
    const again = await gw.gql(REFRESH, { id }, gw.keys.operator);
    expect(again.body.errors[0].extensions.code).toBe('THROTTLED');
    expect(again.body.errors[0].extensions.retryAfter).toBeGreaterThan(3590);
    expect(accounts.count()).toBe(before);
    expect(await fetch(`${gw.url}/metrics`).then((m) => m.text())).toMatch(/tokengate_governor_decisions_total\{provider="zoho",decision="blocked"\} 1/);
  });
});
