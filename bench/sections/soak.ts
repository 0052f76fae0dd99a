/**
 * Soak: one gateway process per store, on a private copy of the small
 * (10,000-token) table, with a fake Zoho Accounts server answering refreshes
 * after 50 ms, driven for `BENCH_SOAK_SECONDS` (600; 30 with `--quick`) at a
 * steady 300 requests/s — an open loop: request n is sent at n / 300 s
 * whether or not the earlier ones were answered, so a slow gateway shows as
 * latency and a falling answer rate, never as a lower send rate. Requests go
 * over at most 64 kept-alive connections (`http.Agent`, used round-robin);
 * a request waits for a free one, and that wait counts in its latency. (An
 * unbounded client — `fetch` — opens a connection per request in flight: a
 * hiccup of the gateway then sends hundreds of SYNs at once, overflows its
 * listen backlog, and the dropped connections wait out TCP's 1 + 2 + 4 s SYN
 * retries: 7–8 s "latencies" that measure the kernel, not the gateway.)
 * The mix, drawn at random per request:
 *
 * - 40% `tokenById` and 40% `token(match: { userName })` of a random
 *   seeded token (viewer key);
 * - 15% `saveToken({ id, accessToken, expiresAt })`: a refresh-like update
 *   of a random seeded token (operator key);
 * - 5% `refresh(id)` of one of 500 tokens registered with the fake Accounts
 *   server (operator key): an upstream call each (or shared, when two land on
 *   one token at once).
 *
 * An error is any answer other than HTTP 200, any GraphQL `errors`, an
 * answer without the expected data, a network error or no answer within
 * 10 s. Latency: from the request's start to the end of its answer, every
 * request of the whole run. The gateway's resident set size (`VmRSS`) is
 * sampled every few seconds: "at start" is the median of the samples just
 * after a warm-up (10% of the run, 3–30 s), "at the end" the median of the
 * last samples (each window 10% of the run, at least 3 samples), so that one
 * garbage collection does not decide the leak ratio; the peak is `VmHWM`.
 *
 * The copy (SQLite `VACUUM INTO` a file of the run's directory; MariaDB a
 * table `oauthtoken_soak` next to the dataset's, in the dataset's scratch
 * database) keeps the shared tables as the other sections seeded them, and
 * goes away with the run's directory and databases even after a Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { auditTableOf } from '../../src/stores/sql/migrations/audit-log';
import { openStore } from '../../src/stores/open-store';
import { startFakeAccountsServer } from '../../test/support/fake-accounts-server';
import type { GatewayProcess } from '../../test/support/process-gateway';
import { MYSQL_ADMIN_URL } from '../../test/support/mysql';
import { gql, sleep, type BenchContext } from '../lib/context';
import { MYSQL_TABLE, type Dataset } from '../lib/datasets';
import type { BenchStore } from '../lib/options';
import { LOOP_RESOLUTION_MS } from '../lib/loop-block-preload';
import { cpuSecondsOrNull, loadAverage, statusKb } from '../lib/proc';
import { figure } from '../lib/report';
import { median, percentile, round, Samples } from '../lib/stats';
import { BY_ID_QUERY, BY_NAME_QUERY, sizeLabel } from './http';

/** Requests per second asked, in all. */
const RATE = 300;
const PROVIDER_DELAY_MS = 20;
/** Tokens the fake Accounts server knows (the refresh targets). */
const REFRESHABLE = 500;
const TIMEOUT_MS = 10_000;
/** Kept-alive connections to the gateway, at most. */
const CONNECTIONS = 64;
const SOAK_TABLE = 'oauthtoken_soak';
/**
 * p99 over the whole mix, under 50 ms (issue #17). 5% of the requests are
 * refreshes, so the p99 lies among them: the provider's answer time plus the
 * gateway's. The fake provider answers in 20 ms (it was 50 ms, which alone
 * put the p99 at or above 50 ms whatever the gateway did), so that the p99
 * measures the gateway: its queueing behind a blocked event loop, GC pauses,
 * locks. A real Zoho refresh takes a few hundred ms; it is 5% of this mix.
 */
const P99_TARGET_MS = 50;
/**
 * The longest the gateway's event loop may be blocked (ms, as `monitorEventLoopDelay` measures it,
 * its 10 ms resolution included): a block holds every request in flight.
 */
