import fs from 'node:fs';
import { Changes } from '../support/changes';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import type { GatewayProcess } from '../support/process-gateway';
import { startThrowawayMariaDb, type ThrowawayMariaDb } from '../support/throwaway-mariadb';
import { ALL_TOKEN_FIELDS, errorCodes, gatewayEnv, gqlAt, leakIn, startGateway, type GatewayEnv } from './helpers';

jest.setTimeout(180_000);

const LEASE_SECONDS = 5;
const SAVE = `mutation($t: TokenInput!) { saveToken(token: $t) { id userName accessToken } }`;
const REFRESH = `mutation($id: ID!) { refresh(id: $id) { id accessToken status } }`;

/** One write of the load, and what came of it. */
interface Write {
  gateway: number;
  user: number;
  accessToken: string;
  /** `acked`: answered without error; `refused`: answered with an error; `unknown`: no answer (the process died). */
  outcome: 'acked' | 'refused' | 'unknown';
  error?: string;
}

/**
 * Three gateway processes on one MariaDB database under a load of upserts
 * (by user name, by id, by refresh token) and refreshes (the provider rotates
 * refresh tokens); one of them is killed with SIGKILL in the middle of it,
 * while it holds a refresh lease.
 */
describe('a gateway process killed with SIGKILL in the middle of writes and refreshes', () => {
  let db: ThrowawayMariaDb;
  let rotating: FakeAccountsServer;
  let slow: FakeAccountsServer;
  let ge: GatewayEnv;
  const gateways: GatewayProcess[] = [];

  beforeAll(async () => {
    db = await startThrowawayMariaDb();
    rotating = await startFakeAccountsServer({ rotateRefreshTokens: true, delayMs: 100 });
    slow = await startFakeAccountsServer({ rotateRefreshTokens: false, delayMs: 0 });
  });
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.kill()));
    await rotating?.close();
    await slow?.close();
    await db?.destroy();
    if (ge) fs.rmSync(ge.dataDir, { recursive: true, force: true });
  });

  it('leaves no torn or duplicate row, loses no refresh token, and its lease runs out', async () => {
    const url = await db.createDatabase('tg_crash');
    ge = gatewayEnv(url, {
      TOKENGATE_ACCOUNTS_URL: rotating.url,
      TOKENGATE_ALLOWED_ACCOUNTS_URLS: slow.url,
      TOKENGATE_REFRESH_LEASE_SECONDS: String(LEASE_SECONDS),
      TOKENGATE_UPSTREAM_TIMEOUT_MS: '3000',
      TOKENGATE_MYSQL_POOL_SIZE: '8',
    });
    for (let i = 0; i < 3; i++) gateways.push(await startGateway(ge.env));
    const [victim] = gateways as [GatewayProcess, GatewayProcess, GatewayProcess];
    const keys = ge.keys;
    const gql = (g: GatewayProcess, query: string, variables: Record<string, unknown> = {}) => gqlAt(g.url, keys.admin, query, variables, 30_000);

    // Refreshable tokens, each with a client of its own (so the provider's records tell them apart).
    // Token i is refreshed only through gateway i % 3; those of the survivors through both survivors.
    const R = 18;
    const refreshable: Array<{ id: string; clientId: string; owner: number }> = [];
    for (let i = 0; i < R; i++) {
      const clientId = `1000.R${i}`;
      rotating.addClient(clientId, `secret-${i}`);
      const r = await gql(gateways[i % 3]!, SAVE, {
        t: {
          userName: `r-${i}@example.com`,
          clientId,
          clientSecret: `secret-${i}`,
          refreshToken: rotating.addRefreshToken(clientId),
          accessToken: `1000.initial-${i}`,
          expiresIn: 3600,
        },
      });
      expect(r.body.errors).toBeUndefined();
      refreshable.push({ id: r.body.data.saveToken.id, clientId, owner: i % 3 });
    }
    // The token whose lease the victim will hold when it dies: refreshed at a non-rotating server,
    // so that the request the victim never saw answered does not consume its refresh token.
    slow.addClient('1000.LEASE', 'lease-secret');
    const leaseRefreshToken = slow.addRefreshToken('1000.LEASE');
    const leased = await gql(gateways[1]!, SAVE, {
      t: { userName: 'lease@example.com', clientId: '1000.LEASE', clientSecret: 'lease-secret', refreshToken: leaseRefreshToken, accountsUrl: slow.url },
    });
    expect(leased.body.errors).toBeUndefined();
    const leaseId: string = leased.body.data.saveToken.id;

    // The load.
    const S = 12;
    const writes: Write[] = [];
    const idOf = new Map<number, string>();
    const refreshErrors: string[] = [];
    const leaks: string[] = [];
    let refreshesDone = 0;
    /** Refreshes answered without error, per gateway. */
    const refreshedOn = [0, 0, 0];
    const progress = new Changes();
    let running = true;
    let killed = false;
    let seq = 0;
    const alive = (g: number) => !(g === 0 && killed);

    const saver = async (g: number, w: number) => {
      let n = 0;
      while (running && alive(g)) {
        n++;
        const user = (w * 5 + n) % S;
        const accessToken = `1000.s-${user}-${g}-${++seq}`;
        const id = idOf.get(user);
        const kind = n % 4;
        let t: Record<string, unknown>;
        if (kind === 1 && id) t = { id, accessToken, expiresIn: 3600 };
        // By the refresh-token rule only once the user's row exists (else it would insert a row without a user name).
        else if (kind === 2 && id) t = { refreshToken: `1000.s-refresh-${user}`, clientId: '1000.S', accessToken };
        else t = { userName: `s-${user}@example.com`, clientId: '1000.S', clientSecret: 's-secret', refreshToken: `1000.s-refresh-${user}`, accessToken };
        if (kind === 3) {
          // An update by id of a refreshable token, racing its refreshes (never its credentials).
          const target = refreshable[(n + g) % R]!;
          const r = await gql(gateways[g]!, SAVE, { t: { id: target.id, redirectUrl: `https://app.example.com/cb/${seq}` } });
          if (r.status === 0 && !alive(g)) break;
          if (r.body?.errors) refreshErrors.push(`save by id on ${g}: ${JSON.stringify(r.body.errors).slice(0, 200)}`);
          continue;
        }
        const r = await gql(gateways[g]!, SAVE, { t });
        const leak = leakIn(r.text);
        if (leak) leaks.push(leak);
        if (r.status === 0) {
          writes.push({ gateway: g, user, accessToken, outcome: 'unknown', error: r.failure });
          if (!alive(g)) break;
        } else if (r.body?.errors) {
          writes.push({ gateway: g, user, accessToken, outcome: 'refused', error: JSON.stringify(r.body.errors).slice(0, 300) });
        } else {
          writes.push({ gateway: g, user, accessToken, outcome: 'acked' });
          idOf.set(user, r.body.data.saveToken.id);
        }
        progress.changed();
      }
    };
    const refresher = async (g: number, w: number) => {
      const mine = refreshable.filter((t) => (g === 0 ? t.owner === 0 : t.owner !== 0));
      let n = w;
      while (running && alive(g)) {
        n++;
        const target = mine[n % mine.length]!;
        const r = await gql(gateways[g]!, REFRESH, { id: target.id });
        const leak = leakIn(r.text);
        if (leak) leaks.push(leak);
        if (r.status === 0 && !alive(g)) break;
        if (r.status !== 200 || r.body?.errors)
          refreshErrors.push(`refresh on ${g} of ${target.clientId}: ${r.status} ${r.failure ?? ''} ${JSON.stringify(r.body?.errors ?? null).slice(0, 300)}`);
        else {
          refreshesDone++;
          refreshedOn[g]!++;
        }
        progress.changed();
      }
    };
    const load = [0, 1, 2].flatMap((g) => [saver(g, 0), saver(g, 1), refresher(g, 0), refresher(g, 1)]);
    const acked = (g: number) => writes.filter((w) => w.gateway === g && w.outcome === 'acked').length;
    /** Resolves once each of `gs` has acknowledged `n` more writes and answered `n` more refreshes than now. */
    const loadDid = (gs: number[], n: number) => {
      const base = gs.map((g) => ({ g, writes: acked(g), refreshes: refreshedOn[g]! }));
      return progress.until(() => base.every((b) => acked(b.g) >= b.writes + n && refreshedOn[b.g]! >= b.refreshes + n), { failed: Promise.all(load) });
    };

    // The load is under way on every gateway.
    await loadDid([0, 1, 2], 10);
    // The victim takes the lease of the lease token, and its request is at the provider...
    slow.configure({ delayMs: 10_000 });
    const dying = gql(victim, REFRESH, { id: leaseId });
    await slow.received(1, 'refresh_token');
    expect(slow.count('refresh_token')).toBe(1);
    const leaseTakenAt = Date.now();
    // ... when it dies, in the middle of its writes and refreshes.
    const writesBefore = writes.filter((w) => w.gateway === 0).length;
    killed = true;
    const killAt = Date.now();
    await victim.kill();
    expect((await dying).status).toBe(0);
    console.log(`killed gateway ${victim.pid} after ${writesBefore} of its writes and ${refreshesDone} refreshes in all`);

    // Another process refreshes the lease token once the dead one's lease has run out: not before, not never.
    slow.configure({ delayMs: 0 });
    const takeover = await gql(gateways[1]!, REFRESH, { id: leaseId });
    const tookOverAt = Date.now();
    expect(takeover.body.errors).toBeUndefined();
    expect(takeover.body.data.refresh.status).toBe('ACTIVE');
    expect(slow.count('refresh_token')).toBe(2);
    expect(tookOverAt - leaseTakenAt).toBeGreaterThanOrEqual(LEASE_SECONDS * 1000 - 1_000);
    expect(tookOverAt - leaseTakenAt).toBeLessThan(LEASE_SECONDS * 1000 + 3_000);

    // The survivors go on serving the load.
    await loadDid([1, 2], 10);
    running = false;
    await Promise.all(load);

    const problems: string[] = [];
    const check = (ok: boolean, problem: string) => {
      if (!ok) problems.push(problem);
    };
    check(leaks.length === 0, `stack traces or paths in responses: ${leaks.slice(0, 3).join('; ')}`);
    check(refreshErrors.length === 0, `failed refreshes or saves on the surviving processes: ${refreshErrors.slice(0, 5).join('; ')}`);
    const refused = writes.filter((w) => w.outcome === 'refused');
    check(
      refused.length === 0,
      `refused writes: ${refused
        .slice(0, 5)
        .map((w) => w.error)
        .join('; ')}`,
    );
    check(writes.filter((w) => w.gateway !== 0 && w.outcome === 'unknown').length === 0, 'a surviving process left a write unanswered');

    // The rows: none torn, none duplicated, nothing but what the load wrote.
    const conn = await db.connect('tg_crash');
    try {
      const [rows] = (await conn.query(
        'SELECT id, user_name, user_name_hash, client_id, client_secret, refresh_token, refresh_token_hash, access_token, access_token_hash, grant_token, grant_token_hash, key_id, created_at, updated_at, version, lease_owner, lease_until FROM oauthtoken',
      )) as [any[], unknown];
      for (const column of ['user_name_hash', 'refresh_token_hash', 'access_token_hash', 'grant_token_hash']) {
        const [dups] = (await conn.query(
          `SELECT ${column} AS h, COUNT(*) AS n FROM oauthtoken WHERE ${column} IS NOT NULL GROUP BY ${column} HAVING COUNT(*) > 1`,
        )) as [any[], unknown];
        check(dups.length === 0, `${dups.length} duplicated ${column}`);
      }
      for (const r of rows) {
        check(r.user_name !== null && r.user_name_hash !== null, `row ${r.id} has no user name: an upsert missed its row and inserted`);
        for (const f of ['refresh_token', 'access_token', 'grant_token'])
          check((r[f] === null) === (r[`${f}_hash`] === null), `row ${r.id}: ${f} and its hash disagree (torn)`);
        check(r.access_token !== null || r.refresh_token !== null || r.grant_token !== null, `row ${r.id} holds no token`);
        check(r.key_id !== null && r.created_at !== null && r.updated_at !== null && Number(r.version) >= 1, `row ${r.id} lacks key id, timestamps or version`);
        if (r.lease_owner !== null) {
          check(String(r.lease_owner).startsWith(`${victim.pid}-`), `row ${r.id} is still leased by a live process (${r.lease_owner})`);
          check(Number(r.lease_until) < Date.now(), `row ${r.id}: the dead process's lease has not run out`);
        }
      }
      const names = new Set(rows.map((r) => String(r.user_name)));
      const sUsers = [...names].filter((n) => n.startsWith('s-'));
      check(rows.length === R + 1 + sUsers.length, `${rows.length} rows for ${R + 1 + sUsers.length} tokens`);
      for (let i = 0; i < R; i++) check(names.has(`r-${i}@example.com`), `lost r-${i}`);
      check(names.has('lease@example.com'), 'lost the lease token');

      // Every acknowledged write is there; each stored access token is one that was written for that user.
      const [versions] = (await conn.query(`SELECT user_name, version FROM oauthtoken WHERE user_name LIKE 's-%'`)) as [any[], unknown];
      const versionOf = new Map(versions.map((v) => [v.user_name as string, Number(v.version)]));
      for (let user = 0; user < S; user++) {
        const mine = writes.filter((w) => w.user === user);
        const acked = mine.filter((w) => w.outcome === 'acked');
        const name = `s-${user}@example.com`;
        if (acked.length > 0) check(names.has(name), `lost ${name} after ${acked.length} acknowledged writes`);
        if (!names.has(name)) continue;
        const stored = (await gql(gateways[2]!, `query($m: TokenMatchInput!) { token(match: $m) { ${ALL_TOKEN_FIELDS} } }`, { m: { userName: name } })).body
          .data.token;
        check(
          mine.some((w) => w.accessToken === stored.accessToken),
          `${name} holds an access token nobody wrote`,
        );
        check(stored.refreshToken === `1000.s-refresh-${user}` && stored.clientSecret === 's-secret', `${name}: credentials changed`);
        const version = versionOf.get(name)!;
        const possible = mine.filter((w) => w.outcome !== 'refused').length;
        check(
          version >= acked.length && version <= possible,
          `${name}: version ${version}, but ${acked.length} writes were acknowledged and ${possible} may have committed`,
        );
      }
    } finally {
      await conn.end();
    }

    // No lost refresh token: every refresh token stored is valid at the provider, and every token holds
    // the last access token the provider issued for it — except where the dead process's own request was
    // answered after it died (the provider rotated, nobody heard it): that is the provider's rotation, not
    // a loss by the gateway, and it can only be a token the victim was refreshing.
    const lostInFlight: string[] = [];
    for (const t of refreshable) {
      const stored = (await gql(gateways[1]!, `query($id: ID!) { tokenById(id: $id) { ${ALL_TOKEN_FIELDS} } }`, { id: t.id })).body.data.tokenById;
      const issued = rotating.issuedAccessTokens.filter((a) => a.clientId === t.clientId);
      const last = issued[issued.length - 1];
      if (rotating.isRefreshTokenValid(stored.refreshToken)) {
        check(!last || stored.accessToken === last.accessToken, `${t.clientId}: holds ${stored.accessToken}, the provider last issued ${last?.accessToken}`);
      } else if (t.owner === 0 && last && last.refreshToken === stored.refreshToken && last.at.getTime() >= killAt - 2_000) {
        lostInFlight.push(t.clientId);
      } else {
        problems.push(
          `${t.clientId} (refreshed by ${t.owner === 0 ? 'the killed process' : 'the survivors'}): the stored refresh token is no longer valid at the provider — a rotated refresh token was lost`,
        );
      }
    }
    check(lostInFlight.length <= 2, `the victim had ${lostInFlight.length} refreshes in flight, but only 2 refreshing workers`);

    // The survivors refresh the victim's tokens now (its leases have run out).
    for (const t of refreshable.filter((x) => x.owner === 0 && !lostInFlight.includes(x.clientId))) {
      const r = await gql(gateways[2]!, REFRESH, { id: t.id });
      check(
        !r.body.errors && r.body.data.refresh.status === 'ACTIVE',
        `the victim's ${t.clientId} cannot be refreshed by a survivor: ${errorCodes(r.body).join(',')}`,
      );
    }
    console.log(
      `${writes.length} writes (${writes.filter((w) => w.outcome === 'unknown').length} unanswered by the dead process), ${refreshesDone} refreshes; lost by the provider's rotation in flight: ${lostInFlight.join(', ') || 'none'}`,
    );
    expect(problems).toEqual([]);
  });
});
