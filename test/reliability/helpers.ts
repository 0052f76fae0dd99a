/**
 * What the reliability tests share: the environment of a gateway process on
 * a throwaway MariaDB, GraphQL over HTTP with a hard time bound, the full
 * field list of a token, and response checks (no stack, no file path).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testKeys, type TestKeys } from '../support/gateway';
import { spawnGateway, type GatewayProcess } from '../support/process-gateway';

/** Every field of `Token`, secrets included (admin key). */
export const ALL_TOKEN_FIELDS =
  'id userName clientId redirectUrl apiDomain accountsUrl expiresAt status hasAccessToken hasRefreshToken hasGrantToken lastRefreshedAt lastError createdAt updatedAt accessToken refreshToken clientSecret grantToken';

/** The result of one GraphQL request over HTTP, or how it failed to get one. */
export interface GqlResult {
  /** HTTP status; 0 when no response came (connection refused or reset, timed out). */
  status: number;
  body: any;
  text: string;
  ms: number;
  /** The `Retry-After` header, when the answer has one. */
  retryAfter?: string;
  /** Set when no response came: the fetch error's name and message. */
  failure?: string;
}

/** POSTs a GraphQL request; never throws; gives up after `timeoutMs` (a hang shows as `failure: 'TimeoutError'`). */
export async function gqlAt(url: string, key: string | null, query: string, variables: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<GqlResult> {
  const started = Date.now();
  try {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let body: any = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: kept as text
    }
    const retryAfter = res.headers.get('retry-after') ?? undefined;
    return { status: res.status, body, text, ms: Date.now() - started, ...(retryAfter ? { retryAfter } : {}) };
  } catch (err) {
    return { status: 0, body: null, text: '', ms: Date.now() - started, failure: `${(err as Error).name}: ${(err as Error).message}` };
  }
}

/** GETs a path (`/readyz`, `/healthz`); status 0 when no response came within `timeoutMs`. */
export async function getStatus(url: string, pathname: string, timeoutMs = 10_000): Promise<{ status: number; ms: number; body: string }> {
  const started = Date.now();
  try {
    const res = await fetch(`${url}${pathname}`, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, ms: Date.now() - started, body: await res.text() };
  } catch {
    return { status: 0, ms: Date.now() - started, body: '' };
  }
}

/** The environment and keys of gateway processes sharing one database. */
export interface GatewayEnv {
  env: Record<string, string>;
  keys: TestKeys;
  dataDir: string;
}

export function gatewayEnv(mysqlUrl: string, extra: Record<string, string> = {}): GatewayEnv {
  const keys = testKeys();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-reliability-'));
  return {
    keys,
    dataDir,
    env: {
      TOKENGATE_STORE: 'mysql',
      TOKENGATE_MYSQL_URL: mysqlUrl,
      TOKENGATE_API_KEYS: `admin:${keys.admin},operator:${keys.operator},viewer:${keys.viewer}`,
      TOKENGATE_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      TOKENGATE_REFRESH_CHECK_SECONDS: '0',
      TOKENGATE_REFRESH_LEASE_SECONDS: '5',
      TOKENGATE_UPSTREAM_TIMEOUT_MS: '3000',
      TOKENGATE_LOG_LEVEL: 'warn',
      TOKENGATE_DATA_DIR: dataDir,
      ...extra,
    },
  };
}

/** Lines that look like a stack frame or a source path: never in a response. */
const LEAKS: Array<[string, RegExp]> = [
  ['a stack frame', /\bat [\w$.<>[\] ]*\(?[^()\s]*:\d+:\d+\)?/],
  ['a stack frame', /\n\s+at /],
  ['a file path', /(?:\/work\/|\/home\/|\/usr\/|node_modules|\/dist\/|\/src\/|[\w-]+\.(?:ts|js):\d+)/],
  ['a "stack" field', /"(?:stack|stacktrace|exception)"\s*:/i],
];

/** What in a response body looks like a leaked stack trace or file path, or null. */
export function leakIn(text: string): string | null {
  for (const [what, re] of LEAKS) {
    const m = re.exec(text);
    if (m) return `${what}: ${JSON.stringify(text.slice(Math.max(0, m.index - 40), m.index + 80))}`;
  }
  return null;
}

/** The `extensions.code` of every error of a GraphQL body. */
export function errorCodes(body: any): string[] {
  return Array.isArray(body?.errors) ? body.errors.map((e: any) => String(e?.extensions?.code)) : [];
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const liveGateways = new Set<GatewayProcess>();
let exitHookInstalled = false;

/**
 * `spawnGateway`, and no gateway outlives this test process: an `exit`
 * handler kills those still running, and a watchdog shell kills the gateway
 * when this process dies without running it (SIGKILL, a jest worker torn down).
 */
export async function startGateway(env: Record<string, string>, options: { cwd?: string; timeoutMs?: number } = {}): Promise<GatewayProcess> {
  const gw = await spawnGateway(env, options);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const g of liveGateways) {
        try {
          process.kill(g.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    });
  }
  liveGateways.add(gw);
  gw.child.once('exit', () => liveGateways.delete(gw));
  spawn(
    'sh',
    [
      '-c',
      'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done; kill -9 "$2" 2>/dev/null',
      'tokengate-gateway-watchdog',
      String(process.pid),
      String(gw.pid),
    ],
    { stdio: 'ignore', detached: true },
  ).unref();
  return gw;
}
