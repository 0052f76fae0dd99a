/**
 * The governor's simulation (issue #13): scripts forcing refreshes of a few
 * Zoho tokens as fast as they can for a simulated hour, against a fake Zoho
 * Accounts that enforces Zoho's limits exactly, with time compressed 60× on
 * both sides (the fake's windows and the Zoho profile's: a 10-minute window
 * lasts 10 s, an access token lives 60 s, the hour lasts 60 s).
 *
 * 1. Through tokengate: three gateway processes on one MariaDB database, two
 *    scripts per process per token, each calling `refresh(id, force: true)`
 *    and then the CRM with the token it got.
 * 2. The same scripts with Zoho's TypeScript SDK alone (each its own process,
 *    SDK and FileStore), forcing the SDK's own refresh step.
 * Counted: access_denied answers, access tokens the fake invalidated while a
 * client still used them (or that expired in use), and for tokengate every
 * answer: a valid token, or THROTTLED with retryAfter, or anything else.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createScratchDatabase } from '../../test/support/mysql';
import type { GatewayProcess } from '../../test/support/process-gateway';
import type { BenchContext } from '../lib/context';
import { startFakeZoho, type FakeZohoStats } from '../lib/fake-zoho-limits';
import { figure } from '../lib/report';

const SCALE = 60;
const TOKENS = 3;
const SCRIPTS_PER_TOKEN = 6;
const CLIENT_ID = '1000.BENCHGOVERNOR';
const CLIENT_SECRET = 'bench-governor-secret';

interface GatewayCounts {
  calls: number;
  validToken: number;
  heldToken: number;
  throttledWithRetryAfter: number;
  other: number;
  crmRejected: number;
}

export async function providersSection(ctx: BenchContext): Promise<void> {
  const { log } = ctx;
  if (!ctx.options.stores.includes('mysql')) {
    log('providers: skipped (needs MariaDB)');
    return;
  }
  const simulatedSeconds = ctx.options.quick ? 600 : 3600;
  const seconds = simulatedSeconds / SCALE;
  log(
    `providers: ${TOKENS} tokens × ${SCRIPTS_PER_TOKEN} scripts forcing refreshes for a simulated ${simulatedSeconds / 60} minutes (${seconds} s, time ×${SCALE})`,
  );

  // 1. Through three gateway processes on one MariaDB database.
  const zoho = await startFakeZoho({ scale: SCALE });
  zoho.addClient(CLIENT_ID, CLIENT_SECRET);
  const db = await createScratchDatabase('tg_providers_bench');
  const gateway: GatewayCounts = { calls: 0, validToken: 0, heldToken: 0, throttledWithRetryAfter: 0, other: 0, crmRejected: 0 };
  const others: string[] = [];
  try {
    const env = { TOKENGATE_STORE: 'mysql', TOKENGATE_MYSQL_URL: db.url, TOKENGATE_ACCOUNTS_URL: zoho.url };
    const gws: GatewayProcess[] = [];
    for (let i = 0; i < 3; i++) gws.push(await ctx.startGateway(`providers-${i}`, env));
    const gql = async (url: string, key: string, query: string, variables: Record<string, unknown> = {}) => {
      const r = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query, variables }),
      });
      return (await r.json()) as { data?: any; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
    };
    // Zoho's limits, compressed like the fake's.
    const limits = await gql(
      gws[0]!.url,
      ctx.keys.admin,
      `mutation { saveProvider(provider: { name: "zoho", limits: { windowSeconds: ${600 / SCALE}, accessTokenLifetimeSeconds: ${3600 / SCALE} } }) { limits { accessTokensPerWindow windowSeconds maxAliveAccessTokens accessTokenLifetimeSeconds } } }`,
    );
    if (limits.errors) throw new Error(`saveProvider: ${limits.errors[0]!.message}`);
    const ids: string[] = [];
    for (let t = 0; t < TOKENS; t++) {
      const r = await gql(gws[0]!.url, ctx.keys.operator, `mutation($t: TokenInput!) { saveToken(token: $t) { id } }`, {
        t: { userName: `gov-${t}@example.com`, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, refreshToken: zoho.addRefreshToken(CLIENT_ID) },
      });
      ids.push(r.data.saveToken.id);
    }
    // Let every process read the new limits (the registry re-reads every 2 s).
    await new Promise((r) => setTimeout(r, 2500));
    const end = Date.now() + seconds * 1000;
    const script = async (id: string, url: string) => {
      while (Date.now() < end) {
        gateway.calls++;
        const r = await gql(url, ctx.keys.operator, `mutation($id: ID!) { refresh(id: $id, force: true) { accessToken throttled } }`, { id });
        const code = r.errors?.[0]?.extensions?.code;
        if (r.data?.refresh?.accessToken) {
          gateway.validToken++;
          if (r.data.refresh.throttled) gateway.heldToken++;
          const crm = await fetch(`${zoho.url}/crm/v8/users`, { headers: { authorization: `Zoho-oauthtoken ${r.data.refresh.accessToken}` } }).catch(
            () => null,
          );
          if (crm && !crm.ok) gateway.crmRejected++;
        } else if (code === 'THROTTLED' && typeof r.errors?.[0]?.extensions?.retryAfter === 'number') {
          gateway.throttledWithRetryAfter++;
        } else {
          gateway.other++;
          if (others.length < 5) others.push(JSON.stringify(r.errors ?? r.data).slice(0, 300));
        }
      }
    };
    await Promise.all(ids.flatMap((id) => Array.from({ length: SCRIPTS_PER_TOKEN }, (_, i) => script(id, gws[i % 3]!.url))));
    for (const gw of gws) await ctx.stopGateway(gw);
  } finally {
    await db.drop().catch(() => undefined);
  }
  const gwStats = zoho.stats();
  await zoho.close();
  if (others.length > 0) log(`  other answers, e.g.: ${others.join(' | ')}`);
  log(`  through tokengate: Zoho ${JSON.stringify(gwStats)}; calls ${JSON.stringify(gateway)}`);

  // 2. The same load through Zoho's SDK alone.
  const sdkZoho = await startFakeZoho({ scale: SCALE });
  sdkZoho.addClient(CLIENT_ID, CLIENT_SECRET);
  const sdk = { calls: 0, validToken: 0, accessDenied: 0, otherErrors: 0, crmRejected: 0 };
  const dir = path.join(ctx.workDir, 'sdk-scripts');
  fs.mkdirSync(dir, { recursive: true });
  const refreshTokens = Array.from({ length: TOKENS }, () => sdkZoho.addRefreshToken(CLIENT_ID));
  const scriptFile = path.join(__dirname, '../lib/sdk-script.js');
  await Promise.all(
    refreshTokens.flatMap((rt, t) =>
      Array.from(
        { length: SCRIPTS_PER_TOKEN },
        (_, i) =>
          new Promise<void>((resolve, reject) => {
            const child = spawn(process.execPath, [scriptFile], {
              cwd: dir,
              env: {
                PATH: process.env.PATH ?? '',
                NODE_PATH: path.join(ctx.options.root, 'node_modules'),
                BENCH_SDK_ACCOUNTS: sdkZoho.url,
                BENCH_SDK_CLIENT_ID: CLIENT_ID,
                BENCH_SDK_CLIENT_SECRET: CLIENT_SECRET,
                BENCH_SDK_REFRESH_TOKEN: rt,
                BENCH_SDK_STORE_FILE: path.join(dir, `tokens-${t}-${i}.txt`),
                BENCH_SDK_SECONDS: String(seconds),
              },
              stdio: ['ignore', 'pipe', 'pipe'],
            });
            let out = '';
            let errText = '';
            child.stdout.on('data', (c: Buffer) => (out += c.toString()));
            child.stderr.on('data', (c: Buffer) => (errText += c.toString()));
            child.on('close', (code) => {
              const line = out.trim().split('\n').at(-1) ?? '';
              try {
                const c = JSON.parse(line) as typeof sdk;
                for (const k of Object.keys(sdk) as Array<keyof typeof sdk>) sdk[k] += c[k];
                resolve();
              } catch {
                reject(new Error(`SDK script exited with ${code}: ${errText.slice(-500)}`));
              }
            });
          }),
      ),
    ),
  );
  const sdkStats = sdkZoho.stats();
  await sdkZoho.close();
  log(`  SDK alone: Zoho ${JSON.stringify(sdkStats)}; scripts ${JSON.stringify(sdk)}`);

  const add = (id: string, label: string, value: number, unit: string, target?: { op: '==' | '<=' | '>='; value: number }, detail?: Record<string, unknown>) =>
    ctx.add(
      figure({
        id: `providers.${id}`,
        section: 'providers',
        label,
        value,
        unit,
        ...(target ? { target: { of: 'value', ...target } } : {}),
        ...(detail ? { detail } : {}),
      }),
    );
  const both = (s: FakeZohoStats) => ({ ...s });
  add(
    'gateway.access_denied',
    'governor simulation, 3 gateways: access_denied answered by Zoho',
    gwStats.accessDenied,
    '',
    { op: '==', value: 0 },
    { zoho: both(gwStats), calls: gateway },
  );
  add(
    'gateway.invalidated_in_use',
    'governor simulation, 3 gateways: access tokens invalidated (or expired) while in use',
    gwStats.invalidatedInUse + gwStats.expiredInUse,
    '',
    { op: '==', value: 0 },
  );
  add('gateway.unanswered', 'governor simulation, 3 gateways: calls answered neither a valid token nor THROTTLED+retryAfter', gateway.other, '', {
    op: '==',
    value: 0,
  });
  add('gateway.calls', 'governor simulation, 3 gateways: refresh calls made', gateway.calls, '');
  add('gateway.valid', 'governor simulation, 3 gateways: answered a valid token (held: throttled=true)', gateway.validToken, '', undefined, {
    held: gateway.heldToken,
    crmRejected: gateway.crmRejected,
  });
  add('gateway.throttled', 'governor simulation, 3 gateways: answered THROTTLED with retryAfter', gateway.throttledWithRetryAfter, '');
  add('gateway.minted', 'governor simulation, 3 gateways: access tokens minted by Zoho', gwStats.minted, '');
  add('sdk.access_denied', 'governor simulation, SDK alone: access_denied answered by Zoho', sdkStats.accessDenied, '', undefined, {
    zoho: both(sdkStats),
    calls: sdk,
  });
  add(
    'sdk.first_access_denied',
    'governor simulation, SDK alone: first access_denied after (real seconds)',
    sdkStats.firstAccessDeniedMs === null ? NaN : sdkStats.firstAccessDeniedMs / 1000,
    's',
  );
  add(
    'sdk.invalidated_in_use',
    'governor simulation, SDK alone: access tokens invalidated (or expired) while in use',
    sdkStats.invalidatedInUse + sdkStats.expiredInUse,
    '',
  );
  add('sdk.calls', 'governor simulation, SDK alone: forced refreshes', sdk.calls, '', undefined, { sdk });
  add('sdk.minted', 'governor simulation, SDK alone: access tokens minted by Zoho', sdkStats.minted, '');
}
