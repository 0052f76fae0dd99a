/**
 * Scale-out: `tokenById` on the large MariaDB table with one gateway process,
 * then with two processes on the same database (the load split evenly: two
 * autocannon instances at once, half the connections each). Both processes
 * run throughout; in the one-process runs the second idles.
 *
 * Measured per run: requests/s, and the CPU time (user + system, from
 * /proc/<pid>/stat) the gateway processes used, summed, divided by the
 * requests they answered. On a machine whose cores are shared by the
 * gateways, MariaDB and the load generator, requests/s cannot double; what
 * shows whether anything serializes across processes is that the CPU cost of
 * a request stays the same (target: within 10%). MariaDB's own CPU time per
 * request is reported beside it.
 *
 * Then the same on a three-node MariaDB Galera cluster (`scaleout-galera.ts`):
 * three gateways on three nodes against one gateway on one node.
 */
import type { BenchContext } from '../lib/context';
import { describeLoad, runLoad, type LoadResult } from '../lib/load';
import { mariadbPid } from '../lib/machine';
import { cpuSeconds, cpuSecondsOrNull } from '../lib/proc';
import { pairedFigure } from '../lib/report';
import { median, round } from '../lib/stats';
import { BY_ID, floorBody, verifyFloor } from './http';
import { scaleoutGalera } from './scaleout-galera';

interface Run {
  processes: 1 | 2;
  rps: number;
  requests: number;
  gatewayCpuUsPerRequest: number;
  mariadbCpuUsPerRequest: number | null;
  loads: LoadResult[];
}

