import { randomBytes } from 'node:crypto';
import { createScratchDatabase, describeWithMysql, type ScratchDatabase } from '../support/mysql';
import { Keyring } from '../../src/crypto/keyring';
import { Governor } from '../../src/providers/governor';
import { zohoProfile } from '../../src/providers/zoho';
import { oauth2Profile } from '../../src/providers/oauth2';
import { tokenStatus } from '../../src/stores/token-status';
import { memoryStores } from '../../src/stores/memory/memory-stores';
import type { Stores } from '../../src/stores/stores';
import { openStore } from '../../src/stores/open-store';

/**
 * The governor's rules with a controlled clock: rolling windows, mints
 * counted from their response (in flight: now), the alive cap, the
 * background task's reserve, access_denied blocks, grant windows per client,
 * and decisions shared by two stores on one MariaDB database.
 */
const S = 1000;
const MIN = 60 * S;

describe('Governor', () => {
  let clock = 0;
  let store: Stores;
  let governor: Governor;
  const zoho = zohoProfile();
  const token = { id: 'tok-1', clientId: '1000.C' };

  beforeEach(() => {
    clock = 1_000_000_000_000;
    store = memoryStores();
    governor = new Governor({ store: store.governor, leaseMs: 30 * S, now: () => clock });
  });

  /** Asks for a refresh mint and, when allowed, records its answer `respondAfterMs` later. */
  async function mint(respondAfterMs = 0, reserve = 0, profile = zoho) {
    const v = await governor.permit('refresh', token, profile, reserve);
    if (v.allowed) await v.permit.minted(clock + respondAfterMs);
    return v;
  }

  it('allows 10 access tokens in any rolling 10 minutes, and the 11th when the oldest leaves the window', async () => {
    const start = clock;
    for (let i = 0; i < 10; i++) {
      expect((await mint()).allowed).toBe(true);
      clock += 30 * S;
    }
    const refused = await mint();
    expect(refused).toEqual({ allowed: false, reason: 'window', retryAt: start + 10 * MIN });
    clock = start + 10 * MIN - 1;
    expect((await mint()).allowed).toBe(false);
    clock = start + 10 * MIN;
    expect((await mint()).allowed).toBe(true);
    // Rolling: the next slot opens when the second mint leaves, 30 s later.
    expect(await mint()).toMatchObject({ allowed: false, retryAt: start + 10 * MIN + 30 * S });
  });

  it('counts a mint from its response time, and one in flight as now (but no later than its lease)', async () => {
    const start = clock;
    const windowOnly = zohoProfile({ maxAliveAccessTokens: null });
    for (let i = 0; i < 9; i++) await mint(5 * S, 0, windowOnly); // each answered 5 s after it was asked
    const inFlight = await governor.permit('refresh', token, windowOnly);
    expect(inFlight.allowed).toBe(true);
    expect(await mint(0, 0, windowOnly)).toMatchObject({ allowed: false, reason: 'window', retryAt: start + 5 * S + 10 * MIN });
    clock = start + 5 * S + 10 * MIN - 1;
    expect((await mint(0, 0, windowOnly)).allowed).toBe(false);
    // The nine leave the window; the one in flight (its process died) counts as minted at most a lease after it was asked.
    clock = start + 5 * S + 10 * MIN;
    for (let i = 0; i < 9; i++) expect((await mint(0, 0, windowOnly)).allowed).toBe(true);
    expect(await mint(0, 0, windowOnly)).toMatchObject({ allowed: false, retryAt: start + 30 * S + 10 * MIN });
    clock = start + 30 * S + 10 * MIN;
    expect((await mint(0, 0, windowOnly)).allowed).toBe(true);
  });

  it('never lets 16 access tokens be alive at once (each alive for the token lifetime from its response)', async () => {
    const start = clock;
    for (let i = 0; i < 10; i++) expect((await mint()).allowed).toBe(true);
    clock = start + 10 * MIN;
    for (let i = 0; i < 5; i++) expect((await mint()).allowed).toBe(true);
    clock = start + 20 * MIN;
    // The window is empty again, but 15 are alive: the 16th would kill the oldest.
    expect(await mint()).toEqual({ allowed: false, reason: 'alive', retryAt: start + 60 * MIN });
    clock = start + 60 * MIN;
    expect((await mint()).allowed).toBe(true);
  });

  it('keeps the last two slots of a window from the background task', async () => {
    for (let i = 0; i < 8; i++) await mint(0, 2);
    expect(await mint(0, 2)).toMatchObject({ allowed: false, reason: 'window' });
    expect((await mint()).allowed).toBe(true);
    expect((await mint()).allowed).toBe(true);
    expect((await mint()).allowed).toBe(false);
  });

  it('access_denied blocks the token for a whole window; a refused or unsent request counts nothing', async () => {
    const v = await governor.permit('refresh', token, zoho);
    if (!v.allowed) throw new Error('expected a permit');
    await v.permit.notMinted();
    const until = await governor.block(token, zoho);
    expect(until).toBe(clock + 10 * MIN);
    expect(await mint()).toEqual({ allowed: false, reason: 'blocked', retryAt: until });
    expect((await governor.permit('refresh', { id: 'other', clientId: '1000.C' }, zoho)).allowed).toBe(true);
    clock = until;
    for (let i = 0; i < 10; i++) expect((await mint()).allowed).toBe(true);
  });

  it('counts grant exchanges per client across tokens (10 per 10 minutes)', async () => {
    for (let i = 0; i < 10; i++) {
      const v = await governor.permit('grant', { id: `grant-${i}`, clientId: '1000.G' }, zoho);
      expect(v.allowed).toBe(true);
      if (v.allowed) await v.permit.minted(clock);
    }
    expect(await governor.permit('grant', { id: 'grant-10', clientId: '1000.G' }, zoho)).toMatchObject({
      allowed: false,
      reason: 'grants',
      retryAt: clock + 10 * MIN,
    });
    expect((await governor.permit('grant', { id: 'grant-11', clientId: '1000.OTHER' }, zoho)).allowed).toBe(true);
  });

  it('limits nothing for a provider without limits, and follows overridden limits', async () => {
    const free = oauth2Profile({
      name: 'free',
      tokenUrl: 'https://idp.example/token',
      authorizationUrl: null,
      revocationUrl: null,
      clientAuthMethod: 'client_secret_basic',
      pkce: false,
      limits: {},
    });
    for (let i = 0; i < 50; i++) expect((await governor.permit('refresh', { id: 'free', clientId: 'c' }, free)).allowed).toBe(true);
    const fast = zohoProfile({ windowSeconds: 10, accessTokensPerWindow: 2 });
    const t = { id: 'fast', clientId: 'c' };
    for (let i = 0; i < 2; i++) {
      const v = await governor.permit('refresh', t, fast);
      if (v.allowed) await v.permit.minted(clock);
    }
    expect(await governor.permit('refresh', t, fast)).toMatchObject({ allowed: false, retryAt: clock + 10 * S });
  });

  it('THROTTLED shows until its time; FAILED wins over it', () => {
    const base = { accessToken: null, expiresAt: null, refreshToken: 'rt', grantToken: null, failedAt: null as Date | null };
    expect(tokenStatus({ ...base, throttledUntil: new Date(clock + S) }, clock, 0)).toBe('THROTTLED');
    expect(tokenStatus({ ...base, throttledUntil: new Date(clock) }, clock, 0)).toBe('EXPIRED');
    expect(tokenStatus({ ...base, failedAt: new Date(clock), throttledUntil: new Date(clock + S) }, clock, 0)).toBe('FAILED');
  });

  describeWithMysql('shared by two stores on one MariaDB database (two processes)', () => {
    let db: ScratchDatabase;
    let a: Stores;
    let b: Stores;
    beforeAll(async () => {
      db = await createScratchDatabase('tg_providers_gov');
      const keyring = new Keyring([randomBytes(32)]);
      a = await openStore({ kind: 'mysql', url: db.url, table: 'oauthtoken' }, keyring);
      b = await openStore({ kind: 'mysql', url: db.url, table: 'oauthtoken' }, keyring);
    });
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await db?.drop();
    });

    it('30 concurrent asks from both: exactly 10 allowed; a block recorded by one refuses the other', async () => {
      const ga = new Governor({ store: a.governor, leaseMs: 30 * S, now: () => clock });
      const gb = new Governor({ store: b.governor, leaseMs: 30 * S, now: () => clock });
      const shared = { id: 'shared', clientId: 'c' };
      const verdicts = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? ga : gb).permit('refresh', shared, zoho)));
      expect(verdicts.filter((v) => v.allowed)).toHaveLength(10);
      const other = { id: 'blocked', clientId: 'c' };
      await ga.block(other, zoho);
      expect(await gb.permit('refresh', other, zoho)).toMatchObject({ allowed: false, reason: 'blocked' });
    });
  });
});
