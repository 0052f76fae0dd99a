/**
 * Scale-out on a MariaDB Galera cluster: `tokenById` with three gateway
 * processes, each on its own node of a three-node cluster on this machine
 * (the test suite's cluster: `test/support/galera-cluster.ts`, causal reads
 * with `wsrep_sync_wait=1`), against one gateway on one node of the same
 * cluster. The cluster holds a copy of the small MariaDB dataset (its rows
 * as the store wrote them, same key).
 *
 * Measured per run: requests/s, the gateways' CPU time per request, and the
 * cluster's (all three `mariadbd` processes) CPU time per request. All of it
 * shares this machine's cores with the load generator, so requests/s shows
 * what one machine does; CPU per request shows whether spreading the
 * gateways over nodes costs anything per request.
 */
import os from 'node:os';
import mysql from 'mysql2/promise';
import { openStore } from '../../src/stores/open-store';
import { galeraMissing, startGaleraCluster } from '../../test/support/galera-cluster';
import type { GatewayProcess } from '../../test/support/process-gateway';
import type { BenchContext } from '../lib/context';
import { MYSQL_TABLE } from '../lib/datasets';
import { describeLoad, runLoad, type LoadResult } from '../lib/load';
import { cpuSecondsOrNull } from '../lib/proc';
import { pairedFigure } from '../lib/report';
import { round } from '../lib/stats';
import { BY_ID } from './http';

interface Run {
  gateways: 1 | 3;
  rps: number;
  gatewayCpuUsPerRequest: number;
  clusterCpuUsPerRequest: number;
  loads: LoadResult[];
}

const ROWS_PER_INSERT = 200;

