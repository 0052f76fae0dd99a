/**
 * The seeded token tables the sections measure: for each store, one with
 * `sizes.small` tokens and one with `sizes.large`, both present at the same
 * time so that runs on either can be interleaved.
 *
 * Tokens are written through the store itself (`saveToken`, many in flight),
 * so they are stored exactly as the gateway stores them: encrypted under the
 * run's key, with their hash columns. The large table starts as a copy of the
 * small one (SQLite `VACUUM INTO`; MariaDB `INSERT … SELECT` into a table the
 * store's own migration created) and gets the remaining tokens through the
 * store. Seeded once per run, shared by every section, removed at the end.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { Keyring } from '../../src/crypto/keyring';
import { openStore, type StoreOptions } from '../../src/stores/open-store';
import type { TokenInput } from '../../src/stores/token';
import type { Stores } from '../../src/stores/stores';
import type { TokenStore } from '../../src/stores/token-store';
import { createScratchDatabase, MYSQL_ADMIN_URL, type ScratchDatabase } from '../../test/support/mysql';
import type { BenchStore } from './options';

export const MYSQL_TABLE = 'oauthtoken';

export interface Dataset {
  kind: BenchStore;
  size: number;
  /** Ids of the stored tokens, index i holding token i. */
  ids: string[];
  /** User names of the stored tokens, index i holding token i. */
  userNames: string[];
  /** What `openStore` takes to open this table. */
  storeOptions: Exclude<StoreOptions, { kind: 'memory' }>;
  /** The environment that points a gateway process at this table. */
  gatewayEnv: Record<string, string>;
  /** How long seeding this dataset took, in seconds. */
  seedSeconds: number;
}

export const userNameOf = (i: number) => `bench-user-${i}@example.com`;

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** A realistic Zoho-shaped token (`1000.<32 hex>.<32 hex>` access and refresh tokens). */
export function benchToken(i: number): TokenInput {
  return {
    userName: userNameOf(i),
    clientId: `1000.BENCHCLIENT${String(i % 100).padStart(4, '0')}`,
    clientSecret: hex(21),
    refreshToken: `1000.${hex(16)}.${hex(16)}`,
    accessToken: `1000.${hex(16)}.${hex(16)}`,
    apiDomain: 'https://www.zohoapis.com',
    accountsUrl: 'https://accounts.zoho.com',
    expiresAt: new Date(Date.now() + 86_400_000 + (i % 3600) * 1000),
  };
}

/**
 * Saves tokens `from`..`to - 1` through the store with `inFlight` saves at
 * once, printing progress. @returns their ids, in order.
 */
export async function seedTokens(store: TokenStore, from: number, to: number, inFlight: number, label: string, log: (line: string) => void): Promise<string[]> {
  const ids = new Array<string>(to - from);
  let next = from;
  let done = 0;
  const started = performance.now();
  let lastReport = started;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= to) return;
      const saved = await store.saveToken(benchToken(i));
      ids[i - from] = saved.id;
      done++;
      const now = performance.now();
      if (now - lastReport > 5000) {
        lastReport = now;
        log(`  seeding ${label}: ${done.toLocaleString('en-US')}/${(to - from).toLocaleString('en-US')} (${Math.round(done / ((now - started) / 1000))}/s)`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, to - from) }, worker));
  return ids;
}

export class Datasets {
  /** The run's encryption key: the seeding stores and every gateway process use it. */
  readonly keyBase64: string;
  readonly keyring: Keyring;
  private readonly cache = new Map<string, Promise<Dataset>>();
  private readonly databases: ScratchDatabase[] = [];

  constructor(
    private readonly workDir: string,
    readonly sizes: { small: number; large: number },
    private readonly log: (line: string) => void,
  ) {
    const key = randomBytes(32);
    this.keyBase64 = key.toString('base64');
    this.keyring = new Keyring([key]);
  }

  /** The dataset of `kind` with the small or the large number of tokens (seeded on first use). */
  get(kind: BenchStore, which: 'small' | 'large'): Promise<Dataset> {
    const k = `${kind}:${which}`;
    let p = this.cache.get(k);
    if (!p) {
      p = which === 'small' ? this.seedSmall(kind) : this.seedLarge(kind);
      this.cache.set(k, p);
      p.catch(() => this.cache.delete(k));
    }
    return p;
  }

