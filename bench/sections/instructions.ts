/**
 * Instructions a request, counted by `valgrind --tool=callgrind`: the
 * gateway's `{ __typename }`, `tokenById` and `token(match: {userName})` on
 * the small SQLite table, each in a process of its own through
 * `app.inject()` (lib/instructions-child.ts). Unlike requests/s or CPU time,
 * an instruction count hardly moves from run to run or machine to machine,
 * so it tells whether a change made the gateway's own work smaller on a
 * machine too noisy to tell by time. It does not see what an instruction
 * costs: cache misses, which make a SQLite lookup three times dearer cold
 * than hot, count for nothing here (BENCHMARKS.md, seventh session). Runs
 * only when named (`--only instructions`); needs valgrind; takes ~8 minutes.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { BenchContext } from '../lib/context';
import type { InstructionsQuery } from '../lib/instructions-child';
import { figure } from '../lib/report';
import { round } from '../lib/stats';

const WARM = 1500;
const COUNTS = [500, 2500] as const;
const SAMPLE = 1000;

/** The instructions valgrind counted for one run of the child (its "refs" line). */
function countedRun(ctx: BenchContext, env: Record<string, string>, query: InstructionsQuery, count: number, keysFile: string): Promise<number> {
  const child = path.join(__dirname, '..', 'lib', 'instructions-child.js');
  const out = path.join(ctx.workDir, `callgrind-${query}-${count}.out`);
  return new Promise((resolve, reject) => {
    const p = spawn(
      'valgrind',
      ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, '--expose-gc', child, query, String(WARM), String(count), keysFile],
      {
        env: { PATH: process.env.PATH ?? '', ...env },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let err = '';
    p.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    p.once('error', reject);
    p.once('exit', (code) => {
      fs.rmSync(out, { force: true });
      const refs = /refs:\s+([\d,]+)/.exec(err);
      if (code !== 0 || !refs) return reject(new Error(`callgrind of ${query} (${count}) exited with ${code}: ${err.slice(-800)}`));
      resolve(Number(refs[1]!.replace(/,/g, '')));
    });
  });
}

export async function instructionsSection(ctx: BenchContext): Promise<void> {
  const { log } = ctx;
  if (spawnSync('valgrind', ['--version']).status !== 0) {
    log('instructions: skipped (valgrind is not installed: apt-get install valgrind)');
    ctx.notes.push('instructions: skipped, valgrind is not installed');
    return;
  }
  const set = await ctx.datasets.get('sqlite', 'small');
  const keysFile = path.join(ctx.workDir, 'instructions-keys.json');
  fs.writeFileSync(keysFile, JSON.stringify({ apiKey: ctx.keys.viewer, ids: set.ids.slice(0, SAMPLE), userNames: set.userNames.slice(0, SAMPLE) }));
  const queries: InstructionsQuery[] = ['floor', 'tokenById', 'tokenByUserName'];
  log(`instructions: callgrind of ${queries.join(', ')} on sqlite @${set.size} (${WARM} warm-up requests, then ${COUNTS.join(' and ')}; two at a time)`);
  const perRequest = new Map<InstructionsQuery, number>();
  for (const query of queries) {
    const runs = await Promise.all(
      COUNTS.map((count) => countedRun(ctx, ctx.gatewayEnv(`instructions-${query}-${count}`, set.gatewayEnv).full, query, count, keysFile)),
    );
    const each = (runs[1]! - runs[0]!) / (COUNTS[1] - COUNTS[0]);
    perRequest.set(query, each);
    log(`  ${query}: ${round(each / 1000, 1)} k instructions a request`);
  }
  const floor = perRequest.get('floor')!;
  const kilo = (v: number) => round(v / 1000, 1);
  ctx.add(
    figure({
      id: 'instructions.sqlite.floor',
      section: 'instructions',
      label: 'gateway { __typename }: instructions a request (callgrind, app.inject)',
      value: kilo(floor),
      unit: 'k instructions',
    }),
  );
  for (const [query, name] of [
    ['tokenById', 'tokenById'],
    ['tokenByUserName', 'token(userName)'],
  ] as const) {
    const v = perRequest.get(query)!;
    ctx.add(
      figure({
        id: `instructions.sqlite.${query}`,
        section: 'instructions',
        label: `sqlite ${name} @${set.size / 1000}k: instructions a request (callgrind, app.inject)`,
        value: kilo(v),
        unit: 'k instructions',
        reference: { label: 'gateway floor', value: kilo(floor), unit: 'k instructions' },
        // As the http section's ratios: the floor's cost over the lookup's (1 = the lookup costs nothing more).
        ratio: round(floor / v, 3),
      }),
    );
  }
}
