import { createLogger } from '../../src/logger';
import { AccountsClient } from '../../src/oauth/accounts-client';
import { AccountsUrlPolicy } from '../../src/oauth/accounts-url-policy';
import { isThrottledAnswer, RefreshEngine } from '../../src/oauth/refresh-engine';
import { ProviderRegistry } from '../../src/providers/provider-registry';
import { apiErrorOf } from '../../src/server/error-format';
import { Metrics } from '../../src/server/metrics';
import { TokenService } from '../../src/services/token.service';
import { memoryStores } from '../../src/stores/memory/memory-stores';
import type { Stores } from '../../src/stores/stores';
import type { TokenInput } from '../../src/stores/token';
import type { TokenStore } from '../../src/stores/token-store';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { AdvancingClock } from '../support/test-clocks';

/**
 * The refresh engine on its own, over the memory store: which store calls a
 * refresh makes before its upstream call, and the answers it gives around the
 * refresh lease (another process is played by a second lease owner).
 * The upstream is the real AccountsClient talking to the fake Accounts server
 * (a real HTTP server on 127.0.0.1); the store is only observed, never stubbed.
 * The engine's clock is the test's: a waiter's sleeps are seen, and ended at once.
 */
/** A time `s` seconds from now. */
const inSeconds = (s: number) => new Date(Date.now() + s * 1000);

/** The API error a failed call becomes (code, message, extensions), as the server maps it. */
const apiError = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => apiErrorOf(e),
  );

