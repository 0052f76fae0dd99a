/**
 * GraphQL over HTTP. First the gateway's `{ __typename }` against bare
 * Apollo servers on express 5 and Fastify 5 (the frameworks' floors). Then
 * `tokenById` and `token(match: {userName})` against the
 * floor of the same gateway process answering `{ __typename }` (same HTTP
 * stack, API key check, context, plugins; no resolver, no store), with the
 * small and the large table, on each store.
 *
 * Two gateway processes run at once, one per table size. Each round measures,
 * per query and size, a floor run then a lookup run on the same process
 * (adjacent, so the ratio holds on a noisy machine); the order of the sizes
 * alternates between rounds. Reported: medians over the rounds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort } from '../../test/support/process-gateway';
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
  await httpFloors(ctx);
  for (const kind of ctx.options.stores) await httpOnStore(ctx, kind);
}

/** A bare Apollo server (bench/floors/bare-apollo.ts) in a process of its own. */
async function startBareApollo(kind: 'express' | 'fastify'): Promise<{ url: string; pid: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'floors', 'bare-apollo.js'), kind], {
    env: { PATH: process.env.PATH ?? '', PORT: String(port), NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`bare Apollo on ${kind} exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, pid: child.pid!, child };
}

/**
 * The gateway's `{ __typename }` against the same answer from a bare Apollo
 * server on express 5 and on Fastify 5 (no API key, plugins or logging): how
 * much of the framework's cost the gateway carries. One process each, runs
 * interleaved (the order rotates per round); medians over the rounds.
 */
async function httpFloors(ctx: BenchContext): Promise<void> {
  const { options, log } = ctx;
  const kind = options.stores[0]!;
  const set = await ctx.datasets.get(kind, 'small');
  log(`http floors: bare Apollo on express 5 and on Fastify 5, and the gateway (${kind} @${sizeLabel(set.size)})`);
  const express = await startBareApollo('express');
  const fastify = await startBareApollo('fastify');
  const gateway = await ctx.startGateway(`http-floor-${kind}`, set.gatewayEnv);
  const targets = { express, fastify, gateway } as const;
  type Name = keyof typeof targets;
  try {
    const load = (name: Name, seconds = options.runSeconds) =>
      runLoad({
        url: targets[name].url,
        pid: targets[name].pid,
        connections: options.connections,
        seconds,
        body: floorBody,
        verify: verifyFloor,
        apiKey: ctx.keys.viewer,
      });
    const names: Name[] = ['express', 'fastify', 'gateway'];
    for (const name of names) assertClean(await load(name, Math.max(1, Math.round(options.runSeconds / 2))), `warm-up ${name}`);
    const runs: Record<Name, LoadResult[]> = { express: [], fastify: [], gateway: [] };
    for (let i = 0; i < options.pairs; i++) {
      for (const name of [...names.slice(i % 3), ...names.slice(0, i % 3)]) {
        const r = await load(name);
        assertClean(r, `floor ${name}`);
        runs[name].push(r);
      }
      log(
        `  round ${i + 1}: express ${describeLoad(runs.express[i]!)} | fastify ${describeLoad(runs.fastify[i]!)} | gateway ${describeLoad(runs.gateway[i]!)}`,
      );
    }
    const rps = (name: Name) => round(median(runs[name].map((r) => r.rps)));
    const cpu = (name: Name) => round(median(runs[name].map((r) => r.cpuUsPerRequest!)));
    const ratio = (a: Name, b: Name) => round(median(runs[a].map((r, i) => r.rps / runs[b][i]!.rps)), 3);
    const express5 = (v: number) => ({ label: 'bare Apollo on express 5', value: v, unit: 'req/s' });
    ctx.add(
      figure({
        id: 'http.floor.express.rps',
        section: 'http',
        label: 'bare Apollo on express 5 { __typename }: requests/s',
        value: rps('express'),
        unit: 'req/s',
        detail: { cpuUsPerRequest: cpu('express') },
      }),
    );
    ctx.add(
      figure({
        id: 'http.floor.fastify.rps',
        section: 'http',
        label: 'bare Apollo on Fastify 5 { __typename }: requests/s',
        value: rps('fastify'),
        unit: 'req/s',
        reference: express5(rps('express')),
        ratio: ratio('fastify', 'express'),
        detail: { cpuUsPerRequest: cpu('fastify') },
      }),
    );
    ctx.add(
      figure({
        id: 'http.floor.gateway.rps',
        section: 'http',
        label: `gateway { __typename } (${kind}): requests/s`,
        value: rps('gateway'),
        unit: 'req/s',
        reference: express5(rps('express')),
        ratio: ratio('gateway', 'express'),
        target: { of: 'ratio', op: '>=', value: 1.6 },
        detail: { cpuUsPerRequest: cpu('gateway'), ofBareFastify: ratio('gateway', 'fastify'), runs },
      }),
    );
  } finally {
    for (const bare of [express, fastify]) {
      bare.child.kill('SIGTERM');
      if (bare.child.exitCode === null) await new Promise((resolve) => bare.child.once('exit', resolve));
    }
    await ctx.stopGateway(gateway);
  }
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
            // Issue #17 asks 0.9 of the floor on SQLite, once the HTTP layer stopped capping the lookups.
            target: { of: 'ratio', op: '>=', value: kind === 'sqlite' ? 0.9 : 0.8 },
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
