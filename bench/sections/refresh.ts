/**
 * Refresh fan-in: 1,000 concurrent `refresh(id)` mutations of one token
 * against one gateway process, with a fake Accounts server that answers after
 * 200 ms. The 1,000 connections are opened and used once (`GET /healthz`)
 * beforehand, then the 1,000 requests are written at once. Counted: requests
 * the fake Accounts server received (must be 1 per burst), distinct access
 * tokens in the answers (1), latency of each request from its write to its
 * answer (p99 target: under the provider's 200 ms plus 50 ms). The process
 * is warmed up first (a burst, a few seconds of `refresh(force: false)` load,
 * another burst: not counted), then a few bursts per store are measured;
 * every burst is a new refresh (a caller arriving after a refresh completed
 * asks for a new one).
 */
import { startFakeAccountsServer } from '../../test/support/fake-accounts-server';
import { createScratchDatabase, type ScratchDatabase } from '../../test/support/mysql';
import { gql, sleep, type BenchContext } from '../lib/context';
import type { BenchStore } from '../lib/options';
import { runLoad } from '../lib/load';
import { RawHttpConnection, requestBytes } from '../lib/raw-http';
import { cpuSeconds } from '../lib/proc';
import { figure } from '../lib/report';
import { median, percentile, round } from '../lib/stats';

const CALLERS = 1000;
const PROVIDER_DELAY_MS = 200;
const REFRESH = 'mutation Refresh($id: ID!) { refresh(id: $id) { id status accessToken } }';
const REFRESH_IF_NEEDED = 'mutation RefreshIfNeeded($id: ID!) { refresh(id: $id, force: false) { id status accessToken } }';

export async function refreshSection(ctx: BenchContext): Promise<void> {
  for (const kind of ctx.options.stores) await refreshOn(ctx, kind);
}

interface Burst {
  upstream: number;
  distinctAccessTokens: number;
  failures: number;
  p50: number;
  p99: number;
  max: number;
  /** From the first write to the last answer. */
  spanMs: number;
  /** The gateway's CPU time over the burst, per call. */
  gatewayCpuUsPerCall: number;
  /** When the fake Accounts server received the (first) token request, in ms after the first write. */
  upstreamAtMs: number | null;
}

