import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Changes } from '../support/changes';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import type { GatewayProcess } from '../support/process-gateway';
import { startThrowawayMariaDb, type ThrowawayMariaDb } from '../support/throwaway-mariadb';
import { ALL_TOKEN_FIELDS, errorCodes, gatewayEnv, getStatus, gqlAt, leakIn, percentile, startGateway, type GatewayEnv, type GqlResult } from './helpers';

jest.setTimeout(180_000);

/**
 * How the database goes away: a clean shutdown (SIGTERM), a crash (SIGKILL),
 * or a freeze (SIGSTOP: its sockets stay open but nothing answers, as behind
 * a dead network path).
 */
type Outage = 'stop' | 'kill' | 'freeze';

/**
 * The longest any request may take while the database is down or coming back:
 * no hang. A stopped or crashed server refuses connections, so a request
 * fails at once; a frozen one is only noticed by the driver's timeouts (the
 * store's 10 s statement timeout, mysql2's 3 s connect timeout).
 */
const ANSWER_BOUND_MS: Record<Outage, number> = { stop: 5_000, kill: 5_000, freeze: 12_000 };
/** How long the outage lasts: for a freeze, longer than every driver timeout. */
const DOWN_MS: Record<Outage, number> = { stop: 5_000, kill: 5_000, freeze: 15_000 };
/** How long the gateway may take to serve again once the database answers. */
const RECOVERY_BOUND_MS = 10_000;
const UNAVAILABLE_MESSAGE = 'The token store is unavailable; try again later';

type Phase = 'before' | 'stopping' | 'down' | 'starting' | 'recovering' | 'after';

interface Sample extends GqlResult {
  op: string;
  phase: Phase;
  startedAt: number;
  endedAt: number;
}

const SAVE = `mutation($t: TokenInput!) { saveToken(token: $t) { ${ALL_TOKEN_FIELDS} } }`;
const BY_ID = `query($id: ID!) { tokenById(id: $id) { ${ALL_TOKEN_FIELDS} } }`;

/**
 * The database of a gateway process stops (a clean MariaDB shutdown) in the
 * middle of a steady load, stays down, and starts again on the same port.
 */
