import { createLogger } from '../../src/logger';
import { AccountsClient } from '../../src/oauth/accounts-client';
import { AccountsUrlPolicy } from '../../src/oauth/accounts-url-policy';
import { RefreshEngine } from '../../src/oauth/refresh-engine';
import { ProviderRegistry } from '../../src/providers/provider-registry';
import { RefreshScheduler } from '../../src/oauth/refresh-scheduler';
import { Governor } from '../../src/providers/governor';
import { MemoryGovernorStore } from '../../src/stores/memory/memory-governor-store';
import { memoryStores } from '../../src/stores/memory/memory-stores';
import type { Stores } from '../../src/stores/stores';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { ManualClock } from '../support/test-clocks';

/**
 * The background task's timing, on a clock the test moves: the first round
 * comes after a random part of the interval, each refresh after a random
 * pause, the next round an interval later; a token refused with
 * `access_denied` waits ten minutes (the task's back-off, and the governor's
 * block); stop() ends every wait at once.
 */
describe('RefreshScheduler', () => {
  const INTERVAL_MS = 60_000;
  const CLIENT_ID = '1000.SCHEDULER';
  const CLIENT_SECRET = 'scheduler-client-secret-0123456789';
  let accounts: FakeAccountsServer;
  let stores: Stores;
  let clock: ManualClock;
  let scheduler: RefreshScheduler;

  beforeAll(async () => {
    accounts = await startFakeAccountsServer();
    accounts.addClient(CLIENT_ID, CLIENT_SECRET);
  });
  afterAll(async () => {
    await accounts.close();
  });
  beforeEach(() => {
    accounts.setFailure('none');
    accounts.resetRequests();
    stores = memoryStores();
    clock = new ManualClock();
    const policy = new AccountsUrlPolicy({ defaultAccountsUrl: accounts.url, allowed: [] });
    const logger = createLogger('silent');
    const engine = new RefreshEngine({
      tokens: stores.tokens,
      leases: stores.leases,
      audit: stores.audit,
      client: new AccountsClient({ policy, timeoutMs: 5_000, maxAttempts: 1 }),
      policy,
      providers: new ProviderRegistry({ store: stores.providers, policy }),
      logger,
      refreshAheadMs: 300_000,
      leaseMs: 10_000,
      // The governor's windows (its block after access_denied) on the same clock.
      governor: new Governor({ store: new MemoryGovernorStore(() => undefined), leaseMs: 10_000, now: () => clock.now() }),
    });
    scheduler = new RefreshScheduler({ tokens: stores.tokens, leases: stores.leases, engine, logger, intervalMs: INTERVAL_MS, refreshAheadMs: 300_000, clock });
  });
  afterEach(async () => {
    await scheduler.stop();
  });

  const expiring = () =>
    stores.tokens.saveToken({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      refreshToken: accounts.addRefreshToken(CLIENT_ID),
      accessToken: 'old',
      expiresAt: new Date(Date.now() + 60_000),
    });
  /** Ends the wait asked for as the `n`th sleep, once it is asked for. */
  const passSleep = async (n: number) => {
    await clock.sleeping(n);
    clock.advance(clock.sleeps[n - 1]!);
  };

  it('refreshes in rounds, an interval apart, each refresh after a pause within the spread', async () => {
    const t = await expiring();
    scheduler.start();
    await clock.sleeping(1);
    expect(clock.sleeps[0]).toBeLessThanOrEqual(5_000); // the first round: within a random part of the interval
    expect(accounts.count()).toBe(0);
    clock.advance(clock.sleeps[0]!);
    await passSleep(2); // the pause before the token's refresh
    expect(clock.sleeps[1]).toBeLessThanOrEqual(5_000);
    await clock.sleeping(3); // the round is over: the task waits for the next one
    expect(clock.sleeps[2]).toBe(INTERVAL_MS);
    expect(accounts.count('refresh_token')).toBe(1);
    expect((await stores.tokens.findTokenById(t.id))!.accessToken).not.toBe('old');
    // The next round finds nothing to do, and waits again.
    clock.advance(INTERVAL_MS);
    await clock.sleeping(4);
    expect(clock.sleeps[3]).toBe(INTERVAL_MS);
    expect(accounts.count('refresh_token')).toBe(1);
  });

  it('stop() ends the wait for the next round at once, and no round starts after it', async () => {
    await expiring();
    scheduler.start();
    await clock.sleeping(1);
    await scheduler.stop();
    expect(clock.pending()).toBe(0);
    clock.advance(INTERVAL_MS);
    scheduler.start();
    expect(clock.sleeps).toHaveLength(1);
    expect(accounts.count()).toBe(0);
  });

  it('a token refused with access_denied is left alone for ten minutes, then tried again', async () => {
    const t = await expiring();
    accounts.setFailure('accessDenied', 1);
    const first = scheduler.runOnce();
    await passSleep(1);
    expect(await first).toBe(0);
    expect(accounts.count('refresh_token')).toBe(1);
    const refusedAt = clock.now();
    clock.advance(10 * 60_000 - 1);
    expect(await scheduler.runOnce()).toBe(0); // not a candidate yet: no pause, no request
    expect(clock.sleeps).toHaveLength(1);
    expect(accounts.count('refresh_token')).toBe(1);
    clock.advance(1);
    expect(clock.now() - refusedAt).toBe(10 * 60_000);
    const third = scheduler.runOnce();
    await passSleep(2);
    expect(await third).toBe(1);
    expect(accounts.count('refresh_token')).toBe(2);
    expect((await stores.tokens.findTokenById(t.id))!.accessToken).not.toBe('old');
  });
});