const LOOP_BLOCK_TARGET_MS = 50;
/** The answer rate may fall at most 5% short of the asked one (an open loop: anything less is a gateway falling behind, or failing). */
const RATE_TARGET = 0.95;
/** No leak: RSS at the end at most 20% above RSS after the warm-up. */
const RSS_TARGET = 1.2;

type Op = 'tokenById' | 'token(userName)' | 'saveToken' | 'refresh';
const OPS: readonly Op[] = ['tokenById', 'token(userName)', 'saveToken', 'refresh'];
/** Cumulative shares of the mix, in the order of OPS. */
const MIX: ReadonlyArray<[Op, number]> = [
  ['tokenById', 0.4],
  ['token(userName)', 0.8],
  ['saveToken', 0.95],
  ['refresh', 1],
];

const SAVE_MUTATION = 'mutation Save($t: TokenInput!) { saveToken(token: $t) { id status expiresAt } }';
const REFRESH_MUTATION = 'mutation Refresh($id: ID!) { refresh(id: $id) { id status accessToken } }';

const pick = <T>(a: readonly T[]) => a[Math.floor(Math.random() * a.length)]!;
const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const mb = (kb: number) => round(kb / 1024, 1);

export async function soakSection(ctx: BenchContext): Promise<void> {
  for (const kind of ctx.options.stores) await soakOn(ctx, kind);
}

/** A private copy of a dataset's table, and how to point a gateway at it. */
interface SoakTable {
  gatewayEnv: Record<string, string>;
  drop(): Promise<void>;
}

async function copyTable(ctx: BenchContext, ds: Dataset): Promise<SoakTable> {
  const so = ds.storeOptions;
  if (so.kind === 'sqlite') {
    const file = path.join(ctx.workDir, 'soak-sqlite.db');
    const remove = async () => {
      for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) fs.rmSync(f, { force: true });
    };
    await remove();
    const src = new Database(so.path);
    try {
      src.prepare('VACUUM INTO ?').run(file);
    } finally {
      src.close();
    }
    return { gatewayEnv: { ...ds.gatewayEnv, TOKENGATE_SQLITE_PATH: file }, drop: remove };
  }
  const database = new URL(so.url).pathname.slice(1);
  const tables = [auditTableOf(SOAK_TABLE), `${SOAK_TABLE}_migrations`, SOAK_TABLE];
  const admin = async (sql: string) => {
    const conn = await mysql.createConnection({ uri: MYSQL_ADMIN_URL });
    try {
      await conn.query(sql);
    } finally {
      await conn.end();
    }
  };
  const drop = () => admin(`DROP TABLE IF EXISTS ${tables.map((t) => `\`${database}\`.\`${t}\``).join(', ')}`);
  await drop();
  try {
    // The store's migration creates the table (and its audit and migrations tables); the rows are copied verbatim.
    await (await openStore({ ...so, table: SOAK_TABLE, poolSize: 2 }, ctx.datasets.keyring)).close();
    await admin(`INSERT INTO \`${database}\`.\`${SOAK_TABLE}\` SELECT * FROM \`${database}\`.\`${MYSQL_TABLE}\``);
  } catch (err) {
    await drop().catch(() => undefined);
    throw err;
  }
  return { gatewayEnv: { ...ds.gatewayEnv, TOKENGATE_MYSQL_TABLE: SOAK_TABLE }, drop };
}

/**
 * The gateway's event-loop delays (written by loop-block-preload) within a run: the longest of
 * all, after the warm-up, per window, how many seconds had one over the target, and the five longest.
 * These are the main thread's, the loop that serves every request; a worker thread's (the SQLite
 * writer's, blocked by each COMMIT's fsync by design) are only reported beside them.
 */
