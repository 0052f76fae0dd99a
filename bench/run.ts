/**
 * `npm run bench`: the benchmarks of issue #7 (see BENCHMARKS.md). Builds on
 * `dist/main.js` (the gateway, run in processes of its own) and runs, in this
 * process, the load generator (autocannon), the seeding and the store
 * benchmarks. Prints a table and writes the results as JSON; a complete run
 * also updates the table in BENCHMARKS.md. `--help` for the options.
 */
import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mysqlAvailable } from '../test/support/mysql';
import { BenchContext } from './lib/context';
import { Datasets } from './lib/datasets';
import { describeMachine } from './lib/machine';
import { readOptions, type Section } from './lib/options';
import { loadAverage } from './lib/proc';
import { textTable, updateBenchmarksMd, writeResults, type Results } from './lib/report';
import { dashboardSection } from './sections/dashboard';
import { httpSection } from './sections/http';
import { instructionsSection } from './sections/instructions';
import { memorySection } from './sections/memory';
import { refreshSection } from './sections/refresh';
import { scaleoutSection } from './sections/scaleout';
import { soakSection } from './sections/soak';
import { providersSection } from './sections/providers';
import { storeSection } from './sections/store';

const SECTION_RUNNERS: Record<Section, (ctx: BenchContext) => Promise<void>> = {
  http: httpSection,
  store: storeSection,
  refresh: refreshSection,
  scaleout: scaleoutSection,
  memory: memorySection,
  soak: soakSection,
  dashboard: dashboardSection,
  providers: providersSection,
  instructions: instructionsSection,
};

/**
 * `spawnGateway` (test/support/process-gateway.ts) starts `../../dist/main.js`
 * relative to its own compiled file, which under dist-bench/ is
 * dist-bench/dist/main.js: point that at the real build.
 */
function linkGatewayBuild(root: string): void {
  const link = path.join(root, 'dist-bench', 'dist');
  const target = path.join(root, 'dist');
  try {
    if (fs.realpathSync(link) === fs.realpathSync(target)) return;
    fs.rmSync(link, { recursive: true, force: true });
  } catch {
    // no link yet
  }
  fs.symlinkSync(target, link, 'dir');
}

async function main(): Promise<number> {
  const options = readOptions();
  const t0 = performance.now();
  const startedAt = new Date();
  const log = (line: string) => process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);

  if (!fs.existsSync(path.join(options.root, 'dist', 'main.js'))) throw new Error('dist/main.js is missing: run `npm run build` first (npm run bench does)');
  linkGatewayBuild(options.root);
  if (options.stores.includes('mysql') && !(await mysqlAvailable())) {
    throw new Error('MariaDB does not answer at 127.0.0.1:3306 (TOKENGATE_TEST_MYSQL_URL): start it, or run with BENCH_STORES=sqlite');
  }
  const machine = await describeMachine(options.root);
  log(
    `tokengate bench: ${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}, SQLite ${machine.sqlite}, MariaDB ${machine.mariadb ?? 'n/a'}, load average ${machine.loadAverageAtStart}; commit ${machine.git.commit ?? '?'}${machine.git.srcModified ? ' with src/ changes' : ''}`,
  );
  log(
    `sections ${options.sections.join(', ')}; stores ${options.stores.join(', ')}; ${options.sizes.small} and ${options.sizes.large} tokens; ` +
      `${options.runSeconds} s runs, ${options.pairs} pairs, ${options.connections} connections` +
      `${options.sections.includes('soak') ? `, ${options.soakSeconds} s soak per store` : ''}${options.quick ? ' (quick)' : ''}` +
      `${process.env.BENCH_GATEWAY_NODE_OPTIONS ? `; gateways with ${process.env.BENCH_GATEWAY_NODE_OPTIONS}` : ''}`,
  );

  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-bench-'));
  const datasets = new Datasets(workDir, options.sizes, log);
  const ctx = new BenchContext(options, datasets, workDir, log);
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${signal}: stopping the gateways and dropping the scratch databases`);
    void ctx
      .stopAll()
      .finally(() => datasets.dispose())
      .finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const failed: string[] = [];
  try {
    for (const section of options.sections) {
      log(`== ${section}`);
      try {
        await SECTION_RUNNERS[section](ctx);
      } catch (err) {
        failed.push(section);
        ctx.notes.push(`section ${section} failed: ${(err as Error).message}`);
        log(`section ${section} FAILED: ${(err as Error).stack ?? err}`);
        await ctx.stopAll();
      }
    }
  } finally {
    await ctx.stopAll();
    await datasets.dispose();
  }

  const durationSeconds = Math.round((performance.now() - t0) / 1000);
  const seeding: Record<string, number> = {};
  for (const ds of await datasets.seeded()) seeding[`${ds.kind}.${ds.size}`] = Math.round(ds.seedSeconds * 10) / 10;
  const results: Results = {
    tool: 'tokengate bench',
    complete: options.complete && failed.length === 0,
    quick: options.quick,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    durationSeconds,
    machine: { ...machine, loadAverageAtEnd: loadAverage() },
    options: {
      sizes: options.sizes,
      runSeconds: options.runSeconds,
      pairs: options.pairs,
      connections: options.connections,
      sections: options.sections,
      stores: options.stores,
    },
    seeding,
    figures: ctx.figures,
    notes: ctx.notes,
  };
  writeResults(options.outFile, results);

  process.stdout.write(`\n${textTable(ctx.figures)}\n\n`);
  process.stdout.write(
    `machine: ${machine.cores} cores, ${machine.cpuModel}; Node ${machine.node}; load average ${machine.loadAverageAtStart} → ${results.machine.loadAverageAtEnd}\n`,
  );
  for (const n of ctx.notes) process.stdout.write(`note: ${n}\n`);
  const missed = ctx.figures.filter((f) => f.met === false);
  process.stdout.write(
    `${ctx.figures.filter((f) => f.met === true).length} targets met, ${missed.length} missed; took ${Math.floor(durationSeconds / 60)} min ${durationSeconds % 60} s\n`,
  );
  process.stdout.write(`results: ${path.relative(process.cwd(), options.outFile)}\n`);
  if (results.complete && updateBenchmarksMd(path.join(options.root, 'BENCHMARKS.md'), results)) process.stdout.write('BENCHMARKS.md: latest table updated\n');
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
