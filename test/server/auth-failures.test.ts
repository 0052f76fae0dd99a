import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { Counter, Registry } from 'prom-client';
import { createLogger } from '../../src/logger';
import { AuthFailureLog } from '../../src/server/auth-failures';
import { startTestGateway, type TestGateway } from '../support/gateway';

const REFUSED = 'request refused: missing or wrong API key';

/** The 12-hex-digit hash of a key, as the log shows it instead of the key. */
const keyHash = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 12);

/** A counter of refused requests by reason, in a registry of its own. */
const failureCounter = () => new Counter({ name: 'auth_failures_total', help: 'x', labelNames: ['reason'] as const, registers: [new Registry()] });

/** The counter's values as [reason, count] pairs. */
const countsOf = async (counter: ReturnType<typeof failureCounter>) => (await counter.get()).values.map((v) => [v.labels.reason, v.value]);

/** Every line a test gateway logged, parsed. */
const logLinesOf = (gw: TestGateway) =>
  gw
    .logs()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** `tokengate_auth_failures_total` of a reason, as the gateway's /metrics says it (0 when absent). */
async function countedAt(gw: TestGateway, reason: string): Promise<number> {
  const m = new RegExp(`^tokengate_auth_failures_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(await (await fetch(`${gw.url}/metrics`)).text());
  return m ? Number(m[1]) : 0;
}

function lineSink() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, logger: createLogger('info', sink) };
}

describe('AuthFailureLog', () => {
  it('logs at most the window limit, sums up the rest when the window ends, and counts every failure', async () => {
    const { lines, logger } = lineSink();
    const counter = failureCounter();
    let now = 1_000_000;
    const log = new AuthFailureLog({ logger, counter, maxLinesPerWindow: 3, windowMs: 60_000, now: () => now });
    for (let i = 0; i < 10; i++) log.record({ authorization: `Bearer wrong-${i}`, remoteAddress: '10.0.0.9', requestId: `r${i}` });
    expect(lines.filter((l) => l.msg === REFUSED)).toHaveLength(3);
    now += 60_000;
    log.record({ authorization: undefined, remoteAddress: '10.0.0.9', requestId: 'next' });
    log.flushSummary();
    expect(lines.map((l) => l.notLogged).filter(Boolean)).toEqual([7]);
    expect(lines.filter((l) => l.msg === REFUSED)).toHaveLength(4);
    expect(await countsOf(counter)).toEqual(
      expect.arrayContaining([
        ['unknown_key', 10],
        ['missing', 1],
      ]),
    );
  });
  it('hashes a key sent outside a header, takes the reason the route knows, and logs the route', async () => {
    const { lines, logger } = lineSink();
    const counter = failureCounter();
    const log = new AuthFailureLog({ logger, counter });
    const key = 'a-dashboard-key-0123456789';
    log.record({ presentedKey: key, route: 'dashboard', remoteAddress: '10.0.0.9', requestId: 'd1' });
    log.record({ authorization: 'Bearer expired.credential.sig', reason: 'expired', route: 'api', remoteAddress: '10.0.0.9', requestId: 'p1' });
    expect(lines).toEqual([
      expect.objectContaining({ reason: 'unknown_key', keyHash: keyHash(key), route: 'dashboard', reqId: 'd1' }),
      expect.objectContaining({
        reason: 'expired',
        keyHash: keyHash('expired.credential.sig'),
        route: 'api',
        reqId: 'p1',
      }),
    ]);
    expect(JSON.stringify(lines)).not.toContain(key);
    expect(JSON.stringify(lines)).not.toContain('credential.sig');
    expect(await countsOf(counter)).toEqual(
      expect.arrayContaining([
        ['unknown_key', 1],
        ['expired', 1],
      ]),
    );
  });
});

describe('a request with a missing or wrong API key', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ store: 'memory' });
  });
  afterAll(async () => {
    await gw?.close();
  });

  const refusedLines = () => logLinesOf(gw).filter((l) => l.msg === REFUSED);

  it('is logged with the reason, a hash of the key (never the key), the remote address and the request id, and counted', async () => {
    const wrong = `not-a-key-${Date.now()}-abcdef`;
    const bad = await gw.gql('{ tokens { totalCount } }', {}, wrong);
    const none = await gw.gql('{ tokens { totalCount } }', {}, null);
    const malformed = await gw.gql('{ tokens { totalCount } }', {}, null, { authorization: `Basic ${wrong}` });
    for (const r of [bad, none, malformed]) expect(r.status).toBe(401);

    const lines = refusedLines();
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'warn',
        reason: 'unknown_key',
        keyHash: keyHash(wrong),
        remoteAddress: '127.0.0.1',
        reqId: bad.headers.get('x-request-id'),
      }),
      expect.objectContaining({ reason: 'missing', remoteAddress: '127.0.0.1', reqId: none.headers.get('x-request-id') }),
      expect.objectContaining({ reason: 'malformed', reqId: malformed.headers.get('x-request-id') }),
    ]);
    expect(gw.logs()).not.toContain(wrong);
    expect(gw.logs()).not.toContain(wrong.slice(0, 8));

    expect([await countedAt(gw, 'unknown_key'), await countedAt(gw, 'missing'), await countedAt(gw, 'malformed')]).toEqual([1, 1, 1]);
  });

  it('cannot flood the log: past the limit a window gets no more lines, but the metric counts them all', async () => {
    const before = refusedLines().length;
    await Promise.all(Array.from({ length: 100 }, (_, i) => gw.gql('{ __typename }', {}, `flood-key-${i}-0123456789`)));
    expect(before).toBe(3);
    expect(refusedLines().length).toBeLessThanOrEqual(20);
    expect(await countedAt(gw, 'unknown_key')).toBe(101);
  });
});

describe('failed dashboard sign-ins', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ store: 'memory' });
  });
  afterAll(async () => {
    await gw?.close();
  });

  const logLines = () => logLinesOf(gw);
  const signIn = async (apiKey: string) => {
    const res = await fetch(`${gw.url}/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' },
      body: JSON.stringify({ apiKey }),
    });
    await res.arrayBuffer();
    return { status: res.status, requestId: res.headers.get('x-request-id')! };
  };
  const counted = (reason: string) => countedAt(gw, reason);

  it('go to the same rate-limited log as the API: a burst logs a bounded number of lines, the metric counts them all, no key is logged', async () => {
    const wrong = `not-a-key-${Date.now()}-abcdef`;
    const first = await signIn(wrong);
    expect(first.status).toBe(401);
    expect(logLines().filter((l) => l.reqId === first.requestId)).toEqual([
      expect.objectContaining({
        level: 'warn',
        msg: REFUSED,
        reason: 'unknown_key',
        route: 'dashboard',
        keyHash: keyHash(wrong),
        remoteAddress: '127.0.0.1',
      }),
    ]);

    const burst = await Promise.all(Array.from({ length: 100 }, (_, i) => signIn(`flood-key-${i}-0123456789`)));
    expect(burst.map((r) => r.status)).toEqual(Array(100).fill(401));
    const ids = new Set(burst.map((r) => r.requestId));
    // Whatever the message: lines about the burst's requests, at most the window's 20 (less the one above).
    expect(logLines().filter((l) => ids.has(l.reqId as string)).length).toBeLessThanOrEqual(19);
    expect(logLines().filter((l) => l.msg === REFUSED).length).toBeLessThanOrEqual(20);
    expect(await counted('unknown_key')).toBe(101);

    // One log for the app: the window the dashboard filled holds for GraphQL and the proxy too, and the metric counts them.
    const gql = await gw.gql('{ __typename }', {}, 'another-wrong-key-0123456789');
    const api = await fetch(`${gw.url}/api/some-token/crm/v8/Leads`);
    expect([gql.status, api.status]).toEqual([401, 401]);
    const late = new Set([gql.headers.get('x-request-id'), api.headers.get('x-request-id')]);
    expect(logLines().filter((l) => late.has(l.reqId as string))).toEqual([]);
    expect(await counted('unknown_key')).toBe(102);
    expect(await counted('missing')).toBe(1);

    expect(gw.logs()).not.toContain(wrong);
    expect(gw.logs()).not.toContain('flood-key-');
  });
});