function loopBlocks(
  file: string,
  fromMs: number,
  toMs: number,
  warmupS: number,
  windowS: number,
  windowCount: number,
  benchStalls: ReadonlyArray<{ at: number; ms: number }>,
) {
  let lines: string[] = [];
  try {
    lines = fs.readFileSync(file, 'utf8').split('\n');
  } catch {
    // no file: the preload did not run (reported as unknown)
  }
  // Each line covers the second before its time stamp.
  const all = lines
    .map((l) => l.split(' '))
    .map(([at, ms, gcMs, gcKind, thread]) => ({ at: Number(at), ms: Number(ms), gcMs: Number(gcMs), gcKind, thread }))
    .filter(({ at, ms }) => Number.isFinite(at) && Number.isFinite(ms) && at > fromMs && at - 1000 < toMs)
    .map((x) => ({ ...x, s: (x.at - fromMs) / 1000 }));
  const seconds = all.filter((x) => x.thread === 'main');
  const workers = all.filter((x) => x.thread !== 'main');
  // The load generator's own longest stall in the same second (a stall of both is the machine's).
  const benchStallNear = (at: number) => {
    const near = benchStalls.filter((b) => b.at > at - 1500 && b.at <= at + 500).map((b) => b.ms);
    return near.length ? round(Math.max(...near), 1) : null;
  };
  const max = (xs: Array<{ ms: number }>) => (xs.length ? Math.max(...xs.map((x) => x.ms)) : null);
  return {
    seconds: seconds.length,
    maxMs: max(seconds),
    maxAfterWarmupMs: max(seconds.filter((x) => x.s > warmupS)),
    /** The worker threads' longest delay (the SQLite writer's: a COMMIT waits for its fsync there); null without workers. */
    workerMaxMs: max(workers),
    secondsOver: seconds.filter((x) => x.ms > LOOP_BLOCK_TARGET_MS).length,
    longest: [...seconds]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 5)
      .map((x) => ({ atS: round(x.s, 1), ms: x.ms, gcPauseMs: x.gcMs, gcKind: x.gcKind, loadGeneratorStallMs: benchStallNear(x.at) })),
    windows: Array.from({ length: windowCount }, (_, i) =>
      max(seconds.filter((x) => x.s > i * windowS && x.s <= (i + 1) * windowS + (i === windowCount - 1 ? 2 : 0))),
    ),
  };
}

/** The sum of a metric's samples in a Prometheus text exposition (null when absent). */
function metric(text: string, name: string): number | null {
  let sum: number | null = null;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum = (sum ?? 0) + Number(m[1]);
  return sum;
}

/**
 * The V8 heap of the gateway, from its own metrics (null where they cannot be read), and the
 * longest its event loop was blocked since the previous scrape (prom-client resets it on each).
 */
async function heapMb(url: string): Promise<{ heapUsedMb: number | null; heapTotalMb: number | null; externalMb: number | null; loopLagMaxMs: number | null }> {
  const text = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })
    .then((r) => r.text())
    .catch(() => '');
  const m = (v: number | null) => (v === null ? null : round(v / 2 ** 20, 1));
  return {
    heapUsedMb: m(metric(text, 'tokengate_nodejs_heap_size_used_bytes')),
    heapTotalMb: m(metric(text, 'tokengate_nodejs_heap_size_total_bytes')),
    externalMb: m(metric(text, 'tokengate_nodejs_external_memory_bytes')),
    loopLagMaxMs: ((v) => (v === null ? null : round(v * 1000, 1)))(metric(text, 'tokengate_nodejs_eventloop_lag_max_seconds')),
  };
}

interface OpStats {
  sent: number;
  ok: number;
  errors: number;
  latency: Samples;
}

interface Window {
  fromS: number;
  sent: number;
  errors: number;
  latency: Samples;
}

interface RssSample {
  s: number;
  kb: number;
  /** Cores' worth of CPU the gateway used since the previous sample. */
  cores: number | null;
}

/** The state letter of a process's main thread (`R`, `S`, `D` …) and, when in `D` (waiting on I/O), its kernel wait channel. */
function mainThreadState(pid: number): { state: string; wchan: string | null } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '?';
  let wchan: string | null = null;
  if (state === 'D') {
    try {
      const w = fs.readFileSync(`/proc/${pid}/wchan`, 'utf8').trim();
      wchan = w === '' || w === '0' ? '?' : w; // '0' where the kernel does not tell
    } catch {
      wchan = '?';
    }
  }
  return { state, wchan };
}

/**
 * POSTs a GraphQL body through `agent`. Rejects on a network error, or with a
 * `TimeoutError` when the answer is not complete TIMEOUT_MS after the call
 * (time spent waiting for a free connection included).
 */
function post(agent: http.Agent, host: string, port: number, auth: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, value?: { status: number; text: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value!);
    };
    const req = http.request(
      {
        host,
        port,
        path: '/graphql',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: auth },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish(null, { status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (e) => finish(e));
        res.on('close', () => {
          if (!res.complete) finish(new Error('connection closed before the whole answer'));
        });
      },
    );
    const timer = setTimeout(() => {
      const e = new Error(`no answer in ${TIMEOUT_MS} ms`);
      e.name = 'TimeoutError';
      finish(e);
      req.destroy(e);
    }, TIMEOUT_MS);
    req.on('error', (e) => finish(e));
    req.end(body);
  });
}