export async function scaleoutGalera(ctx: BenchContext): Promise<void> {
  const { options, log } = ctx;
  const missing = galeraMissing();
  if (missing) {
    log(`scaleout (Galera): skipped (${missing})`);
    return;
  }
  const ds = await ctx.datasets.get('mysql', 'small');
  log(`scaleout (Galera): starting a three-node cluster, copying ${ds.size.toLocaleString('en-US')} tokens`);
  const cluster = await startGaleraCluster();
  const gateways: GatewayProcess[] = [];
  try {
    const urls = await cluster.createDatabase('tg_bench_galera');
    // The store's own migrations make the table; the rows are copied as stored (encrypted under the run's key).
    await (await openStore({ kind: 'mysql', url: urls[0]!, table: MYSQL_TABLE }, ctx.datasets.keyring)).close();
    const from = await mysql.createConnection({ uri: ds.storeOptions.kind === 'mysql' ? ds.storeOptions.url : '' });
    const to = await mysql.createConnection({ uri: urls[0]! });
    try {
      const [rows] = await from.query(`SELECT * FROM \`${MYSQL_TABLE}\``);
      const all = rows as Array<Record<string, unknown>>;
      const columns = Object.keys(all[0]!);
      for (let i = 0; i < all.length; i += ROWS_PER_INSERT) {
        const chunk = all.slice(i, i + ROWS_PER_INSERT);
        await to.query(`INSERT INTO \`${MYSQL_TABLE}\` (${columns.map((c) => `\`${c}\``).join(', ')}) VALUES ?`, [chunk.map((r) => columns.map((c) => r[c]))]);
      }
    } finally {
      await from.end();
      await to.end();
    }
    for (const [i, url] of urls.entries()) gateways.push(await ctx.startGateway(`galera-${i + 1}`, { ...ds.gatewayEnv, TOKENGATE_MYSQL_URL: url }));
    const body = BY_ID.body(ds);
    const load = (gw: { url: string; pid: number }, connections: number, seconds = options.runSeconds) =>
      runLoad({ url: gw.url, pid: gw.pid, connections, seconds, body, verify: BY_ID.verify, apiKey: ctx.keys.viewer });
    const warm = Math.max(1, Math.round(options.runSeconds / 2));
    for (const gw of gateways) await load(gw, options.connections, warm);

    const cpu = (pids: Array<number | null>) => pids.reduce<number>((s, pid) => s + (pid === null ? 0 : (cpuSecondsOrNull(pid) ?? 0)), 0);
    const gatewayCpu = () => cpu(gateways.map((g) => g.pid));
    const clusterCpu = () => cpu(cluster.nodes.map((n) => n.pid));
    const measure = async (n: 1 | 3): Promise<Run> => {
      const gw0 = gatewayCpu();
      const db0 = clusterCpu();
      const loads =
        n === 1
          ? [await load(gateways[0]!, options.connections)]
          : await Promise.all(gateways.map((g, i) => load(g, Math.floor(options.connections / 3) + (i < options.connections % 3 ? 1 : 0))));
      const gw1 = gatewayCpu();
      const db1 = clusterCpu();
      for (const l of loads) if (l.failures > 0) throw new Error(`scaleout (Galera): ${l.failures} requests failed (e.g. ${l.sample})`);
      const requests = loads.reduce((s, l) => s + l.totalRequests, 0);
      return {
        gateways: n,
        rps: round(loads.reduce((s, l) => s + l.rps, 0)),
        gatewayCpuUsPerRequest: round(((gw1 - gw0) / requests) * 1e6, 1),
        clusterCpuUsPerRequest: round(((db1 - db0) / requests) * 1e6, 1),
        loads,
      };
    };

    const pairs: Array<{ one: Run; three: Run }> = [];
    for (let pair = 0; pair < options.pairs; pair++) {
      const first = pair % 2 === 0 ? await measure(1) : await measure(3);
      const second = pair % 2 === 0 ? await measure(3) : await measure(1);
      const [one, three] = first.gateways === 1 ? [first, second] : [second, first];
      pairs.push({ one, three });
      const text = (r: Run) =>
        `${r.rps} req/s, gateway CPU ${r.gatewayCpuUsPerRequest} µs/req, cluster ${r.clusterCpuUsPerRequest} µs/req [${r.loads.map(describeLoad).join(' + ')}]`;
      log(`  Galera round ${pair + 1}: one gateway on one node ${text(one)} | three gateways on three nodes ${text(three)}`);
    }
    const note = `${ds.size.toLocaleString('en-US')} tokens; ${options.connections} connections in total; three MariaDB Galera nodes, the gateways and the load generator on ${os.cpus().length} shared cores`;
    const oneNode = '1 gateway on 1 node';
    ctx.add(
      pairedFigure(pairs, {
        id: 'scaleout.galeraRps',
        section: 'scaleout',
        label: 'Galera tokenById, 3 gateways on 3 nodes: requests/s (total)',
        unit: 'req/s',
        variant: (p) => p.three.rps,
        reference: { label: oneNode, of: (p) => p.one.rps },
        detail: { note },
      }),
    );
    ctx.add(
      pairedFigure(pairs, {
        id: 'scaleout.galeraGatewayCpuPerRequest',
        section: 'scaleout',
        label: 'Galera tokenById, 3 gateways on 3 nodes: gateway CPU per request',
        unit: 'µs/req',
        variant: (p) => p.three.gatewayCpuUsPerRequest,
        reference: { label: oneNode, of: (p) => p.one.gatewayCpuUsPerRequest },
        detail: { pairs: pairs.map((p) => ({ one: { ...p.one, loads: undefined }, three: { ...p.three, loads: undefined } })) },
      }),
    );
    ctx.add(
      pairedFigure(pairs, {
        id: 'scaleout.galeraClusterCpuPerRequest',
        section: 'scaleout',
        label: 'Galera tokenById, 3 gateways on 3 nodes: cluster CPU per request (3 nodes)',
        unit: 'µs/req',
        variant: (p) => p.three.clusterCpuUsPerRequest,
        reference: { label: oneNode, of: (p) => p.one.clusterCpuUsPerRequest },
      }),
    );
  } finally {
    for (const gw of gateways) await ctx.stopGateway(gw);
    await cluster.destroy();
  }
}
