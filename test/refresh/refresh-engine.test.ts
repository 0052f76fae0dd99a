import { createLogger } from '../../src/logger';
import type { AccountsClient } from '../../src/oauth/accounts-client';
import { AccountsUrlPolicy } from '../../src/oauth/accounts-url-policy';
import { ProviderRefusedError } from '../../src/oauth/oauth-errors';
import { RefreshEngine } from '../../src/oauth/refresh-engine';
import type { TokenGrant } from '../../src/oauth/token-response';
import { Metrics } from '../../src/server/metrics';
import { MemoryTokenStore } from '../../src/stores/memory-token-store';
import type { TokenStore } from '../../src/stores/token-store';

/**
 * The refresh engine on its own, over the memory store: which store calls a
 * refresh makes before its upstream call, and the answers it gives around the
 * refresh lease (another process is played by a second lease owner).
 */
/** A time `s` seconds from now. */
const inSeconds = (s: number) => new Date(Date.now() + s * 1000);

describe('RefreshEngine', () => {
  const LEASE_MS = 2_000;
  let store: MemoryTokenStore;
  /** Store calls, in order; the upstream call is recorded as 'UPSTREAM'. */
  let calls: string[];
  let upstream: { refreshToken: string }[];
  let refuse: ProviderRefusedError | null;
  let metrics: Metrics;
  let engine: RefreshEngine;

  const recording = (inner: TokenStore): TokenStore =>
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

  const client = {
    refresh: async (_url: string, params: { refreshToken: string }): Promise<TokenGrant> => {
      calls.push('UPSTREAM');
      upstream.push(params);
      if (refuse) throw refuse;
      return { accessToken: `access-${upstream.length}`, expiresAt: new Date(Date.now() + 3600_000), tokenType: 'Bearer' };
    },
  } as unknown as AccountsClient;

  const outcomes = async () => {
    const values = (await metrics.refreshes.get()).values;
    return Object.fromEntries(values.map((v) => [v.labels.outcome, v.value]));
  };
  const beforeUpstream = () => calls.slice(0, calls.indexOf('UPSTREAM'));
  const refreshable = (extra: Parameters<MemoryTokenStore['saveToken']>[0] = {}) => store.saveToken({ clientId: '1000.C', clientSecret: 's', refreshToken: `r-${Math.random()}`, ...extra });
  /** Whether the lease is free: another owner can take it (and then gives it back). */
  const leaseIsFree = async (id: string) => {
    const free = await store.acquireLease(id, 'probe', LEASE_MS);
    if (free) await store.releaseLease(id, 'probe');
    return free;
  };

  beforeEach(() => {
    store = new MemoryTokenStore();
    calls = [];
    upstream = [];
    refuse = null;
    metrics = new Metrics({ defaultMetrics: false });
    engine = new RefreshEngine({
      store: recording(store),
      client,
      policy: new AccountsUrlPolicy({ defaultAccountsUrl: 'https://accounts.zoho.com', allowed: [] }),
      logger: createLogger('silent'),
      metrics,
      refreshAheadMs: 300_000,
      leaseMs: LEASE_MS,
      pollMs: 5,
    });
  });

  it('force: the lease, then one read under it: 2 store round trips before the upstream call', async () => {
    const t = await refreshable({ accessToken: 'still-good', expiresAt: inSeconds(3600) });
    const r = await engine.refresh(t.id);
    expect(r.accessToken).toBe('access-1');
    expect(beforeUpstream()).toEqual(['acquireLease', 'findTokenById']);
    expect(calls.at(-1)).toBe('releaseLease');
    expect(await leaseIsFree(t.id)).toBe(true);
    expect(await outcomes()).toEqual({ refreshed: 1 });
  });

  it('force: false on an ACTIVE token: one read, no lease taken', async () => {
    const t = await refreshable({ accessToken: 'still-good', expiresAt: inSeconds(3600) });
    const r = await engine.refresh(t.id, { force: false, trigger: 'background', waitForLease: false });
    expect(r.accessToken).toBe('still-good');
    expect(calls).toEqual(['findTokenById']);
    expect(await outcomes()).toEqual({ not_needed: 1 });
  });

  it('force: false on a token that needs a refresh: read, lease, re-read under it', async () => {
    const t = await refreshable({ accessToken: 'almost-gone', expiresAt: inSeconds(60) });
    const r = await engine.refresh(t.id, { force: false });
    expect(r.accessToken).toBe('access-1');
    expect(beforeUpstream()).toEqual(['findTokenById', 'acquireLease', 'findTokenById']);
    expect(await leaseIsFree(t.id)).toBe(true);
  });

  it('NOT_FOUND for an unknown id, with and without force', async () => {
    await expect(engine.refresh('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(engine.refresh('nope', { force: false })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(calls).not.toContain('UPSTREAM');
  });

  it('BAD_USER_INPUT for a token without credentials, and the lease is given back', async () => {
    const t = await store.saveToken({ accessToken: 'only-access' });
    await expect(engine.refresh(t.id)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(calls).toEqual(['acquireLease', 'findTokenById', 'releaseLease']);
    expect(await leaseIsFree(t.id)).toBe(true);
    const noSecret = await store.saveToken({ refreshToken: 'r-without-client' });
    await expect(engine.refresh(noSecret.id)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await leaseIsFree(noSecret.id)).toBe(true);
  });

  it('BAD_USER_INPUT at once, without waiting, while another process holds the lease', async () => {
    const t = await store.saveToken({ accessToken: 'only-access' });
    expect(await store.acquireLease(t.id, 'other-process', LEASE_MS)).toBe(true);
    const started = Date.now();
    await expect(engine.refresh(t.id)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('a refresh completed after the caller arrived answers it (coalesced), on the one read under the lease', async () => {
    const arrivedAt = new Date(Date.now() - 1_000);
    const t = await refreshable({ accessToken: 'fresh', expiresAt: inSeconds(3600), lastRefreshedAt: new Date(Date.now() - 500) });
    const r = await engine.refresh(t.id, { arrivedAt });
    expect(r.accessToken).toBe('fresh');
    expect(upstream).toHaveLength(0);
    expect(await leaseIsFree(t.id)).toBe(true);
    expect(await outcomes()).toEqual({ coalesced: 1 });
    // One that completed before the caller arrived does not.
    const again = await engine.refresh(t.id);
    expect(again.accessToken).toBe('access-1');
  });

  it('a refresh that failed for good after the caller arrived answers it; one before it does not', async () => {
    const arrivedAt = new Date(Date.now() - 1_000);
    const t = await refreshable({ failedAt: new Date(Date.now() - 500), lastError: 'invalid_code' });
    await expect(engine.refresh(t.id, { arrivedAt })).rejects.toMatchObject({ code: 'REFRESH_FAILED', extensions: { oauthError: 'invalid_code' } });
    expect(upstream).toHaveLength(0);
    expect(await leaseIsFree(t.id)).toBe(true);
    // An explicit refresh of a token that failed before the caller arrived asks the provider again.
    const r = await engine.refresh(t.id);
    expect(r.accessToken).toBe('access-1');
  });

  it('another process holds the lease: waits, and is answered by its refresh', async () => {
    const t = await refreshable({ accessToken: 'old', expiresAt: inSeconds(30) });
    expect(await store.acquireLease(t.id, 'other-process', LEASE_MS)).toBe(true);
    const waiting = engine.refresh(t.id);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await store.saveToken({ id: t.id, accessToken: 'from-the-other-process', expiresAt: inSeconds(3600), lastRefreshedAt: new Date() });
    const r = await waiting;
    expect(r.accessToken).toBe('from-the-other-process');
    expect(upstream).toHaveLength(0);
    await store.releaseLease(t.id, 'other-process');
  });

  it('another process holds the lease and releases it after its refresh: answered under the lease, no second upstream call', async () => {
    // The other process's refresh is stamped before this caller "arrived" (clocks of two
    // machines may disagree): only the change against the first read shows it.
    const t = await refreshable({ accessToken: 'old', expiresAt: inSeconds(30), lastRefreshedAt: new Date(Date.now() - 60_000) });
    expect(await store.acquireLease(t.id, 'other-process', LEASE_MS)).toBe(true);
    const waiting = engine.refresh(t.id, { arrivedAt: new Date(Date.now() + 10_000) });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await store.saveToken({ id: t.id, accessToken: 'from-the-other-process', expiresAt: inSeconds(3600), lastRefreshedAt: new Date() });
    await store.releaseLease(t.id, 'other-process');
    const r = await waiting;
    expect(r.accessToken).toBe('from-the-other-process');
    expect(upstream).toHaveLength(0);
    expect(await leaseIsFree(t.id)).toBe(true);
  });

  it('another process holds the lease and its refresh fails for good: REFRESH_FAILED without an upstream call', async () => {
    const t = await refreshable({ accessToken: 'old', expiresAt: inSeconds(30) });
    expect(await store.acquireLease(t.id, 'other-process', LEASE_MS)).toBe(true);
    const waiting = engine.refresh(t.id);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await store.saveToken({ id: t.id, failedAt: new Date(), lastError: 'invalid_code' });
    await expect(waiting).rejects.toMatchObject({ code: 'REFRESH_FAILED' });
    expect(upstream).toHaveLength(0);
  });

  it('waitForLease: false returns the stored token at once while another process holds the lease', async () => {
    const t = await refreshable({ accessToken: 'old', expiresAt: inSeconds(30) });
    expect(await store.acquireLease(t.id, 'other-process', LEASE_MS)).toBe(true);
    const r = await engine.refresh(t.id, { force: false, trigger: 'background', waitForLease: false });
    expect(r.accessToken).toBe('old');
    const forced = await engine.refresh(t.id, { waitForLease: false });
    expect(forced.accessToken).toBe('old');
    expect(upstream).toHaveLength(0);
  });

  it('a provider refusal: REFRESH_FAILED, the lease given back', async () => {
    const t = await refreshable();
    refuse = new ProviderRefusedError('invalid_code', 200);
    await expect(engine.refresh(t.id)).rejects.toMatchObject({ code: 'REFRESH_FAILED' });
    expect(await leaseIsFree(t.id)).toBe(true);
    expect((await store.findTokenById(t.id))!.failedAt).not.toBeNull();
  });
});
