import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { startTestGateway, type StoreKind, type TestGateway } from '../support/gateway';

const FIELDS = `id status expiresAt lastRefreshedAt lastError hasAccessToken hasRefreshToken hasGrantToken accessToken refreshToken grantToken clientSecret updatedAt`;
const REFRESH = `mutation($id: ID!, $force: Boolean) { refresh(id: $id, force: $force) { ${FIELDS} } }`;
const BY_ID = `query($id: ID!) { tokenById(id: $id) { ${FIELDS} } }`;

/**
 * The `refresh` and `revokeToken` mutations against a fake Zoho Accounts
 * server (a real HTTP server on 127.0.0.1), through the API, on one store.
 */
export function refreshApiContract(store: StoreKind): void {
  describe(`refresh through the API (${store})`, () => {
    let accounts: FakeAccountsServer;
    let gw: TestGateway;
    const clientId = '1000.CLIENT';
    const clientSecret = 'client-secret-value';

    beforeAll(async () => {
      accounts = await startFakeAccountsServer();
      accounts.addClient(clientId, clientSecret);
      gw = await startTestGateway({
        store,
        env: {
          TOKENGATE_ACCOUNTS_URL: accounts.url,
          TOKENGATE_UPSTREAM_TIMEOUT_MS: '400',
          TOKENGATE_REFRESH_LEASE_SECONDS: '5',
        },
      });
    });
    afterAll(async () => {
      await gw?.close();
      await accounts?.close();
    });
    beforeEach(async () => {
      await gw.gateway.stores.tokens.deleteTokens();
      accounts.configure({ rotateRefreshTokens: false, delayMs: 0 });
      accounts.setFailure('none');
      accounts.resetRequests();
    });

    const saveRefreshable = async (extra: Record<string, unknown> = {}) => {
      const refreshToken = accounts.addRefreshToken(clientId);
      const r = await gw.gql(
        `mutation($t: TokenInput!) { saveToken(token: $t) { ${FIELDS} } }`,
        { t: { userName: `u${Math.random()}@x`, clientId, clientSecret, refreshToken, ...extra } },
        gw.keys.admin,
      );
      expect(r.body.errors).toBeUndefined();
      return { token: r.body.data.saveToken, refreshToken };
    };
    const read = async (id: string) => (await gw.gql(BY_ID, { id }, gw.keys.admin)).body.data.tokenById;

    it('gets a new access token and stores it', async () => {
      const { token } = await saveRefreshable();
      expect(token.status).toBe('EXPIRED');
      const before = Date.now();
      const r = await gw.gql(REFRESH, { id: token.id }, gw.keys.admin);
      expect(r.body.errors).toBeUndefined();
      const t = r.body.data.refresh;
      expect(t.status).toBe('ACTIVE');
      expect(accounts.issuedAccessTokens.at(-1)!.accessToken).toBe(t.accessToken);
      expect(Date.parse(t.expiresAt)).toBeGreaterThanOrEqual(before + 3600_000 - 1000);
      expect(Date.parse(t.lastRefreshedAt)).toBeGreaterThanOrEqual(before);
      expect(await read(token.id)).toMatchObject({ accessToken: t.accessToken, status: 'ACTIVE' });
    });

    it('100 concurrent refresh calls of one token: one upstream request, one access token for all', async () => {
      // A slow provider (2 s, under a 10 s timeout), so that all 100 requests have
      // arrived while the one refresh is in flight, even on a loaded machine.
      const slow = await startTestGateway({ store, env: { TOKENGATE_ACCOUNTS_URL: accounts.url, TOKENGATE_UPSTREAM_TIMEOUT_MS: '10000' } });
      try {
        accounts.configure({ delayMs: 2_000 });
        const t = await slow.gateway.stores.tokens.saveToken({ clientId, clientSecret, refreshToken: accounts.addRefreshToken(clientId) });
        const results = await Promise.all(
          Array.from({ length: 100 }, () => slow.gql(`mutation($id: ID!) { refresh(id: $id) { accessToken } }`, { id: t.id }, slow.keys.operator)),
        );
        for (const r of results) expect(r.body.errors).toBeUndefined();
        expect(accounts.count('refresh_token')).toBe(1);
        const tokens = new Set(results.map((r) => r.body.data?.refresh?.accessToken));
        expect(tokens).toEqual(new Set([accounts.issuedAccessTokens.at(-1)!.accessToken]));
      } finally {
        await slow.close();
      }
    });

    it('force: false leaves an ACTIVE token alone, refreshes one that is not', async () => {
      const { token } = await saveRefreshable({ accessToken: 'still-good', expiresIn: 3600 });
      const r = await gw.gql(REFRESH, { id: token.id, force: false }, gw.keys.operator);
      expect(r.body.data.refresh.accessToken).toBe('still-good');
      expect(accounts.count()).toBe(0);
      const forced = await gw.gql(REFRESH, { id: token.id }, gw.keys.operator);
      expect(forced.body.data.refresh.accessToken).not.toBe('still-good');
      expect(accounts.count()).toBe(1);
      const { token: expiring } = await saveRefreshable({ accessToken: 'almost-gone', expiresIn: 60 });
      const r2 = await gw.gql(REFRESH, { id: expiring.id, force: false }, gw.keys.operator);
      expect(r2.body.data.refresh.accessToken).not.toBe('almost-gone');
    });

    it('exchanges the grant token of a PENDING_GRANT token once, then refreshes with the refresh token it got', async () => {
      const code = accounts.issueGrantCode(clientId, { redirectUri: 'https://app.example.com/cb' });
      const saved = await gw.gql(
        `mutation($t: TokenInput!) { saveToken(token: $t) { ${FIELDS} } }`,
        { t: { clientId, clientSecret, grantToken: code, redirectUrl: 'https://app.example.com/cb' } },
        gw.keys.admin,
      );
      const id = saved.body.data.saveToken.id;
      expect(saved.body.data.saveToken.status).toBe('PENDING_GRANT');
      const r = await gw.gql(REFRESH, { id }, gw.keys.admin);
      expect(r.body.errors).toBeUndefined();
      expect(r.body.data.refresh).toMatchObject({ status: 'ACTIVE', hasGrantToken: false, hasRefreshToken: true, grantToken: null });
      expect(accounts.count('authorization_code')).toBe(1);
      const again = await gw.gql(REFRESH, { id }, gw.keys.admin);
      expect(again.body.errors).toBeUndefined();
      expect(accounts.count('authorization_code')).toBe(1);
      expect(accounts.count('refresh_token')).toBe(1);
    });

    it('stores a rotated refresh token in the same write as the access token', async () => {
      accounts.configure({ rotateRefreshTokens: true });
      const { token, refreshToken } = await saveRefreshable();
      const r = await gw.gql(REFRESH, { id: token.id }, gw.keys.admin);
      const t = r.body.data.refresh;
      expect(t.refreshToken).not.toBe(refreshToken);
      expect(accounts.isRefreshTokenValid(refreshToken)).toBe(false);
      expect(accounts.isRefreshTokenValid(t.refreshToken)).toBe(true);
      const next = await gw.gql(REFRESH, { id: token.id }, gw.keys.admin);
      expect(next.body.errors).toBeUndefined();
      expect(next.body.data.refresh.accessToken).not.toBe(t.accessToken);
    });

    it('a provider refusal: REFRESH_FAILED with oauthError, status FAILED, every stored value kept', async () => {
      const { token } = await saveRefreshable({ accessToken: 'old-access', expiresIn: 10 });
      const before = await read(token.id);
      accounts.setFailure('invalidCode');
      const r = await gw.gql(REFRESH, { id: token.id }, gw.keys.operator);
      expect(r.body.errors[0].extensions).toMatchObject({ code: 'REFRESH_FAILED', oauthError: 'invalid_code' });
      expect(accounts.count()).toBe(1); // a refusal is not retried
      const after = await read(token.id);
      expect(after).toMatchObject({
        status: 'FAILED',
        lastError: 'invalid_code',
        accessToken: before.accessToken,
        refreshToken: before.refreshToken,
        clientSecret: before.clientSecret,
        expiresAt: before.expiresAt,
      });
      // Saving new credentials re-authorizes it.
      const fresh = accounts.addRefreshToken(clientId);
      const saved = await gw.gql(
        `mutation($t: TokenInput!) { saveToken(token: $t) { status lastError } }`,
        { t: { id: token.id, refreshToken: fresh } },
        gw.keys.admin,
      );
      expect(saved.body.data.saveToken).toEqual({ status: 'EXPIRING', lastError: null });
    });

    it('a grant token saved on a FAILED token is exchanged by the next refresh: it replaces the dead refresh token', async () => {
      const { token } = await saveRefreshable({ accessToken: 'old-access', expiresIn: 10 });
      accounts.setFailure('invalidCode', 1);
      expect((await gw.gql(REFRESH, { id: token.id }, gw.keys.operator)).body.errors[0].extensions.code).toBe('REFRESH_FAILED');
      expect((await read(token.id)).status).toBe('FAILED');

      const code = accounts.issueGrantCode(clientId);
      const saved = await gw.gql(
        `mutation($t: TokenInput!) { saveToken(token: $t) { status lastError hasRefreshToken hasGrantToken } }`,
        { t: { id: token.id, grantToken: code, clientId, clientSecret } },
        gw.keys.admin,
      );
      // Its access token, still held, expires in 10 s: EXPIRING (no longer FAILED).
      expect(saved.body.data.saveToken).toEqual({ status: 'EXPIRING', lastError: null, hasRefreshToken: false, hasGrantToken: true });
      accounts.resetRequests();
      const r = await gw.gql(REFRESH, { id: token.id }, gw.keys.admin);
      expect(r.body.errors).toBeUndefined();
      expect(accounts.count('authorization_code')).toBe(1);
      expect(accounts.count('refresh_token')).toBe(0);
      const after = await read(token.id);
      expect(after.status).toBe('ACTIVE');
      expect(accounts.isRefreshTokenValid(after.refreshToken!)).toBe(true);
      // A grant saved together with a refresh token keeps the refresh token (the Zoho SDK saves both after an exchange).
      const both = await gw.gql(
        `mutation($t: TokenInput!) { saveToken(token: $t) { hasRefreshToken } }`,
        { t: { id: token.id, grantToken: accounts.issueGrantCode(clientId), refreshToken: after.refreshToken } },
        gw.keys.admin,
      );
      expect(both.body.data.saveToken.hasRefreshToken).toBe(true);
    });

    it('access_denied (the rate limit) is REFRESH_FAILED but does not mark the token FAILED', async () => {
      const { token } = await saveRefreshable();
      accounts.setFailure('accessDenied');
      const r = await gw.gql(REFRESH, { id: token.id }, gw.keys.operator);
      expect(r.body.errors[0].extensions).toMatchObject({ code: 'REFRESH_FAILED', oauthError: 'access_denied' });
      expect((await read(token.id)).status).toBe('EXPIRED');
    });

    it.each([
      ['http500', 3],
      ['notJson', 3],
      ['hang', 3],
    ] as const)('%s: UPSTREAM_UNAVAILABLE after bounded retries, the token unchanged', async (mode, attempts) => {
      const { token } = await saveRefreshable({ accessToken: 'keep-me', expiresIn: 30 });
      const before = await read(token.id);
      accounts.setFailure(mode);
      const started = Date.now();
      const r = await gw.gql(REFRESH, { id: token.id }, gw.keys.operator);
      expect(r.body.errors[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(accounts.count('refresh_token')).toBe(attempts);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(await read(token.id)).toEqual(before);
    });

    it('recovers from one transient failure by retrying', async () => {
      const { token } = await saveRefreshable();
      accounts.setFailure('http500', 1);
      const r = await gw.gql(REFRESH, { id: token.id }, gw.keys.admin);
      expect(r.body.errors).toBeUndefined();
      expect(accounts.count('refresh_token')).toBe(2);
    });

    it('NOT_FOUND for an unknown id; BAD_USER_INPUT for a token without credentials to refresh with', async () => {
      expect((await gw.gql(REFRESH, { id: 'nope' }, gw.keys.operator)).body.errors[0].extensions.code).toBe('NOT_FOUND');
      const t = await gw.gateway.stores.tokens.saveToken({ accessToken: 'only-access' });
      expect((await gw.gql(REFRESH, { id: t.id }, gw.keys.operator)).body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect(accounts.count()).toBe(0);
    });

    it('never posts a client secret to a host outside the allow-list', async () => {
      const evil = await startFakeAccountsServer();
      try {
        evil.addClient(clientId, clientSecret);
        // Written straight into the store, as a row from an import or an older configuration could be.
        const t = await gw.gateway.stores.tokens.saveToken({ clientId, clientSecret, refreshToken: evil.addRefreshToken(clientId), accountsUrl: evil.url });
        const r = await gw.gql(REFRESH, { id: t.id }, gw.keys.operator);
        expect(r.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
        expect(evil.count()).toBe(0);
        const saved = await gw.gql(
          `mutation($t: TokenInput!) { saveToken(token: $t) { id } }`,
          { t: { refreshToken: 'x', accountsUrl: evil.url } },
          gw.keys.operator,
        );
        expect(saved.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      } finally {
        await evil.close();
      }
    });

    it('revokeToken revokes at the provider, then deletes; keeps the token when the provider is down', async () => {
      const { token, refreshToken } = await saveRefreshable();
      accounts.setFailure('http500');
      const down = await gw.gql(`mutation($id: ID!) { revokeToken(id: $id) }`, { id: token.id }, gw.keys.operator);
      expect(down.body.errors[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(await read(token.id)).not.toBeNull();
      accounts.setFailure('none');
      const r = await gw.gql(`mutation($id: ID!) { revokeToken(id: $id) }`, { id: token.id }, gw.keys.operator);
      expect(r.body.data.revokeToken).toBe(true);
      expect(accounts.isRefreshTokenValid(refreshToken)).toBe(false);
      expect(await read(token.id)).toBeNull();
      expect((await gw.gql(`mutation { revokeToken(id: "gone") }`, {}, gw.keys.operator)).body.data.revokeToken).toBe(false);
    });

    it('the background task refreshes an expiring token, and never a FAILED one', async () => {
      const { token } = await saveRefreshable({ accessToken: 'a', expiresIn: 60 });
      const failed = await gw.gateway.stores.tokens.saveToken({
        clientId,
        clientSecret,
        refreshToken: accounts.addRefreshToken(clientId),
        failedAt: new Date(),
        lastError: 'invalid_code',
      });
      const { token: fine } = await saveRefreshable({ accessToken: 'b', expiresIn: 3600 });
      await gw.gateway.scheduler.runOnce();
      expect(accounts.count('refresh_token')).toBe(1);
      expect((await read(token.id)).status).toBe('ACTIVE');
      expect((await read(failed.id)).status).toBe('FAILED');
      expect((await read(fine.id)).accessToken).toBe('b');
    });

    it('logs each refresh with the token id and never a secret', async () => {
      const { token, refreshToken } = await saveRefreshable();
      const r = await gw.gql(REFRESH, { id: token.id }, gw.keys.admin);
      const logs = gw.logs();
      expect(logs).toContain(token.id);
      for (const secret of [refreshToken, clientSecret, r.body.data.refresh.accessToken]) expect(logs).not.toContain(secret);
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      expect(metrics).toMatch(/tokengate_refresh_total\{trigger="api",outcome="refreshed"\} \d+/);
      expect(metrics).toMatch(/tokengate_upstream_request_duration_seconds_count\{kind="refresh",outcome="ok"\} \d+/);
    });
  });
}
