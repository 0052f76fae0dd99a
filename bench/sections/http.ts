/**
 * GraphQL over HTTP: `tokenById` and `token(match: {userName})` against the
 * floor of the same gateway process answering `{ __typename }` (same HTTP
 * stack, API key check, context, plugins; no resolver, no store), with the
 * small and the large table, on each store.
 *
 * Two gateway processes run at once, one per table size. Each round measures,
 * per query and size, a floor run then a lookup run on the same process
 * (adjacent, so the ratio holds on a noisy machine); the order of the sizes
 * alternates between rounds. Reported: medians over the rounds.
 */
import type { BenchContext } from '../lib/context';
import type { Dataset } from '../lib/datasets';
import { describeLoad, runLoad, type LoadResult } from '../lib/load';
import type { BenchStore } from '../lib/options';
import { figure } from '../lib/report';
import { median, round } from '../lib/stats';

export const FLOOR_QUERY = '{ __typename }';
export const BY_ID_QUERY = 'query TokenById($id: ID!) { tokenById(id: $id) { id userName status expiresAt } }';
export const BY_NAME_QUERY = 'query TokenByUser($u: String!) { token(match: { userName: $u }) { id userName status expiresAt } }';

const FLOOR_BODY = JSON.stringify({ query: FLOOR_QUERY });
const pick = <T>(a: readonly T[]) => a[Math.floor(Math.random() * a.length)]!;

export interface HttpQuery {
  name: 'tokenById' | 'token(userName)';
  key: 'tokenById' | 'tokenByUserName';
  body(ds: Dataset): () => string;
  verify(body: string): boolean;
}

export const floorBody = () => FLOOR_BODY;
export const verifyFloor = (b: string) => b.startsWith('{"data":{"__typename":"Query"}}');

export const BY_ID: HttpQuery = {
  name: 'tokenById',
  key: 'tokenById',
  body: (ds) => {
    const prefix = `{"query":${JSON.stringify(BY_ID_QUERY)},"variables":{"id":`;
    return () => `${prefix}${JSON.stringify(pick(ds.ids))}}}`;
  },
  verify: (b) => b.startsWith('{"data":{"tokenById":{"id":"') && !b.includes('"errors"'),
};

export const BY_NAME: HttpQuery = {
  name: 'token(userName)',
  key: 'tokenByUserName',
  body: (ds) => {
    const prefix = `{"query":${JSON.stringify(BY_NAME_QUERY)},"variables":{"u":`;
    return () => `${prefix}${JSON.stringify(pick(ds.userNames))}}}`;
  },
  verify: (b) => b.startsWith('{"data":{"token":{"id":"') && !b.includes('"errors"'),
};

interface Pair {
  floor: LoadResult;
  lookup: LoadResult;
}

export const sizeLabel = (n: number) => (n % 1000 === 0 ? `${n / 1000}k` : String(n));

function assertClean(r: LoadResult, what: string): void {
  if (r.failures > 0) throw new Error(`${what}: ${r.failures} requests failed (e.g. ${r.sample ?? 'connection errors or non-2xx answers'})`);
}

export async function httpSection(ctx: BenchContext): Promise<void> {
  for (const kind of ctx.options.stores) await httpOnStore(ctx, kind);
}

