import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Clock } from '../../src/clock';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { createGateway, type Gateway } from '../../src/server/gateway';
import { createScratchDatabase, mysqlAvailable, type ScratchDatabase } from './mysql';

export type StoreKind = 'sqlite' | 'mysql' | 'memory';
export const STORE_KINDS: readonly StoreKind[] = ['sqlite', 'mysql', 'memory'];

export interface TestKeys {
  admin: string;
  operator: string;
  viewer: string;
}

/** A gateway listening on 127.0.0.1 with its own data directory, keys and (for mysql) scratch database. */
export interface TestGateway {
  url: string;
  keys: TestKeys;
  gateway: Gateway;
  dataDir: string;
  /** Every log line the gateway wrote, as text (to check that no secret reaches a log). */
  logs(): string;
  /** POSTs a GraphQL request with a key (or none) and returns status and body. */
  gql<T = any>(
    query: string,
    variables?: Record<string, unknown>,
    key?: string | null,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: T; headers: Headers }>;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  store: StoreKind;
  /** Extra environment (e.g. TOKENGATE_ACCOUNTS_URL of a fake Accounts server). */
  env?: Record<string, string>;
  /** The port to listen on [0: any free one]; e.g. one `TOKENGATE_PUBLIC_URL` names. */
  port?: number;
  /**
   * What the gateway is built with besides its configuration: the provider client's `fetch`, the connect flow's clock,
   * the clock of the refresh engine, the background task and the webhooks.
   */
  deps?: { fetch?: typeof fetch; now?: () => number; clock?: Clock };
}

export function testKeys(): TestKeys {
  const k = (role: string) => `${role}-${randomBytes(16).toString('hex')}`;
  return { admin: k('admin'), operator: k('operator'), viewer: k('viewer') };
}

/** Starts a gateway for a test. Call `close()` in `afterAll`. */
export async function startTestGateway(options: TestGatewayOptions): Promise<TestGateway> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-test-'));
  const keys = testKeys();
  let db: ScratchDatabase | null = null;
  const env: Record<string, string> = {
    TOKENGATE_STORE: options.store,
    TOKENGATE_DATA_DIR: dataDir,
    TOKENGATE_API_KEYS: `admin:${keys.admin},operator:${keys.operator},viewer:${keys.viewer}`,
    TOKENGATE_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    TOKENGATE_REFRESH_CHECK_SECONDS: '0',
    TOKENGATE_LOG_LEVEL: 'debug',
    ...options.env,
  };
  if (options.store === 'mysql') {
    if (!(await mysqlAvailable())) throw new Error('MariaDB is not reachable');
    db = await createScratchDatabase('tg_http');
    env.TOKENGATE_MYSQL_URL = db.url;
  }
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const config = loadConfig(env);
  const gateway = await createGateway(config, { logger: createLogger(config.logLevel, sink), defaultMetrics: false, ...options.deps });
  const server = gateway.app.server;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    keys,
    gateway,
    dataDir,
    logs: () => lines.join(''),
    async gql(query, variables, key, headers = {}) {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
        body: JSON.stringify({ query, variables }),
      });
      const text = await res.text();
      let body: any;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      return { status: res.status, body, headers: res.headers };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await gateway.close();
      await db?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