export async function scaleoutSection(ctx: BenchContext): Promise<void> {
  const { options, log } = ctx;
  if (!options.stores.includes('mysql')) {
    log('scaleout: skipped (needs the mysql store)');
    return;
  }
  const ds = await ctx.datasets.get('mysql', 'large');
  log(`scaleout: two gateway processes on one MariaDB database (${ds.size.toLocaleString('en-US')} tokens)`);
  const a = await ctx.startGateway('scale-a', ds.gatewayEnv);
  const b = await ctx.startGateway('scale-b', ds.gatewayEnv);
  const dbPid = await mariadbPid();
  const mariadbCpu = () => (dbPid === null ? null : cpuSecondsOrNull(dbPid));
  const body = BY_ID.body(ds);
  try {
    const load = (gw: { url: string; pid: number }, connections: number, seconds = options.runSeconds) =>
      runLoad({ url: gw.url, pid: gw.pid, connections, seconds, body, verify: BY_ID.verify, apiKey: ctx.keys.viewer });
    const warm = Math.max(1, Math.round(options.runSeconds / 2));
    for (const gw of [a, b]) {
      await runLoad({ url: gw.url, connections: options.connections, seconds: 1, body: floorBody, verify: verifyFloor, apiKey: ctx.keys.viewer });
      await load(gw, options.connections, warm);
    }

    const floorLoad = (gw: { url: string; pid: number }, connections: number) =>
      runLoad({ url: gw.url, pid: gw.pid, connections, seconds: options.runSeconds, body: floorBody, verify: verifyFloor, apiKey: ctx.keys.viewer });
    const measure = async (processes: 1 | 2, floor = false): Promise<Run> => {
      const l = floor ? floorLoad : load;
      const cpu0 = cpuSeconds(a.pid) + cpuSeconds(b.pid);
      const db0 = mariadbCpu();
      const loads =
        processes === 1
          ? [await l(a, options.connections)]
          : await Promise.all([l(a, Math.ceil(options.connections / 2)), l(b, Math.floor(options.connections / 2))]);
      const cpu1 = cpuSeconds(a.pid) + cpuSeconds(b.pid);
      const db1 = mariadbCpu();
      for (const l of loads) if (l.failures > 0) throw new Error(`scaleout: ${l.failures} requests failed (e.g. ${l.sample})`);
      const requests = loads.reduce((s, l) => s + l.totalRequests, 0);
      return {
        processes,
        rps: round(loads.reduce((s, l) => s + l.rps, 0)),
        requests,
        gatewayCpuUsPerRequest: round(((cpu1 - cpu0) / requests) * 1e6, 1),
        mariadbCpuUsPerRequest: db0 === null || db1 === null ? null : round(((db1 - db0) / requests) * 1e6, 1),
        loads,
      };
    };

    const pairs: Array<{ one: Run; two: Run }> = [];
    for (let pair = 0; pair < options.pairs; pair++) {
      let one: Run;
      let two: Run;
      if (pair % 2 === 0) {
        one = await measure(1);
        two = await measure(2);
      } else {
        two = await measure(2);
        one = await measure(1);
      }
      pairs.push({ one, two });
      const text = (r: Run) =>
        `${r.rps} req/s, gateway CPU ${r.gatewayCpuUsPerRequest} µs/req, MariaDB ${r.mariadbCpuUsPerRequest ?? '?'} µs/req [${r.loads.map(describeLoad).join(' + ')}]`;
      log(`  round ${pair + 1}: one process ${text(one)} | two processes ${text(two)}`);
    }

    // Control: the same with `{ __typename }` (no store, no database), which shows what running two
    // processes on these cores costs by itself.
    const floorPairs: Array<{ one: Run; two: Run }> = [];
    for (let pair = 0; pair < options.pairs; pair++) {
      const one = await measure(1, true);
      const two = await measure(2, true);
      floorPairs.push({ one, two });
      log(
        `  control round ${pair + 1} ({ __typename }): one process ${one.rps} req/s, ${one.gatewayCpuUsPerRequest} µs/req | two processes ${two.rps} req/s, ${two.gatewayCpuUsPerRequest} µs/req`,
      );
    }

    const oneProcess = '1 process';
    ctx.add(
      pairedFigure(pairs, {
        id: 'scaleout.rps',
        section: 'scaleout',
        label: 'MariaDB tokenById, 2 processes: requests/s (total)',
        unit: 'req/s',
        variant: (p) => p.two.rps,
        reference: { label: oneProcess, of: (p) => p.one.rps },
        detail: { note: `${ctx.options.connections} connections in total; 2 cores shared with MariaDB and the load generator` },
      }),
    );
    ctx.add(
      pairedFigure(pairs, {
        id: 'scaleout.gatewayCpuPerRequest',
        section: 'scaleout',
        label: 'MariaDB tokenById, 2 processes: gateway CPU per request',
        unit: 'µs/req',
        variant: (p) => p.two.gatewayCpuUsPerRequest,
        reference: { label: oneProcess, of: (p) => p.one.gatewayCpuUsPerRequest },
        target: { of: 'ratio', op: '<=', value: 1.1 },
        detail: { pairs: pairs.map((p) => ({ one: { ...p.one, loads: undefined }, two: { ...p.two, loads: undefined } })) },
      }),
    );
    const fmed = (f: (p: { one: Run; two: Run }) => number) => round(median(floorPairs.map(f)), 3);
    ctx.add(
      pairedFigure(floorPairs, {
        id: 'scaleout.floorCpuPerRequest',
        section: 'scaleout',
        label: 'control { __typename }, 2 processes: gateway CPU per request',
        unit: 'µs/req',
        variant: (p) => p.two.gatewayCpuUsPerRequest,
        reference: { label: oneProcess, of: (p) => p.one.gatewayCpuUsPerRequest },
        detail: { rpsOne: fmed((p) => p.one.rps), rpsTwo: fmed((p) => p.two.rps) },
      }),
    );
    if (pairs.every((p) => p.one.mariadbCpuUsPerRequest !== null && p.two.mariadbCpuUsPerRequest !== null)) {
      ctx.add(
        pairedFigure(pairs, {
          id: 'scaleout.mariadbCpuPerRequest',
          section: 'scaleout',
          label: 'MariaDB tokenById, 2 processes: MariaDB CPU per request',
          unit: 'µs/req',
          variant: (p) => p.two.mariadbCpuUsPerRequest!,
          reference: { label: oneProcess, of: (p) => p.one.mariadbCpuUsPerRequest! },
        }),
      );
    }
  } finally {
    await ctx.stopGateway(a);
    await ctx.stopGateway(b);
  }
  await scaleoutGalera(ctx);
}