async function httpOnStore(ctx: BenchContext, kind: BenchStore): Promise<void> {
  const { options, log } = ctx;
  const sets = { small: await ctx.datasets.get(kind, 'small'), large: await ctx.datasets.get(kind, 'large') };
  log(`http ${kind}: starting one gateway on ${sizeLabel(sets.small.size)} and one on ${sizeLabel(sets.large.size)} tokens`);
  const gws = {
    small: await ctx.startGateway(`http-${kind}-${sets.small.size}`, sets.small.gatewayEnv),
    large: await ctx.startGateway(`http-${kind}-${sets.large.size}`, sets.large.gatewayEnv),
  };
  try {
    const load = (size: 'small' | 'large', body: () => string, verify: (b: string) => boolean, seconds = options.runSeconds) =>
      runLoad({ url: gws[size].url, pid: gws[size].pid, connections: options.connections, seconds, body, verify, apiKey: ctx.keys.viewer });

    // Warm-up: JIT, Apollo's document cache, the database's page cache.
    const warm = Math.max(1, Math.round(options.runSeconds / 2));
    for (const size of ['small', 'large'] as const) {
      for (const [body, verify] of [
        [floorBody, verifyFloor],
        [BY_ID.body(sets[size]), BY_ID.verify],
        [BY_NAME.body(sets[size]), BY_NAME.verify],
      ] as const) {
        assertClean(await load(size, body, verify, warm), `warm-up ${kind}`);
      }
    }

    const pairs = new Map<string, Pair[]>();
    for (let pair = 0; pair < options.pairs; pair++) {
      for (const q of [BY_ID, BY_NAME]) {
        for (const size of pair % 2 === 0 ? (['small', 'large'] as const) : (['large', 'small'] as const)) {
          const floor = await load(size, floorBody, verifyFloor);
          assertClean(floor, `${kind} floor`);
          const lookup = await load(size, q.body(sets[size]), q.verify);
          assertClean(lookup, `${kind} ${q.name}`);
          const k = `${q.key}:${size}`;
          pairs.set(k, [...(pairs.get(k) ?? []), { floor, lookup }]);
          log(`  ${kind} @${sizeLabel(sets[size].size)} round ${pair + 1}: floor ${describeLoad(floor)} | ${q.name} ${describeLoad(lookup)}`);
        }
      }
    }

    for (const q of [BY_ID, BY_NAME]) {
      for (const size of ['small', 'large'] as const) {
        const ps = pairs.get(`${q.key}:${size}`)!;
        const n = sets[size].size;
        const base = `http.${kind}.${q.key}.${n}`;
        const floorRef = (v: number, unit: string) => ({ label: 'floor { __typename }', value: v, unit });
        ctx.add(
          figure({
            id: `${base}.rps`,
            section: 'http',
            label: `${kind} ${q.name} @${sizeLabel(n)}: requests/s`,
            value: round(median(ps.map((p) => p.lookup.rps))),
            unit: 'req/s',
            reference: floorRef(round(median(ps.map((p) => p.floor.rps))), 'req/s'),
            ratio: round(median(ps.map((p) => p.lookup.rps / p.floor.rps)), 3),
            target: { of: 'ratio', op: '>=', value: 0.8 },
            detail: { pairs: ps },
          }),
        );
        ctx.add(
          figure({
            id: `${base}.cpu`,
            section: 'http',
            label: `${kind} ${q.name} @${sizeLabel(n)}: gateway CPU per request`,
            value: round(median(ps.map((p) => p.lookup.cpuUsPerRequest!))),
            unit: 'µs/req',
            reference: floorRef(round(median(ps.map((p) => p.floor.cpuUsPerRequest!))), 'µs/req'),
            ratio: round(median(ps.map((p) => p.lookup.cpuUsPerRequest! / p.floor.cpuUsPerRequest!)), 3),
          }),
        );
        for (const pct of ['p50', 'p99'] as const) {
          ctx.add(
            figure({
              id: `${base}.${pct}`,
              section: 'http',
              label: `${kind} ${q.name} @${sizeLabel(n)}: ${pct} latency`,
              value: round(median(ps.map((p) => p.lookup[pct])), 2),
              unit: 'ms',
              reference: floorRef(round(median(ps.map((p) => p.floor[pct])), 2), 'ms'),
              ratio: round(median(ps.map((p) => p.lookup[pct] / p.floor[pct])), 3),
            }),
          );
        }
      }
      // Lookup time at the large size against the small one: the mean latency at the same
      // concurrency, of the two lookup runs of one round (adjacent), median over the rounds.
      const small = pairs.get(`${q.key}:small`)!;
      const large = pairs.get(`${q.key}:large`)!;
      ctx.add(
        figure({
          id: `http.${kind}.${q.key}.scaling`,
          section: 'http',
          label: `${kind} ${q.name}: mean time @${sizeLabel(sets.large.size)} vs @${sizeLabel(sets.small.size)}`,
          value: round(median(large.map((p) => p.lookup.mean)), 2),
          unit: 'ms',
          reference: { label: `@${sizeLabel(sets.small.size)}`, value: round(median(small.map((p) => p.lookup.mean)), 2), unit: 'ms' },
          ratio: round(median(large.map((p, i) => p.lookup.mean / small[i]!.lookup.mean)), 3),
          target: { of: 'ratio', op: '<=', value: 1.2 },
        }),
      );
    }
  } finally {
    await ctx.stopGateway(gws.small);
    await ctx.stopGateway(gws.large);
  }
}