/** The outcome of one request: null when it is as expected, else why not (a short, groupable reason). */
function checkAnswer(op: Op, status: number, text: string, id: string | null): string | null {
  if (status !== 200) return `HTTP ${status}`;
  let body: { data?: Record<string, Record<string, unknown> | null> | null; errors?: Array<{ message?: string; extensions?: { code?: string } }> };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return 'not JSON';
  }
  if (body.errors?.length) {
    const e = body.errors[0]!;
    return `GraphQL ${e.extensions?.code ?? ''}: ${String(e.message).slice(0, 120)}`;
  }
  const field = op === 'tokenById' ? 'tokenById' : op === 'token(userName)' ? 'token' : op;
  const value = body.data?.[field];
  if (!value || typeof value.id !== 'string') return `no ${field} in the answer`;
  if (id !== null && value.id !== id) return `${field} answered another token`;
  if (op === 'refresh' && !value.accessToken) return 'refresh answered no access token';
  return null;
}

async function soakOn(ctx: BenchContext, kind: BenchStore): Promise<void> {
  const { options, log } = ctx;
  const seconds = options.soakSeconds;
  const ds = await ctx.datasets.get(kind, 'small');
  const sampleEveryS = Math.min(5, Math.max(1, Math.round(seconds / 120)));
  const warmupS = Math.min(30, Math.max(3, Math.round(seconds * 0.1)));
  const rssWindowS = Math.max(3 * sampleEveryS, Math.round(seconds * 0.1));
  const windowCount = 10;
  const windowS = seconds / windowCount;

  const accounts = await startFakeAccountsServer({ delayMs: PROVIDER_DELAY_MS });
  const loopFile = path.join(ctx.workDir, `soak-${kind}-loop.txt`);
  let table: SoakTable | null = null;
  let gw: GatewayProcess | null = null;
  let agent: http.Agent | null = null;
  try {
    table = await copyTable(ctx, ds);
    fs.rmSync(loopFile, { force: true });
    gw = await ctx.startGateway(`soak-${kind}`, {
      ...table.gatewayEnv,
      TOKENGATE_ACCOUNTS_URL: accounts.url,
      NODE_OPTIONS: `--require ${path.join(__dirname, '..', 'lib', 'loop-block-preload.js')}`,
      BENCH_LOOP_BLOCK_FILE: loopFile,
    });
    const { url, pid } = gw;
    const host = new URL(url).hostname;
    const port = Number(new URL(url).port);

    // The refresh targets: tokens of a client the fake Accounts server knows (no API domain:
    // their accounts URL is the gateway's default, the fake server).
    const clientId = '1000.BENCHSOAK';
    const clientSecret = `bench-soak-${hex(8)}`;
    accounts.addClient(clientId, clientSecret);
    const refreshIds: string[] = [];
    let nextRefreshable = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = nextRefreshable++; i < REFRESHABLE; i = nextRefreshable++) {
          const saved = await gql<{ saveToken: { id: string } }>(url, ctx.keys.admin, 'mutation($t: TokenInput!) { saveToken(token: $t) { id } }', {
            t: { userName: `bench-soak-refresh-${i}@example.com`, clientId, clientSecret, refreshToken: accounts.addRefreshToken(clientId) },
          });
          refreshIds.push(saved.saveToken.id);
        }
      }),
    );

    log(
      `soak ${kind}: ${seconds} s at ${RATE} req/s on a copy of the ${sizeLabel(ds.size)} table (+${REFRESHABLE} refreshable tokens); ` +
        `RSS every ${sampleEveryS} s, start after ${warmupS} s`,
    );

    const pool = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS, scheduling: 'fifo' });
    agent = pool;
    const stats = new Map<Op, OpStats>(OPS.map((op) => [op, { sent: 0, ok: 0, errors: 0, latency: new Samples() }]));
    const all = new Samples();
    const windows: Window[] = Array.from({ length: windowCount }, (_, i) => ({ fromS: round(i * windowS, 1), sent: 0, errors: 0, latency: new Samples() }));
    const reasons = new Map<string, { count: number; op: Op; firstAtS: number }>();
    const rss: RssSample[] = [];
    let rssError: string | null = null;
    let okInRun = 0;
    let maxSendLagMs = 0;
    let maxInFlight = 0;
    const inFlight = new Set<Promise<void>>();
    const durationMs = seconds * 1000;
    const viewerAuth = `Bearer ${ctx.keys.viewer}`;
    const operatorAuth = `Bearer ${ctx.keys.operator}`;

    const requestFor = (op: Op): { body: string; auth: string; id: string | null } => {
      switch (op) {
        case 'tokenById': {
          const id = pick(ds.ids);
          return { body: JSON.stringify({ query: BY_ID_QUERY, variables: { id } }), auth: viewerAuth, id };
        }
        case 'token(userName)':
          return { body: JSON.stringify({ query: BY_NAME_QUERY, variables: { u: pick(ds.userNames) } }), auth: viewerAuth, id: null };
        case 'saveToken': {
          const id = pick(ds.ids);
          const t = { id, accessToken: `1000.${hex(16)}.${hex(16)}`, expiresAt: new Date(Date.now() + 3_600_000).toISOString() };
          return { body: JSON.stringify({ query: SAVE_MUTATION, variables: { t } }), auth: operatorAuth, id };
        }
        case 'refresh': {
          const id = pick(refreshIds);
          return { body: JSON.stringify({ query: REFRESH_MUTATION, variables: { id } }), auth: operatorAuth, id };
        }
      }
    };

    // Where the time went, to tell a slow gateway from a starved machine or load generator:
    // the gateway's CPU time, this process's, and this process's event-loop delay.
    const gwCpu0 = cpuSecondsOrNull(pid);
    const benchCpu0 = process.cpuUsage();
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    // This process's longest event-loop delay in each second, to hold against the gateway's blocks.
    const benchSecond = monitorEventLoopDelay({ resolution: 10 });
    benchSecond.enable();
    const benchStalls: Array<{ at: number; ms: number }> = [];
    const benchTick = setInterval(() => {
      benchStalls.push({ at: Date.now(), ms: benchSecond.max / 1e6 });
      benchSecond.reset();
    }, 1000);
    const started = performance.now();
    const startedEpochMs = Date.now();
    const elapsedS = () => (performance.now() - started) / 1000;
    const send = (op: Op) => {
      const s = stats.get(op)!;
      const w = windows[Math.min(windowCount - 1, Math.floor(elapsedS() / windowS))]!;
      s.sent++;
      w.sent++;
      const { body, auth, id } = requestFor(op);
      const t0 = performance.now();
      const done = (async () => {
        let reason: string | null;
        try {
          const res = await post(pool, host, port, auth, body);
          reason = checkAnswer(op, res.status, res.text, id);
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          reason = e.name === 'TimeoutError' ? `no answer in ${TIMEOUT_MS / 1000} s` : `network: ${e.code ?? e.message}`;
        }
        const now = performance.now();
        const ms = now - t0;
        all.push(ms);
        s.latency.push(ms);
        w.latency.push(ms);
        if (reason === null) {
          s.ok++;
          if (now - started <= durationMs) okInRun++;
          return;
        }
        s.errors++;
        w.errors++;
        const r = reasons.get(`${op}: ${reason}`);
        if (r) r.count++;
        else {
          reasons.set(`${op}: ${reason}`, { count: 1, op, firstAtS: round((t0 - started) / 1000, 1) });
          log(`  soak ${kind}: ${op} failed at ${round((t0 - started) / 1000, 1)} s: ${reason}`);
        }
      })();
      inFlight.add(done);
      maxInFlight = Math.max(maxInFlight, inFlight.size);
      void done.finally(() => inFlight.delete(done));
    };

    // Every sample also records the gateway's CPU since the previous one and whether its main
    // thread (the event loop, and better-sqlite3's synchronous calls) is blocked on I/O: a stall
    // with the CPU idle and the thread in `D` is the disk (an fsync), not the gateway's code.
    let lastCpu: { s: number; cpu: number | null } = { s: 0, cpu: gwCpu0 };
    const blockedOn = new Map<string, number>();
    let stateSamples = 0;
    const sampleRss = () => {
      try {
        const s = elapsedS();
        const cpuNow = cpuSecondsOrNull(pid);
        let cores: number | null = null;
        if (s - lastCpu.s >= 0.5 || cpuNow === null) {
          cores = cpuNow === null || lastCpu.cpu === null ? null : round((cpuNow - lastCpu.cpu) / (s - lastCpu.s), 2);
          lastCpu = { s, cpu: cpuNow };
        }
        rss.push({ s: round(s, 1), kb: statusKb(pid, 'VmRSS'), cores });
        const { wchan } = mainThreadState(pid);
        stateSamples++;
        if (wchan !== null) blockedOn.set(wchan, (blockedOn.get(wchan) ?? 0) + 1);
      } catch (err) {
        rssError ??= (err as Error).message;
      }
    };
    sampleRss();
    const sampler = setInterval(sampleRss, sampleEveryS * 1000);
    let heapAtStart: ReturnType<typeof heapMb> | null = null;
    let nextReport = 1;
    // On Ctrl-C (run.ts stops the gateways, drops the databases and exits), stop sending at once:
    // requests still arriving on the kept-alive connections would hold the gateway's graceful shutdown open.
    let interrupted = false;
    const onSignal = () => {
      interrupted = true;
      pool.destroy();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      let sent = 0;
      for (;;) {
        const now = performance.now() - started;
        if (now >= durationMs || interrupted) break;
        // Everything due by now: request n is due at n / RATE s (an open loop).
        const due = Math.floor((now / 1000) * RATE) + 1;
        if (due > sent + 1) maxSendLagMs = Math.max(maxSendLagMs, now - (sent / RATE) * 1000);
        for (; sent < due; sent++) {
          const r = Math.random();
          send(MIX.find(([, upTo]) => r < upTo)?.[0] ?? 'tokenById');
        }
        if (now >= warmupS * 1000) heapAtStart ??= heapMb(url);
        if (now >= nextReport * windowS * 1000) {
          const w = windows[nextReport - 1]!;
          const sorted = w.latency.sorted();
          log(
            `  soak ${kind}: ${Math.round(now / 1000)}/${seconds} s, ${w.sent} requests in the last ${Math.round(windowS)} s, ${w.errors} errors, ` +
              `answered so far: p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms; RSS ${rss.length ? Math.round(rss[rss.length - 1]!.kb / 1024) : '?'} MB`,
          );
          nextReport++;
        }
        await sleep(Math.max(1, (sent / RATE) * 1000 - (performance.now() - started)));
      }
      sampleRss();
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      clearInterval(sampler);
      // Let every request end (answered or timed out: at most TIMEOUT_MS).
      await Promise.allSettled([...inFlight]);
      loopDelay.disable();
      benchSecond.disable();
      clearInterval(benchTick);
    }
    const wallS = (performance.now() - started) / 1000;
    const gwCpu1 = cpuSecondsOrNull(pid);
    const benchCpu = process.cpuUsage(benchCpu0);
    const cpu = {
      /** Cores' worth of CPU the gateway used over the run (1 = one core busy throughout). */
      gatewayCores: gwCpu0 === null || gwCpu1 === null ? null : round((gwCpu1 - gwCpu0) / wallS, 3),
      benchCores: round((benchCpu.user + benchCpu.system) / 1e6 / wallS, 3),
      benchLoopDelayP99Ms: round(loopDelay.percentile(99) / 1e6, 1),
      benchLoopDelayMaxMs: round(loopDelay.max / 1e6, 1),
      /** Samples that found the gateway's main thread waiting on I/O, by kernel wait channel (of `stateSamples`). */
      gatewayBlockedOnIo: Object.fromEntries(blockedOn),
      stateSamples,
      loadAverageAtEnd: loadAverage(),
    };
    const runS = seconds;
    let peakKb: number;
    try {
      peakKb = statusKb(pid, 'VmHWM');
    } catch (err) {
      // The process is gone (its requests failed and were counted): the largest sample is all there is.
      ctx.notes.push(`soak ${kind}: the gateway process could not be read at the end (${(err as Error).message})`);
      peakKb = Math.max(...rss.map((x) => x.kb));
    }
    const heapAtEnd = await heapMb(url);
    const loop = loopBlocks(loopFile, startedEpochMs, Date.now(), warmupS, windowS, windowCount, benchStalls);
    const upstream = accounts.count('refresh_token');

    const inRange = (from: number, to: number) => rss.filter((x) => x.s >= from && x.s <= to).map((x) => x.kb);
    let startKbs = inRange(warmupS, warmupS + rssWindowS);
    if (startKbs.length === 0) startKbs = rss.slice(0, 3).map((x) => x.kb);
    let endKbs = inRange(runS - rssWindowS, Infinity);
    if (endKbs.length === 0) endKbs = rss.slice(-3).map((x) => x.kb);
    if (startKbs.length === 0 || endKbs.length === 0) throw new Error(`soak ${kind}: no RSS samples of the gateway (${rssError ?? 'none taken'})`);
    const startKb = median(startKbs);
    const endKb = median(endKbs);

    const sorted = all.sorted();
    const sent = [...stats.values()].reduce((n, s) => n + s.sent, 0);
    const errors = [...stats.values()].reduce((n, s) => n + s.errors, 0);
    const achieved = okInRun / runS;
    const perOp = Object.fromEntries(
      OPS.map((op) => {
        const s = stats.get(op)!;
        const l = s.latency.sorted();
        return [
          op,
          {
            sent: s.sent,
            ok: s.ok,
            errors: s.errors,
            p50: round(percentile(l, 50), 2),
            p99: round(percentile(l, 99), 2),
            max: round(l[l.length - 1] ?? NaN, 1),
          },
        ];
      }),
    );
    const windowRows = windows.map((w) => {
      const l = w.latency.sorted();
      const inWindow = rss.filter((x) => x.s >= w.fromS && x.s <= w.fromS + windowS);
      const cores = inWindow.map((x) => x.cores).filter((c): c is number => c !== null);
      return {
        fromS: w.fromS,
        sent: w.sent,
        errors: w.errors,
        p50: round(percentile(l, 50), 2),
        p99: round(percentile(l, 99), 2),
        rssMb: inWindow.length ? mb(inWindow[inWindow.length - 1]!.kb) : null,
        gatewayCores: cores.length ? round(cores.reduce((a, b) => a + b, 0) / cores.length, 2) : null,
        loopBlockMaxMs: loop.windows[windows.indexOf(w)] ?? null,
      };
    });
    const errorReasons = [...reasons.entries()].sort((a, b) => b[1].count - a[1].count).map(([reason, r]) => ({ reason, ...r }));
    const dur = seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
    const base = `${kind} soak ${dur} @${RATE} req/s`;

    log(
      `soak ${kind}: ${sent} requests, ${errors} errors, ${round(achieved, 1)} answers/s, p50 ${percentile(sorted, 50).toFixed(2)} ms, p99 ${percentile(sorted, 99).toFixed(2)} ms; ` +
        `RSS ${mb(startKb)} MB after the warm-up, ${mb(endKb)} MB at the end, peak ${mb(peakKb)} MB; ${upstream} upstream refreshes; ` +
        `gateway CPU ${cpu.gatewayCores ?? '?'} cores, event loop blocked up to ${loop.maxMs ?? '?'} ms (${loop.maxAfterWarmupMs ?? '?'} ms after the warm-up; ` +
        `${loop.secondsOver} s with a block over ${LOOP_BLOCK_TARGET_MS} ms${loop.workerMaxMs === null ? '' : `; writer thread up to ${loop.workerMaxMs} ms`}), ` +
        `main thread waiting on I/O in ${blockedOn.size ? [...blockedOn.values()].reduce((a, b) => a + b, 0) : 0}/${stateSamples} samples${blockedOn.size ? ` (${[...blockedOn.entries()].map(([w, n]) => `${w} ${n}`).join(', ')})` : ''}; ` +
        `load generator ${cpu.benchCores} cores (event-loop delay p99 ${cpu.benchLoopDelayP99Ms} ms, max ${cpu.benchLoopDelayMaxMs} ms), send lag max ${round(maxSendLagMs, 1)} ms, in flight max ${maxInFlight}; load average ${cpu.loadAverageAtEnd}`,
    );
    log(
      `  soak ${kind}: longest blocks: ${loop.longest
        .map(
          (b) => `${b.ms} ms at ${b.atS} s (GC pause ${b.gcPauseMs ?? '?'} ms ${b.gcKind ?? ''}, load generator stalled ${b.loadGeneratorStallMs ?? '?'} ms)`,
        )
        .join('; ')}`,
    );
    if (errors > 0) log(`  soak ${kind}: the gateway's last output:\n${gw.output().slice(-2000) || '(none)'}`);
    if (errors > 0)
      ctx.notes.push(
        `soak ${kind}: ${errors} of ${sent} requests failed: ${errorReasons
          .slice(0, 3)
          .map((r) => `${r.reason} (${r.count}×)`)
          .join('; ')}`,
      );

    ctx.add(
      figure({
        id: `soak.${kind}.rate`,
        section: 'soak',
        label: `${base}: answers/s`,
        value: round(achieved, 1),
        unit: 'req/s',
        reference: { label: 'asked', value: RATE, unit: 'req/s' },
        ratio: round(achieved / RATE, 3),
        target: { of: 'ratio', op: '>=', value: RATE_TARGET },
        detail: {
          seconds,
          sent,
          answeredInRun: okInRun,
          maxSendLagMs: round(maxSendLagMs, 1),
          maxInFlight,
          upstreamRefreshes: upstream,
          cpu,
          perOp,
          windows: windowRows,
        },
      }),
    );
    ctx.add(
      figure({
        id: `soak.${kind}.errors`,
        section: 'soak',
        label: `${base}: errors`,
        value: errors,
        unit: '',
        reference: { label: 'requests', value: sent, unit: '' },
        target: { of: 'value', op: '==', value: 0 },
        detail: { reasons: errorReasons },
      }),
    );
    ctx.add(
      figure({
        id: `soak.${kind}.p50`,
        section: 'soak',
        label: `${base}: p50 latency`,
        value: round(percentile(sorted, 50), 2),
        unit: 'ms',
        detail: { perOp: Object.fromEntries(OPS.map((op) => [op, perOp[op]!.p50])) },
      }),
    );
    ctx.add(
      figure({
        id: `soak.${kind}.p99`,
        section: 'soak',
        label: `${base}: p99 latency`,
        value: round(percentile(sorted, 99), 2),
        unit: 'ms',
        reference: { label: 'provider delay', value: PROVIDER_DELAY_MS, unit: 'ms' },
        target: { of: 'value', op: '<', value: P99_TARGET_MS },
        detail: { perOp: Object.fromEntries(OPS.map((op) => [op, perOp[op]!.p99])), max: round(sorted[sorted.length - 1] ?? NaN, 1) },
      }),
    );
    ctx.add(
      figure({
        id: `soak.${kind}.loopBlock`,
        section: 'soak',
        label: `${base}: longest event-loop block`,
        value: loop.maxMs ?? NaN,
        unit: 'ms',
        target: { of: 'value', op: '<=', value: LOOP_BLOCK_TARGET_MS },
        detail: {
          resolutionMs: LOOP_RESOLUTION_MS,
          maxAfterWarmupMs: loop.maxAfterWarmupMs,
          thread: 'main',
          workerThreadMaxMs: loop.workerMaxMs,
          secondsOverTarget: loop.secondsOver,
          seconds: loop.seconds,
          longest: loop.longest,
          windows: loop.windows,
        },
      }),
    );
    ctx.add(
      figure({
        id: `soak.${kind}.rss`,
        section: 'soak',
        label: `${base}: RSS at the end`,
        value: mb(endKb),
        unit: 'MB',
        reference: { label: `after ${warmupS} s warm-up`, value: mb(startKb), unit: 'MB' },
        ratio: round(endKb / startKb, 3),
        target: { of: 'ratio', op: '<=', value: RSS_TARGET },
        detail: {
          sampleEverySeconds: sampleEveryS,
          windowSeconds: rssWindowS,
          startSamplesMb: startKbs.map(mb),
          endSamplesMb: endKbs.map(mb),
          heapAtStart: heapAtStart ? await heapAtStart : null,
          heapAtEnd,
          samples: rss.map((x) => [x.s, mb(x.kb), x.cores]),
        },
      }),
    );
    ctx.add(
      figure({
        id: `soak.${kind}.peakRss`,
        section: 'soak',
        label: `${base}: peak RSS`,
        value: mb(peakKb),
        unit: 'MB',
        reference: { label: `after ${warmupS} s warm-up`, value: mb(startKb), unit: 'MB' },
        ratio: round(peakKb / startKb, 3),
      }),
    );
  } finally {
    agent?.destroy();
    if (gw) await ctx.stopGateway(gw);
    await accounts.close();
    await table?.drop().catch((err: unknown) => log(`soak ${kind}: could not remove the copy of the table: ${(err as Error).message}`));
  }
}