  /** The datasets seeded so far (never seeds). */
  async seeded(): Promise<Dataset[]> {
    const all = await Promise.all([...this.cache.values()].map((p) => p.catch(() => null)));
    return all.filter((d): d is Dataset => d !== null);
  }

  /** Opens a store on a dataset's table (in this process) with the run's key. */
  open(ds: Dataset): Promise<Stores> {
    return openStore(ds.storeOptions, this.keyring);
  }

  private async target(kind: BenchStore, size: number): Promise<{ storeOptions: Dataset['storeOptions']; gatewayEnv: Record<string, string> }> {
    if (kind === 'sqlite') {
      const file = path.join(this.workDir, `sqlite-${size}.db`);
      return { storeOptions: { kind: 'sqlite', path: file }, gatewayEnv: { TOKENGATE_STORE: 'sqlite', TOKENGATE_SQLITE_PATH: file } };
    }
    const db = await createScratchDatabase(`tg_bench_${size}`);
    this.databases.push(db);
    return {
      storeOptions: { kind: 'mysql', url: db.url, table: MYSQL_TABLE, poolSize: 16 },
      gatewayEnv: { TOKENGATE_STORE: 'mysql', TOKENGATE_MYSQL_URL: db.url, TOKENGATE_MYSQL_TABLE: MYSQL_TABLE },
    };
  }

  private async seedSmall(kind: BenchStore): Promise<Dataset> {
    const size = this.sizes.small;
    const started = performance.now();
    const t = await this.target(kind, size);
    this.log(`seeding ${kind} with ${size.toLocaleString('en-US')} tokens through the store`);
    const store = await openStore(t.storeOptions, this.keyring);
    let ids: string[];
    try {
      ids = await seedTokens(store.tokens, 0, size, kind === 'sqlite' ? 50 : 100, `${kind} ${size}`, this.log);
    } finally {
      await store.close();
    }
    const seedSeconds = (performance.now() - started) / 1000;
    this.log(`  seeded ${kind} ${size.toLocaleString('en-US')} in ${seedSeconds.toFixed(1)} s`);
    return { kind, size, ids, userNames: ids.map((_, i) => userNameOf(i)), ...t, seedSeconds };
  }

  private async seedLarge(kind: BenchStore): Promise<Dataset> {
    const small = await this.get(kind, 'small');
    const size = this.sizes.large;
    const started = performance.now();
    const t = await this.target(kind, size);
    this.log(
      `seeding ${kind} with ${size.toLocaleString('en-US')} tokens: a copy of the ${small.size.toLocaleString('en-US')}, then the rest through the store`,
    );
    if (kind === 'sqlite') {
      const src = new Database((small.storeOptions as { path: string }).path);
      try {
        src.prepare('VACUUM INTO ?').run((t.storeOptions as { path: string }).path);
      } finally {
        src.close();
      }
    } else {
      // Let the store's migration create the table, then copy the rows verbatim (same key, same ids).
      await (await openStore(t.storeOptions, this.keyring)).close();
      const admin = await mysql.createConnection({ uri: MYSQL_ADMIN_URL });
      try {
        const from = new URL((small.storeOptions as { url: string }).url).pathname.slice(1);
        const to = new URL((t.storeOptions as { url: string }).url).pathname.slice(1);
        await admin.query(`INSERT INTO \`${to}\`.\`${MYSQL_TABLE}\` SELECT * FROM \`${from}\`.\`${MYSQL_TABLE}\``);
      } finally {
        await admin.end();
      }
    }
    const store = await openStore(t.storeOptions, this.keyring);
    let more: string[];
    try {
      more = await seedTokens(store.tokens, small.size, size, kind === 'sqlite' ? 50 : 100, `${kind} ${size}`, this.log);
    } finally {
      await store.close();
    }
    const ids = [...small.ids, ...more];
    const seedSeconds = (performance.now() - started) / 1000;
    this.log(`  seeded ${kind} ${size.toLocaleString('en-US')} in ${seedSeconds.toFixed(1)} s`);
    return { kind, size, ids, userNames: ids.map((_, i) => userNameOf(i)), ...t, seedSeconds };
  }

  /** Drops the scratch databases and removes the SQLite files. */
  async dispose(): Promise<void> {
    for (const db of this.databases.splice(0)) {
      await db.drop().catch((err: unknown) => this.log(`could not drop ${db.name}: ${(err as Error).message}`));
    }
    fs.rmSync(this.workDir, { recursive: true, force: true });
  }
}