describe('RefreshEngine', () => {
  const LEASE_MS = 2_000;
  const CLIENT_ID = '1000.ENGINECLIENT';
  const CLIENT_SECRET = 'engine-client-secret-0123456789';
  let accounts: FakeAccountsServer;
  let stores: Stores;
  let store: TokenStore;
  /** Store calls, in order; a request the Accounts server receives is recorded as 'UPSTREAM' when it arrives there. */
  let calls: string[] = [];
  let metrics: Metrics;
  let engine: RefreshEngine;
  let clock: AdvancingClock;
  let policy: AccountsUrlPolicy;
  let providers: ProviderRegistry;

  beforeAll(async () => {
    accounts = await startFakeAccountsServer({ onRequest: () => calls.push('UPSTREAM') });
    accounts.addClient(CLIENT_ID, CLIENT_SECRET);
  });
  afterAll(async () => {
    await accounts.close();
  });

  const recording = <T extends object>(inner: T): T =>
    new Proxy(inner, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls.push(String(prop));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });

  /** How many access tokens the Accounts server had issued when the test began. */
  let issuedBefore = 0;
  /** The access tokens the Accounts server issued in this test, in order, with the refresh token each was issued for. */
  const issued = () => accounts.issuedAccessTokens.slice(issuedBefore).map(({ accessToken, refreshToken }) => ({ accessToken, refreshToken }));
  const outcomes = async () => {
    const values = (await metrics.refreshes.get()).values;
    return Object.fromEntries(values.map((v) => [v.labels.outcome, v.value]));
  };
  const beforeUpstream = () => calls.slice(0, calls.indexOf('UPSTREAM'));
  /** A token whose client and refresh token the Accounts server knows: a refresh of it succeeds. */
  const refreshable = (extra: TokenInput = {}) =>
    store.saveToken({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: accounts.addRefreshToken(CLIENT_ID), ...extra });
  /** Resolves once the engine, having taken its arrival read while another process holds the lease, waits to read again. */
  const arrived = async () => {
    await clock.sleeping(1);
    expect(calls).toContain('findTokenById');
  };
  /** Ends the engine's wait now: it reads the token again (or takes the lease) at once. */
  const wakeUp = () => clock.advance(250);
  /** Whether the lease is free: another owner can take it (and then gives it back). */
  const leaseIsFree = async (id: string) => {
    const free = await stores.leases.acquireLease(id, 'probe', LEASE_MS);
    if (free) await stores.leases.releaseLease(id, 'probe');
    return free;
  };

  beforeEach(() => {
    stores = memoryStores();
    store = stores.tokens;
    calls = [];
    accounts.setFailure('none');
    accounts.resetRequests();
    issuedBefore = accounts.issuedAccessTokens.length;
    metrics = new Metrics({ defaultMetrics: false });
    clock = new AdvancingClock();
    // As the gateway builds them; the tokens name no accounts URL, so they are refreshed at the default: the fake server.
    policy = new AccountsUrlPolicy({ defaultAccountsUrl: accounts.url, allowed: [] });
    providers = new ProviderRegistry({ store: stores.providers, policy });
    engine = new RefreshEngine({
      tokens: recording(store),
      leases: recording(stores.leases),
      audit: stores.audit,
      // One attempt: every request the engine makes shows as one 'UPSTREAM'.
      client: new AccountsClient({ policy, timeoutMs: 5_000, maxAttempts: 1 }),
      policy,
      providers,
      logger: createLogger('silent'),
      onOutcome: (e) => metrics.refreshes.inc(e),
      refreshAheadMs: 300_000,
      leaseMs: LEASE_MS,
      pollMs: 5,
      clock,
    });
  });

  it('force: the lease, then one read under it: 2 store round trips before the upstream call', async () => {
    const t = await refreshable({ accessToken: 'still-good', expiresAt: inSeconds(3600) });
    const r = await engine.refresh(t.id);
    expect(issued()).toEqual([{ accessToken: r.accessToken, refreshToken: t.refreshToken }]);
    expect(beforeUpstream()).toEqual(['acquireLease', 'findTokenById']);
    expect(calls.at(-1)).toBe('releaseLease');
    expect(await leaseIsFree(t.id)).toBe(true);
    expect(await outcomes()).toEqual({ refreshed: 1 });
  });

  describe('refused (the API proxy after INVALID_OAUTHTOKEN)', () => {
    it('refreshes a token still holding the refused access token, though it is ACTIVE', async () => {
      const t = await refreshable({ accessToken: 'refused-one', expiresAt: inSeconds(3600) });
      const r = await engine.refresh(t.id, { refused: 'refused-one', trigger: 'proxy' });
      expect(issued()).toEqual([{ accessToken: r.accessToken, refreshToken: t.refreshToken }]);
      expect(r.accessToken).not.toBe('refused-one');
    });

    it('a stored token already holding another valid access token answers, without an upstream call', async () => {
      const t = await refreshable({ accessToken: 'newer-one', expiresAt: inSeconds(3600), lastRefreshedAt: new Date() });
      const r = await engine.refresh(t.id, { refused: 'refused-one', trigger: 'proxy' });
      expect(r.accessToken).toBe('newer-one');
      expect(accounts.count()).toBe(0);
    });

    it('joining a flight that answers the refused token is not enough: a real refresh follows', async () => {
      const t = await refreshable({ accessToken: 'refused-one', expiresAt: inSeconds(3600) });
      // A force: false flight (it reads the ACTIVE token and answers it) is in flight when the refusal comes.
      const plain = engine.refresh(t.id, { force: false });
      const fresh = engine.refresh(t.id, { refused: 'refused-one', trigger: 'proxy' });
      expect((await plain).accessToken).toBe('refused-one');
      const r = await fresh;
      expect(r.accessToken).not.toBe('refused-one');
      expect(issued()).toEqual([{ accessToken: r.accessToken, refreshToken: t.refreshToken }]);
    });

    it('concurrent callers with the same refused token share one refresh', async () => {
      const t = await refreshable({ accessToken: 'refused-one', expiresAt: inSeconds(3600) });
      const results = await Promise.all(Array.from({ length: 20 }, () => engine.refresh(t.id, { refused: 'refused-one', trigger: 'proxy' })));
      expect(new Set(results.map((r) => r.accessToken))).toEqual(new Set([issued()[0]!.accessToken]));
      expect(issued()).toHaveLength(1);
    });
  });

  it("governs with the Zoho limits the registry holds (saveProvider's override), and the budget reports them", async () => {
    await providers.save({ name: 'zoho', limits: { accessTokensPerWindow: 2, windowSeconds: 3600 } });
    // Its accounts URL fixed, as the gateway's first save does (else the API domain of the first answer would choose one).
    const t = await refreshable({ accountsUrl: accounts.url });
    const first = await engine.refresh(t.id);
    // Each caller arrives after the refresh before it (else that refresh answers it: coalesced).
    const second = await engine.refresh(t.id, { arrivedAt: new Date(first.lastRefreshedAt!.getTime() + 1) });
    expect(issued()).toHaveLength(2);
    // The window of 2 is spent: the held token (valid for an hour) answers, and nothing is sent.
    const third = await engine.refresh(t.id, { arrivedAt: new Date(second.lastRefreshedAt!.getTime() + 1) });
    expect(isThrottledAnswer(third)).toBe(true);
    expect(third.accessToken).toBe(second.accessToken);
    expect(issued()).toHaveLength(2);
    expect(await outcomes()).toEqual({ refreshed: 2, throttled: 1 });
    const service = new TokenService(stores.tokens, stores.browse, policy, engine, 300_000, undefined, providers);
    expect((await service.budgets([t])).get(t.id)).toMatchObject({ left: 0, perWindow: 2, windowSeconds: 3600 });
  });

  it('force: false on an ACTIVE token: one read, no lease taken', async () => {
    const t = await refreshable({ accessToken: 'still-good', expiresAt: inSeconds(3600) });
    const r = await engine.refresh(t.id, { force: false, trigger: 'background', waitForLease: false });
    expect(r.accessToken).toBe('still-good');
    expect(calls).toEqual(['findTokenById']);
    expect(accounts.count()).toBe(0);
    expect(await outcomes()).toEqual({ not_needed: 1 });
  });

  it('force: false on a token that needs a refresh: read, lease, re-read under it', async () => {
    const t = await refreshable({ accessToken: 'almost-gone', expiresAt: inSeconds(60) });
    const r = await engine.refresh(t.id, { force: false });
    expect(issued()).toEqual([{ accessToken: r.accessToken, refreshToken: t.refreshToken }]);
    expect(beforeUpstream()).toEqual(['findTokenById', 'acquireLease', 'findTokenById']);
    expect(await leaseIsFree(t.id)).toBe(true);
  });

  it('NOT_FOUND for an unknown id, with and without force', async () => {
    expect(await apiError(engine.refresh('nope'))).toMatchObject({ code: 'NOT_FOUND' });
    expect(await apiError(engine.refresh('nope', { force: false }))).toMatchObject({ code: 'NOT_FOUND' });
    expect(calls).not.toContain('UPSTREAM');
    expect(accounts.count()).toBe(0);
  });

  it('BAD_USER_INPUT for a token without credentials, and the lease is given back', async () => {
    const t = await store.saveToken({ accessToken: 'only-access' });
    expect(await apiError(engine.refresh(t.id))).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(calls).toEqual(['acquireLease', 'findTokenById', 'releaseLease']);
    expect(await leaseIsFree(t.id)).toBe(true);
    const noSecret = await store.saveToken({ refreshToken: 'r-without-client' });
    expect(await apiError(engine.refresh(noSecret.id))).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await leaseIsFree(noSecret.id)).toBe(true);
    expect(accounts.count()).toBe(0);
  });

  it('BAD_USER_INPUT at once, without waiting, while another process holds the lease', async () => {
    const t = await store.saveToken({ accessToken: 'only-access' });
    expect(await stores.leases.acquireLease(t.id, 'other-process', LEASE_MS)).toBe(true);
    expect(await apiError(engine.refresh(t.id))).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(clock.sleeps).toEqual([]); // never waited for the lease
  });

  it('a refresh completed after the caller arrived answers it (coalesced), on the one read under the lease', async () => {
    const arrivedAt = new Date(Date.now() - 1_000);
    const t = await refreshable({ accessToken: 'fresh', expiresAt: inSeconds(3600), lastRefreshedAt: new Date(Date.now() - 500) });
    const r = await engine.refresh(t.id, { arrivedAt });
    expect(r.accessToken).toBe('fresh');
    expect(accounts.count()).toBe(0);
    expect(await leaseIsFree(t.id)).toBe(true);
    expect(await outcomes()).toEqual({ coalesced: 1 });
    // One that completed before the caller arrived does not.
    const again = await engine.refresh(t.id);
    expect(issued()).toEqual([{ accessToken: again.accessToken, refreshToken: t.refreshToken }]);
  });

  it('a refresh that failed for good after the caller arrived answers it; one before it does not', async () => {
    const arrivedAt = new Date(Date.now() - 1_000);
    const t = await refreshable({ failedAt: new Date(Date.now() - 500), lastError: 'invalid_code' });
    expect(await apiError(engine.refresh(t.id, { arrivedAt }))).toMatchObject({ code: 'REFRESH_FAILED', extensions: { oauthError: 'invalid_code' } });
    expect(accounts.count()).toBe(0);
    expect(await leaseIsFree(t.id)).toBe(true);
    // An explicit refresh of a token that failed before the caller arrived asks the provider again.
    const r = await engine.refresh(t.id);
    expect(issued()).toEqual([{ accessToken: r.accessToken, refreshToken: t.refreshToken }]);
  });

  it('another process holds the lease: waits, and is answered by its refresh', async () => {
    const t = await refreshable({ accessToken: 'old', expiresAt: inSeconds(30) });
    expect(await stores.leases.acquireLease(t.id, 'other-process', LEASE_MS)).toBe(true);
    const waiting = engine.refresh(t.id);
    await arrived();
    await store.saveToken({ id: t.id, accessToken: 'from-the-other-process', expiresAt: inSeconds(3600), lastRefreshedAt: new Date() });
    wakeUp();
    const r = await waiting;
    expect(r.accessToken).toBe('from-the-other-process');
    expect(accounts.count()).toBe(0);
    await stores.leases.releaseLease(t.id, 'other-process');
  });

  it('another process holds the lease and releases it after its refresh: answered under the lease, no second upstream call', async () => {
    // The other process's refresh is stamped before this caller "arrived" (clocks of two
    // machines may disagree): only the change against the first read shows it.
    const t = await refreshable({ accessToken: 'old', expiresAt: inSeconds(30), lastRefreshedAt: new Date(Date.now() - 60_000) });
    expect(await stores.leases.acquireLease(t.id, 'other-process', LEASE_MS)).toBe(true);
    const waiting = engine.refresh(t.id, { arrivedAt: new Date(Date.now() + 10_000) });
    await arrived();
    await store.saveToken({ id: t.id, accessToken: 'from-the-other-process', expiresAt: inSeconds(3600), lastRefreshedAt: new Date() });
    await stores.leases.releaseLease(t.id, 'other-process');
    wakeUp();
    const r = await waiting;
    expect(r.accessToken).toBe('from-the-other-process');
    expect(accounts.count()).toBe(0);
    expect(await leaseIsFree(t.id)).toBe(true);
  });

  it('another process holds the lease and its refresh fails for good: REFRESH_FAILED without an upstream call', async () => {
    const t = await refreshable({ accessToken: 'old', expiresAt: inSeconds(30) });
    expect(await stores.leases.acquireLease(t.id, 'other-process', LEASE_MS)).toBe(true);
    const waiting = engine.refresh(t.id);
    await arrived();
    await store.saveToken({ id: t.id, failedAt: new Date(), lastError: 'invalid_code' });
    wakeUp();
    expect(await apiError(waiting)).toMatchObject({ code: 'REFRESH_FAILED' });
    expect(accounts.count()).toBe(0);
  });

  it('waitForLease: false returns the stored token at once while another process holds the lease', async () => {
    const t = await refreshable({ accessToken: 'old', expiresAt: inSeconds(30) });
    expect(await stores.leases.acquireLease(t.id, 'other-process', LEASE_MS)).toBe(true);
    const r = await engine.refresh(t.id, { force: false, trigger: 'background', waitForLease: false });
    expect(r.accessToken).toBe('old');
    const forced = await engine.refresh(t.id, { waitForLease: false });
    expect(forced.accessToken).toBe('old');
    expect(accounts.count()).toBe(0);
  });

  it('a provider refusal: REFRESH_FAILED, the lease given back', async () => {
    // A refresh token the Accounts server does not know: it answers {"error":"invalid_code"}.
    const t = await store.saveToken({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: 'a-refresh-token-the-provider-never-issued' });
    expect(await apiError(engine.refresh(t.id))).toMatchObject({ code: 'REFRESH_FAILED', extensions: { oauthError: 'invalid_code' } });
    expect(beforeUpstream()).toEqual(['acquireLease', 'findTokenById']);
    expect(accounts.count('refresh_token')).toBe(1);
    expect(issued()).toEqual([]);
    expect(await leaseIsFree(t.id)).toBe(true);
    expect((await store.findTokenById(t.id))!.failedAt).not.toBeNull();
  });

  it('a provider refusal that is not for good (access_denied, the rate limit): REFRESH_FAILED, the lease given back, not FAILED', async () => {
    const t = await refreshable();
    accounts.setFailure('accessDenied', 1);
    expect(await apiError(engine.refresh(t.id))).toMatchObject({ code: 'REFRESH_FAILED', extensions: { oauthError: 'access_denied' } });
    expect(accounts.count('refresh_token')).toBe(1);
    expect(await leaseIsFree(t.id)).toBe(true);
    const after = (await store.findTokenById(t.id))!;
    expect(after.failedAt).toBeNull();
    expect(after.lastError).toBe('access_denied');
  });
});
