/** What every section gets: options, datasets, keys, gateway processes, the figures so far. */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnGateway, type GatewayProcess } from '../../test/support/process-gateway';
import type { Datasets } from './datasets';
import type { BenchOptions } from './options';
import type { Figure } from './report';

export interface ApiKeySet {
  admin: string;
  operator: string;
  viewer: string;
}

export class BenchContext {
  readonly figures: Figure[] = [];
  readonly notes: string[] = [];
  readonly keys: ApiKeySet = {
    admin: `bench-admin-${randomBytes(16).toString('hex')}`,
    operator: `bench-operator-${randomBytes(16).toString('hex')}`,
    viewer: `bench-viewer-${randomBytes(16).toString('hex')}`,
  };
  private readonly running = new Set<GatewayProcess>();
  private gatewayCount = 0;

  constructor(
    readonly options: BenchOptions,
    readonly datasets: Datasets,
    readonly workDir: string,
    readonly log: (line: string) => void,
  ) {}

  add(f: Figure): void {
    this.figures.push(f);
    const met = f.met === undefined ? '' : f.met ? '  [met]' : '  [MISSED]';
    const ratio = f.ratio === undefined ? '' : `  ratio ${f.ratio.toFixed(2)}`;
    this.log(`  => ${f.label}: ${f.value} ${f.unit}${f.reference ? ` vs ${f.reference.value} ${f.reference.unit}` : ''}${ratio}${met}`);
  }

  /**
   * Starts `node dist/main.js` in a process of its own, on the run's keys,
   * production settings, no background refresh task, `warn` logging.
   * `name` names its data directory (and its CPU profile with BENCH_PROFILE=1).
   */
  async startGateway(name: string, env: Record<string, string>): Promise<GatewayProcess> {
    const { n, full } = this.gatewayEnv(name, env);
    if (this.options.profile) {
      const dir = path.join(this.options.root, 'bench', 'profiles', `${String(n).padStart(2, '0')}-${name}`);
      fs.mkdirSync(dir, { recursive: true });
      full.NODE_OPTIONS = [full.NODE_OPTIONS, `--require ${path.join(__dirname, 'cpu-profile-preload.js')}`].filter(Boolean).join(' ');
      full.BENCH_CPU_PROFILE_DIR = dir;
    }
    const gw = await spawnGateway(full, { cwd: full.TOKENGATE_DATA_DIR, timeoutMs: 60_000 });
    this.running.add(gw);
    return gw;
  }

  /**
   * The environment of a gateway of this run (`startGateway`'s, or one a section starts in a
   * process of its own): a data directory of its own, the run's keys, production settings.
   */
  gatewayEnv(name: string, env: Record<string, string>): { n: number; full: Record<string, string> } {
    const n = ++this.gatewayCount;
    const dataDir = path.join(this.workDir, `gw-${n}-${name}`);
    fs.mkdirSync(dataDir, { recursive: true });
    const full: Record<string, string> = {
      NODE_ENV: 'production',
      TOKENGATE_DATA_DIR: dataDir,
      TOKENGATE_API_KEYS: `admin:${this.keys.admin},operator:${this.keys.operator},viewer:${this.keys.viewer}`,
      TOKENGATE_ENCRYPTION_KEY: this.datasets.keyBase64,
      TOKENGATE_REFRESH_CHECK_SECONDS: '0',
      TOKENGATE_LOG_LEVEL: 'warn',
      ...env,
    };
    // V8 or Node flags to try on the gateways (e.g. a heap setting), without changing the code.
    const extra = process.env.BENCH_GATEWAY_NODE_OPTIONS;
    if (extra) full.NODE_OPTIONS = [full.NODE_OPTIONS, extra].filter(Boolean).join(' ');
    return { n, full };
  }

  /** Stops a gateway (SIGTERM, as in production; its CPU profile is written then). */
  async stopGateway(gw: GatewayProcess): Promise<void> {
    if (!this.running.delete(gw)) return;
    const code = await Promise.race([gw.stop(), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000))]);
    if (code === 'timeout') await gw.kill();
    else if (code !== 0) this.log(`  gateway ${gw.pid} exited with ${code}:\n${gw.output().slice(-2000)}`);
  }

  async stopAll(): Promise<void> {
    for (const gw of [...this.running]) await this.stopGateway(gw);
  }
}

/** POSTs one GraphQL request; throws on an HTTP error or a GraphQL error. */
export async function gql<T = Record<string, unknown>>(url: string, apiKey: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: Array<{ message: string; extensions?: { code?: string } }> };
  if (!res.ok || body.errors?.length) throw new Error(`GraphQL ${res.status}: ${JSON.stringify(body.errors ?? body).slice(0, 500)}`);
  return body.data as T;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