describe('a database outage under steady load', () => {
  let db: ThrowawayMariaDb;
  let accounts: FakeAccountsServer;
  let ge: GatewayEnv | undefined;
  let gw: GatewayProcess | undefined;

  beforeAll(async () => {
    db = await startThrowawayMariaDb();
    accounts = await startFakeAccountsServer();
  });
  afterEach(async () => {
    await gw?.kill();
    if (ge) fs.rmSync(ge.dataDir, { recursive: true, force: true });
    gw = undefined;
    ge = undefined;
  });
  afterAll(async () => {
    await accounts?.close();
    await db?.destroy();
  });

  it.each<[Outage, string]>([
    ['stop', 'stopped (clean shutdown)'],
    ['kill', 'crashed (SIGKILL)'],
    ['freeze', 'frozen (SIGSTOP)'],
  ])(
    'database %s — %s and started again: fails fast with a clear error, /readyz 503 then 200, recovers without a restart, loses and changes no token',
    async (outage) => {
      const database = `tg_outage_${outage}`;
      const url = await db.createDatabase(database);
      ge = gatewayEnv(url, { TOKENGATE_ACCOUNTS_URL: accounts.url, TOKENGATE_MYSQL_POOL_SIZE: '8' });
      gw = await startGateway(ge.env);
      const g = gw;
      const keys = ge.keys;
      const gql = (query: string, variables: Record<string, unknown> = {}, key = keys.admin) => gqlAt(g.url, key, query, variables, 60_000);

      // Tokens written before the outage, with every field set.
      const seeded: any[] = [];
      for (let i = 0; i < 40; i++) {
        const r = await gql(SAVE, {
          t: {
            userName: `seed-${i}@example.com`,
            clientId: `1000.SEED${i % 3}`,
            clientSecret: `seed-client-secret-${i}`,
            accessToken: `1000.seed-access-${i}`,
            refreshToken: `1000.seed-refresh-${i}`,
            ...(i % 4 === 0 ? { grantToken: `1000.seed-grant-${i}` } : {}),
            redirectUrl: `https://app.example.com/cb/${i}`,
            apiDomain: i % 2 ? 'https://www.zohoapis.eu' : null,
            expiresAt: new Date(Date.UTC(2100, 0, 1, 0, 0, i)).toISOString(),
          },
        });
        expect(r.body.errors).toBeUndefined();
        seeded.push(r.body.data.saveToken);
      }
      for (const t of seeded) expect((await gql(BY_ID, { id: t.id })).body.data.tokenById).toEqual(t);

      // The steady load: reads of the seeded tokens, inserts and updates of tokens of its own.
      let phase: Phase = 'before';
      let running = true;
      const samples: Sample[] = [];
      /** Told of every sample and probe: the phases end on what the load and the probes saw, not after guessed times. */
      const progress = new Changes();
      const acked = new Map<string, any>(); // id → the token as the last acknowledged save returned it
      // id → access tokens of updates after that save that failed: when the database froze during one's
      // COMMIT, its outcome is unknown to the gateway (the answer is STORE_UNAVAILABLE) and it may be stored.
      const unsettled = new Map<string, string[]>();
      const attemptedNames = new Set<string>();
      const worker = async (w: number) => {
        let n = 0;
        const mine: string[] = [];
        while (running) {
          n++;
          const kind = n % 5;
          const seed = seeded[(w * 7 + n) % seeded.length];
          let op: string;
          let res: GqlResult;
          const startedAt = Date.now();
          const at = phase;
          if (kind === 0) {
            const userName = `load-${w}-${n}@example.com`;
            attemptedNames.add(userName);
            op = 'insert';
            res = await gql(SAVE, {
              t: {
                userName,
                clientId: '1000.LOAD',
                clientSecret: 'load-secret',
                refreshToken: `1000.load-refresh-${w}-${n}`,
                accessToken: `1000.load-access-${w}-${n}`,
              },
            });
            if (res.body?.data?.saveToken) {
              acked.set(res.body.data.saveToken.id, res.body.data.saveToken);
              mine.push(res.body.data.saveToken.id);
            }
          } else if (kind === 1 && mine.length > 0) {
            const id = mine[n % mine.length]!;
            op = 'update';
            const accessToken = `1000.load-access-${w}-${n}`;
            res = await gql(SAVE, { t: { id, accessToken, expiresIn: 3600 } });
            if (res.body?.data?.saveToken) {
              acked.set(id, res.body.data.saveToken);
              unsettled.delete(id);
            } else unsettled.set(id, [...(unsettled.get(id) ?? []), accessToken]);
          } else if (kind === 2) {
            op = 'find';
            res = await gql(
              `query($m: TokenMatchInput!) { token(match: $m) { id accessToken } }`,
              { m: { refreshToken: seed.refreshToken, clientId: seed.clientId } },
              keys.operator,
            );
          } else if (kind === 3) {
            op = 'list';
            res = await gql(`{ tokens(first: 20) { totalCount nodes { id status } } }`, {}, keys.viewer);
          } else {
            op = 'byId';
            res = await gql(BY_ID, { id: seed.id });
          }
          samples.push({ ...res, op, phase: at === phase ? at : (`${at}>${phase}` as Phase), startedAt, endedAt: Date.now() });
          progress.changed();
          await sleep(15); // the load's pace (each worker's think time)
        }
      };

      const readyz: Array<{ at: number; status: number; ms: number; phase: Phase }> = [];
      const monitor = async () => {
        while (running) {
          const at = Date.now();
          const p = phase;
          const r = await getStatus(g.url, '/readyz', 15_000);
          // A probe that straddles a phase change belongs to neither phase (as the workers' samples).
          readyz.push({ at, status: r.status, ms: r.ms, phase: p === phase ? p : (`${p}>${phase}` as Phase) });
          progress.changed();
          await sleep(100); // the probe's pace
        }
      };

      // More workers than pooled connections: requests also queue for a connection.
      const workers = Array.from({ length: 12 }, (_, w) => worker(w));
      const watching = monitor();
      const failed = Promise.all([...workers, watching]);
      /** Resolves once `check` holds on the samples and probes so far; gives up after `ms` (the checks below then say what is missing). */
      const until = (check: () => boolean, ms: number) => progress.until(check, { failed, timeoutMs: ms }).catch((err: Error) => console.log(err.message));
      // Every worker under way (five requests each: one of each kind), /readyz answered.
      await until(() => samples.filter((s) => s.phase === 'before').length >= 60 && readyz.filter((r) => r.phase === 'before').length >= 2, 60_000);

      phase = 'stopping';
      const stopAt = Date.now();
      if (outage === 'stop') await db.stop();
      else if (outage === 'kill') await db.kill();
      else db.freeze();
      const stoppedAt = Date.now();
      phase = 'down';
      // The outage lasts its time (for a freeze: past every driver timeout), and until enough requests and probes were answered in it.
      await Promise.all([
        sleep(DOWN_MS[outage]),
        until(
          () => samples.filter((s) => s.startedAt >= stoppedAt).length >= (outage === 'freeze' ? 5 : 20) && readyz.filter((r) => r.at >= stoppedAt).length > 3,
          DOWN_MS[outage] + 60_000,
        ),
      ]);

      phase = 'starting';
      const startAt = Date.now();
      if (outage === 'freeze') db.thaw();
      else await db.start();
      const startedAt = Date.now();
      phase = 'recovering';
      // Ready again when a probe sent since the start answers 200.
      const readyAgain = () => readyz.find((r) => r.at >= startedAt && r.status === 200);
      await until(() => readyAgain() !== undefined, RECOVERY_BOUND_MS + 5_000);
      const ready = readyAgain();
      const readyAt = ready ? ready.at + ready.ms : 0;
      // Recovering until the load has been answered 60 times since (the pool's connections all used again, many times over).
      await until(() => samples.filter((s) => s.startedAt >= readyAt).length >= 60, 60_000);
      phase = 'after';
      // After: ten requests a worker, and a few probes.
      await until(() => samples.filter((s) => s.phase === 'after').length >= 120 && readyz.filter((r) => r.phase === 'after').length >= 3, 60_000);
      running = false;
      await Promise.all([...workers, watching]);

      const summary = (list: Sample[]) => ({
        n: list.length,
        ok: list.filter((s) => s.status === 200 && !s.body?.errors).length,
        p50: percentile(
          list.map((s) => s.ms),
          50,
        ),
        max: Math.max(0, ...list.map((s) => s.ms)),
      });
      const byPhase = Object.fromEntries(
        ['before', 'stopping', 'down', 'starting', 'recovering', 'after'].map((p) => [p, summary(samples.filter((s) => s.phase === p))]),
      );
      console.log(
        `database ${outage}: stop took ${stoppedAt - stopAt} ms; start took ${startedAt - startAt} ms; ready ${readyAt ? readyAt - startedAt : 'never'} ms after the start\n` +
          JSON.stringify(byPhase, null, 1),
      );

      // Every check is collected, so that one run reports everything that went wrong.
      const problems: string[] = [];
      const check = (ok: boolean, problem: string) => {
        if (!ok) problems.push(problem);
      };
      const few = <T>(list: T[], show: (t: T) => string) => list.slice(0, 5).map(show).join('; ') + (list.length > 5 ? `; … ${list.length} in all` : '');

      // No hang: every request got an answer, and soon.
      const unanswered = samples.filter((s) => s.status === 0);
      check(unanswered.length === 0, `requests without an answer: ${few(unanswered, (s) => `${s.op} in ${s.phase}: ${s.failure}`)}`);
      const slow = samples.filter((s) => s.ms > ANSWER_BOUND_MS[outage]);
      check(slow.length === 0, `requests slower than ${ANSWER_BOUND_MS[outage]} ms (a hang): ${few(slow, (s) => `${s.op} in ${s.phase} took ${s.ms} ms`)}`);

      // No 5xx but the outage's own (503 STORE_UNAVAILABLE with Retry-After), never a stack or a file path.
      const isStoreUnavailable = (s: Sample) =>
        s.status === 503 && s.retryAfter !== undefined && JSON.stringify(errorCodes(s.body)) === '["STORE_UNAVAILABLE"]';
      const fivexx = samples.filter((s) => s.status >= 500 && !isStoreUnavailable(s));
      check(fivexx.length === 0, `5xx answers: ${few(fivexx, (s) => `${s.op} ${s.status} ${s.text.slice(0, 120)}`)}`);
      const leaks = samples.map((s) => leakIn(s.text)).filter((l): l is string => l !== null);
      check(leaks.length === 0, `leaks: ${few(leaks, (l) => l)}`);

      // While it is down: every request fails, with the clear error of the contract.
      const down = samples.filter((s) => s.startedAt >= stoppedAt && s.endedAt <= startAt);
      // (While frozen, a request takes up to the statement timeout: fewer fit in the window.)
      check(down.length >= (outage === 'freeze' ? 5 : 20), `only ${down.length} requests were answered while the database was down`);
      const unclear = down.filter((s) => !isStoreUnavailable(s) || s.body?.errors?.[0]?.message !== UNAVAILABLE_MESSAGE);
      check(
        unclear.length === 0,
        `answers while down other than "${UNAVAILABLE_MESSAGE}": ${few(unclear, (s) => `${s.op}: ${s.status} ${s.text.slice(0, 160)}`)}`,
      );

      // /readyz: 200 before, 503 while down (answered within its own bound), 200 again after.
      const readyBefore = readyz.filter((r) => r.phase === 'before');
      check(
        readyBefore.every((r) => r.status === 200),
        `/readyz before the outage: ${readyBefore.map((r) => r.status).join(',')}`,
      );
      const readyDown = readyz.filter((r) => r.at >= stoppedAt && r.at + r.ms <= startAt);
      check(readyDown.length > 3, `/readyz answered only ${readyDown.length} times while the database was down`);
      check(
        readyDown.every((r) => r.status === 503),
        `/readyz while down: ${readyDown.map((r) => r.status).join(',')}`,
      );
      check(
        readyDown.every((r) => r.ms < 3_000),
        `/readyz while down took up to ${Math.max(0, ...readyDown.map((r) => r.ms))} ms`,
      );
      const readyOther = readyz.filter((r) => r.phase === 'down' && !readyDown.includes(r));
      check(
        readyOther.every((r) => r.status === 503 || r.status === 200),
        `/readyz around the outage: ${readyOther.map((r) => `${r.status} in ${r.ms} ms`).join(', ')}`,
      );
      check(
        readyAt > 0 && readyAt - startedAt < RECOVERY_BOUND_MS,
        `/readyz was 200 again ${readyAt ? `${readyAt - startedAt} ms` : 'never'} after the database answered`,
      );
      const readyAfter = readyz.filter((r) => r.phase === 'after');
      check(
        readyAfter.every((r) => r.status === 200),
        `/readyz after the recovery: ${readyAfter.map((r) => r.status).join(',')}`,
      );

      // Recovered without a restart: same process, and every request after the recovery succeeds.
      check(g.child.exitCode === null && g.child.signalCode === null, `the gateway exited (${g.child.exitCode ?? g.child.signalCode})`);
      const after = samples.filter((s) => s.phase === 'after');
      check(after.length > 20, `only ${after.length} requests after the recovery`);
      const failedAfter = after.filter((s) => s.status !== 200 || s.body?.errors);
      check(failedAfter.length === 0, `failures after the recovery: ${few(failedAfter, (s) => `${s.op}: ${s.text.slice(0, 160)}`)}`);

      // No token lost or changed: the seeded ones read back identical, every field;
      // every acknowledged write of the load is there as acknowledged.
      for (const t of seeded) {
        const now = (await gql(BY_ID, { id: t.id })).body?.data?.tokenById;
        check(JSON.stringify(now) === JSON.stringify(t), `seeded token ${t.userName} changed: ${JSON.stringify(now)}`);
      }
      // Or, where an update after it failed with an unknown outcome, that update whole (and nothing else changed).
      const withoutUpdate = (x: any) => JSON.stringify({ ...x, accessToken: null, expiresAt: null, updatedAt: null, status: null });
      for (const [id, t] of acked) {
        const now = (await gql(BY_ID, { id })).body?.data?.tokenById;
        const asAcknowledged = JSON.stringify(now) === JSON.stringify(t);
        const asAnUnsettledUpdate =
          now && (unsettled.get(id) ?? []).includes(now.accessToken) && now.status === 'ACTIVE' && withoutUpdate(now) === withoutUpdate(t);
        check(asAcknowledged || asAnUnsettledUpdate, `acknowledged write of ${t.userName} is not what is stored: ${JSON.stringify(now)}`);
        if (asAnUnsettledUpdate) console.log(`${t.userName}: an update that failed (its COMMIT unanswered) was stored, as it may be`);
      }

      // And in the database: one row per user name, each a seeded or attempted one, nothing torn.
      const conn = await db.connect(database);
      try {
        const [rows] = (await conn.query(
          'SELECT id, user_name, user_name_hash, refresh_token, refresh_token_hash, access_token, access_token_hash, key_id FROM oauthtoken',
        )) as [any[], unknown];
        const names = rows.map((r) => r.user_name as string);
        check(new Set(names).size === rows.length, 'two rows share a user name');
        for (const name of names) check(name.startsWith('seed-') || attemptedNames.has(name), `a row nobody wrote: ${name}`);
        for (const t of [...seeded, ...acked.values()]) check(names.includes(t.userName), `lost: ${t.userName}`);
        for (const r of rows) {
          check(r.user_name_hash !== null && r.key_id !== null, `row ${r.id} lacks its user name hash or key id`);
          check((r.refresh_token === null) === (r.refresh_token_hash === null), `row ${r.id}: refresh token and its hash disagree`);
          check((r.access_token === null) === (r.access_token_hash === null), `row ${r.id}: access token and its hash disagree`);
        }
      } finally {
        await conn.end();
      }
      expect(problems).toEqual([]);
    },
  );
});
