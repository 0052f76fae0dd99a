/**
 * What a benchmark run does, from the environment (and `--only`/`--quick` on
 * the command line):
 *
 * - `BENCH_QUICK=1` (or `--quick`): 10,000 and 20,000 tokens, 2 s load runs,
 *   2 pairs: for development, minutes instead of a quarter of an hour.
 * - `BENCH_ONLY=http,store` (or `--only http,store`): these sections only
 *   (`http`, `store`, `refresh`, `scaleout`, `memory`, `soak`, `dashboard`, `providers`; and
 *   `instructions`, which runs only when named).
 * - `BENCH_SOAK_SECONDS=600`: length of the soak (30 with `--quick`).
 * - `BENCH_STORES=sqlite` : these stores only (`sqlite`, `mysql`).
 * - `BENCH_SIZES=10000,100000`, `BENCH_SECONDS=6`, `BENCH_PAIRS=3`,
 *   `BENCH_CONNECTIONS=32`: override the defaults.
 * - `BENCH_PROFILE=1`: the gateway processes sample their CPU (lib/cpu-profile-preload.ts); profiles
 *   land in `bench/profiles/` (summarize with `node dist-bench/bench/profile-top.js`).
 * - `BENCH_OUT=path`: where the results go (default: `bench/results.json` for a
 *   complete run, `bench/results-partial.json` otherwise).
 */
import path from 'node:path';

export const SECTIONS = ['http', 'store', 'refresh', 'scaleout', 'memory', 'soak', 'dashboard', 'providers'] as const;
/** Sections that run only when `--only` names them (they need tools a machine may lack, and take long). */
export const OPT_IN_SECTIONS = ['instructions'] as const;
export type Section = (typeof SECTIONS)[number] | (typeof OPT_IN_SECTIONS)[number];
export const STORES = ['sqlite', 'mysql'] as const;
export type BenchStore = (typeof STORES)[number];

export interface BenchOptions {
  quick: boolean;
  /** The two dataset sizes: the small one and the large one. */
  sizes: { small: number; large: number };
  /** Length of one load run, in seconds. */
  runSeconds: number;
  /** How many (reference, measurement) pairs per figure; the median is reported. */
  pairs: number;
  /** Connections (HTTP) or operations in flight (store) of one load run. */
  connections: number;
  /** Length of the soak, in seconds (per store). */
  soakSeconds: number;
  sections: Section[];
  stores: BenchStore[];
  profile: boolean;
  /** Every section and store at the default sizes: the run that updates BENCHMARKS.md. */
  complete: boolean;
  outFile: string;
  /** The repository root (where `dist/` and `bench/` are). */
  root: string;
}

function list<T extends string>(name: string, raw: string | undefined, allowed: readonly T[]): T[] | null {
  if (raw === undefined || raw.trim() === '') return null;
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items)
    if (!allowed.includes(item as T)) throw new Error(`${name}: unknown value ${JSON.stringify(item)} (expected one of ${allowed.join(', ')})`);
  return allowed.filter((a) => items.includes(a));
}

function int(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number >= ${min}`);
  return n;
}

export function readOptions(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const root = path.resolve(__dirname, '../../..');
  let onlyArg: string | undefined;
  let quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--only') onlyArg = argv[++i];
    else if (a.startsWith('--only=')) onlyArg = a.slice('--only='.length);
    else if (a === '--help' || a === '-h') {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      process.stdout.write(require('node:fs').readFileSync(path.join(root, 'bench', 'USAGE.txt'), 'utf8'));
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  const sections = list<Section>('BENCH_ONLY', onlyArg ?? env.BENCH_ONLY, [...SECTIONS, ...OPT_IN_SECTIONS]) ?? [...SECTIONS];
  const stores = list('BENCH_STORES', env.BENCH_STORES, STORES) ?? [...STORES];
  let sizes = quick ? { small: 10_000, large: 20_000 } : { small: 10_000, large: 100_000 };
  if (env.BENCH_SIZES) {
    const [s, l] = env.BENCH_SIZES.split(',').map((v) => Number(v.trim()));
    if (!Number.isInteger(s) || !Number.isInteger(l) || s! < 100 || l! <= s!)
      throw new Error('BENCH_SIZES must be two whole numbers, small,large (small >= 100, large > small)');
    sizes = { small: s!, large: l! };
  }
  const runSeconds = int('BENCH_SECONDS', env.BENCH_SECONDS, quick ? 2 : 6, 1);
  const pairs = int('BENCH_PAIRS', env.BENCH_PAIRS, quick ? 2 : 3, 1);
  const connections = int('BENCH_CONNECTIONS', env.BENCH_CONNECTIONS, 32, 2);
  const soakSeconds = int('BENCH_SOAK_SECONDS', env.BENCH_SOAK_SECONDS, quick ? 30 : 600, 10);
  const complete =
    !quick &&
    !env.BENCH_SIZES &&
    !env.BENCH_SECONDS &&
    !env.BENCH_PAIRS &&
    !env.BENCH_CONNECTIONS &&
    !env.BENCH_SOAK_SECONDS &&
    SECTIONS.every((s) => sections.includes(s)) &&
    stores.length === STORES.length;
  const outFile = env.BENCH_OUT ? path.resolve(env.BENCH_OUT) : path.join(root, 'bench', complete ? 'results.json' : 'results-partial.json');
  return { quick, sizes, runSeconds, pairs, connections, soakSeconds, sections, stores, profile: env.BENCH_PROFILE === '1', complete, outFile, root };
}