async function refreshOn(ctx: BenchContext, kind: BenchStore): Promise<void> {
  const { log } = ctx;
  const bursts = ctx.options.quick ? 2 : 3;
  const accounts = await startFakeAccountsServer({ delayMs: PROVIDER_DELAY_MS });
  let db: ScratchDatabase | null = null;
  const conns: RawHttpConnection[] = [];
  try {
    const env: Record<string, string> = { TOKENGATE_ACCOUNTS_URL: accounts.url };
    if (kind === 'mysql') {
      db = await createScratchDatabase('tg_bench_refresh');
      Object.assign(env, { TOKENGATE_STORE: 'mysql', TOKENGATE_MYSQL_URL: db.url });
    } else {
      env.TOKENGATE_STORE = 'sqlite';
    }
    const gw = await ctx.startGateway(`refresh-${kind}`, env);
    try {
      const clientId = '1000.BENCHREFRESH';
      const clientSecret = 'bench-refresh-secret';
      accounts.addClient(clientId, clientSecret);
      const refreshToken = accounts.addRefreshToken(clientId);
      const saved = await gql<{ saveToken: { id: string } }>(gw.url, ctx.keys.admin, 'mutation($t: TokenInput!) { saveToken(token: $t) { id } }', {
        t: { userName: 'bench-refresh@example.com', clientId, clientSecret, refreshToken },
      });
      const id = saved.saveToken.id;

      const { hostname, port } = new URL(gw.url);
      log(`refresh ${kind}: opening ${CALLERS} connections`);
      const health = requestBytes('GET', `${hostname}:${port}`, '/healthz', {});
      for (let i = 0; i < CALLERS; i += 100) {
        const batch = await Promise.all(Array.from({ length: Math.min(100, CALLERS - i) }, () => RawHttpConnection.open(hostname, Number(port))));
        conns.push(...batch);
        await Promise.all(
          batch.map(async (c) => {
            const a = await c.request(health);
            if (a.status !== 200) throw new Error(`/healthz answered ${a.status}`);
          }),
        );
      }
      const body = JSON.stringify({ query: REFRESH, variables: { id } });
      const bytes = requestBytes(
        'POST',
        `${hostname}:${port}`,
        '/graphql',
        { 'Content-Type': 'application/json', Authorization: `Bearer ${ctx.keys.operator}` },
        body,
      );

      const fire = async (label: string): Promise<Burst> => {
        await sleep(300);
        accounts.resetRequests();
        const cpu0 = cpuSeconds(gw.pid);
        const startedAt = Date.now();
        const started = performance.now();
        const answers = await Promise.all(conns.map((c) => c.request(bytes).catch((e: Error) => ({ status: 0, body: e.message, ms: NaN }))));
        const spanMs = performance.now() - started;
        const cpuUs = ((cpuSeconds(gw.pid) - cpu0) / CALLERS) * 1e6;
        let failures = 0;
        const tokens = new Set<string>();
        for (const a of answers) {
          try {
            const parsed = JSON.parse(a.body) as { data?: { refresh?: { accessToken?: string } }; errors?: unknown };
            const t = parsed.data?.refresh?.accessToken;
            if (a.status !== 200 || parsed.errors || !t) failures++;
            else tokens.add(t);
          } catch {
            failures++;
          }
        }
        const sorted = Float64Array.from(answers.map((a) => a.ms).filter((v) => Number.isFinite(v))).sort();
        const burst: Burst = {
          upstream: accounts.count('refresh_token'),
          distinctAccessTokens: tokens.size,
          failures,
          p50: round(percentile(sorted, 50), 1),
          p99: round(percentile(sorted, 99), 1),
          max: round(sorted[sorted.length - 1] ?? NaN, 1),
          spanMs: round(spanMs, 1),
          gatewayCpuUsPerCall: round(cpuUs),
          upstreamAtMs: accounts.requests[0] ? accounts.requests[0].at.getTime() - startedAt : null,
        };
        log(
          `  ${kind} ${label}: ${burst.upstream} upstream call(s), ${burst.distinctAccessTokens} access token(s), ${failures} failed, p50 ${burst.p50} ms, p99 ${burst.p99} ms, max ${burst.max} ms; upstream call at ${burst.upstreamAtMs ?? '?'} ms; gateway CPU ${burst.gatewayCpuUsPerCall} µs/call`,
        );
        return burst;
      };

      // Warm the process up as traffic would: a first burst, then a few seconds of
      // `refresh(force: false)` calls (the token is ACTIVE by then: answered from the
      // store, no upstream call), then a second burst. None of this is counted.
      const warmups: Burst[] = [await fire('warm-up burst 1')];
      const warm = await runLoad({
        url: gw.url,
        connections: ctx.options.connections,
        seconds: ctx.options.runSeconds,
        apiKey: ctx.keys.operator,
        body: () => JSON.stringify({ query: REFRESH_IF_NEEDED, variables: { id } }),
        verify: (b) => b.startsWith('{"data":{"refresh":{"id"'),
      });
      if (warm.failures > 0) throw new Error(`refresh warm-up: ${warm.failures} calls failed (e.g. ${warm.sample})`);
      warmups.push(await fire('warm-up burst 2'));
      const results: Burst[] = [];
      for (let b = 1; b <= bursts; b++) results.push(await fire(`burst ${b}`));
      const failed = results.reduce((n, r) => n + r.failures, 0);
      if (failed > 0) ctx.notes.push(`refresh ${kind}: ${failed} of ${CALLERS * bursts} refresh calls failed`);
      ctx.add(
        figure({
          id: `refresh.${kind}.upstream`,
          section: 'refresh',
          label: `${kind} ${CALLERS} concurrent refresh: upstream calls (worst burst)`,
          value: Math.max(...[...warmups, ...results].map((r) => r.upstream)),
          unit: '',
          target: { of: 'value', op: '==', value: 1 },
          detail: { bursts: results, warmups },
        }),
      );
      ctx.add(
        figure({
          id: `refresh.${kind}.p99`,
          section: 'refresh',
          label: `${kind} ${CALLERS} concurrent refresh: p99 latency`,
          value: median(results.map((r) => r.p99)),
          unit: 'ms',
          reference: { label: 'provider delay', value: PROVIDER_DELAY_MS, unit: 'ms' },
          target: { of: 'value', op: '<', value: PROVIDER_DELAY_MS + 50 },
          detail: {
            p50: median(results.map((r) => r.p50)),
            worstP99: Math.max(...results.map((r) => r.p99)),
            upstreamAtMs: median(results.map((r) => r.upstreamAtMs ?? NaN)),
            gatewayCpuUsPerCall: median(results.map((r) => r.gatewayCpuUsPerCall)),
            failures: failed,
          },
        }),
      );
    } finally {
      for (const c of conns) c.close();
      await ctx.stopGateway(gw);
    }
  } finally {
    await accounts.close();
    await db?.drop();
  }
}
