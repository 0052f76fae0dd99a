import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { Keyring } from '../../src/crypto/keyring';
import { openStore } from '../../src/stores/open-store';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { testKeys } from '../support/gateway';
import { createScratchDatabase, describeWithMysql, type ScratchDatabase } from '../support/mysql';
import { spawnGateway, type GatewayProcess } from '../support/process-gateway';
import { Changes } from '../support/changes';

jest.setTimeout(90_000);

const CLI = path.resolve(__dirname, '../../dist/cli/tokengate.js');
const TOKENS = 200;

/** Runs `tokengate …` (the built CLI) with `env`; resolves with its exit code and output. */
function tokengate(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string; startedAt: number; endedAt: number }> {
  const startedAt = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr, startedAt, endedAt: Date.now() })));
}

/**
 * The runbook's rotation on two gateway processes sharing one MariaDB
 * database: `tokengate keys rotate` runs while both serve a load of lookups
 * and refreshes; every token stays readable before, during and after, and at
 * the end no row uses the old key, so gateways start with the new key alone.
 */
describeWithMysql('key rotation while two gateway processes serve', () => {
  let db: ScratchDatabase;
  let accounts: FakeAccountsServer;
  const keys = testKeys();
  const clientId = '1000.ROTATE';
  const clientSecret = 'rotate-client-secret-' + randomBytes(8).toString('hex');
  const oldKey = randomBytes(32).toString('base64');
  const newKey = randomBytes(32).toString('base64');
  const oldId = new Keyring([Buffer.from(oldKey, 'base64')]).currentKeyId;
  const newId = new Keyring([Buffer.from(newKey, 'base64')]).currentKeyId;
  const running: GatewayProcess[] = [];
  let env: Record<string, string>;
  const tokens: Array<{ id: string; refreshToken: string }> = [];

  const gql = async (gw: GatewayProcess, query: string, variables: Record<string, unknown>, key = keys.admin) => {
    const res = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as { data?: any; errors?: Array<{ message: string; extensions: { code: string } }> };
  };
  /** Reads every token through a gateway (paged, secrets included): each must decrypt. */
  const readAll = async (gw: GatewayProcess) => {
    const r = await gql(gw, `{ tokens(first: 1000) { totalCount nodes { id refreshToken clientSecret } } }`, {});
    expect(r.errors).toBeUndefined();
    expect(r.data.tokens.totalCount).toBe(TOKENS);
    const byId = new Map(r.data.tokens.nodes.map((n: { id: string; refreshToken: string; clientSecret: string }) => [n.id, n]));
    for (const t of tokens) expect(byId.get(t.id)).toEqual({ id: t.id, refreshToken: t.refreshToken, clientSecret });
  };

  beforeAll(async () => {
    db = await createScratchDatabase('tg_rotproc');
    accounts = await startFakeAccountsServer();
    accounts.addClient(clientId, clientSecret);
    env = {
      TOKENGATE_STORE: 'mysql',
      TOKENGATE_MYSQL_URL: db.url,
      TOKENGATE_MYSQL_POOL_SIZE: '8',
      TOKENGATE_API_KEYS: `admin:${keys.admin},operator:crm-sync:${keys.operator},viewer:${keys.viewer}`,
      TOKENGATE_ACCOUNTS_URL: accounts.url,
      TOKENGATE_REFRESH_CHECK_SECONDS: '0',
      TOKENGATE_REFRESH_LEASE_SECONDS: '5',
      TOKENGATE_LOG_LEVEL: 'warn',
      TOKENGATE_DATA_DIR: `/tmp/tokengate-rotproc-${process.pid}`,
    };
    // Tokens written under the old key, as a gateway that had only it wrote them.
    const stores = await openStore({ kind: 'mysql', url: db.url, table: 'oauthtoken', poolSize: 8 }, new Keyring([Buffer.from(oldKey, 'base64')]));
    const store = stores.tokens;
    for (let i = 0; i < TOKENS; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, async (_, j) => {
          const refreshToken = accounts.addRefreshToken(clientId);
          const t = await store.saveToken({ userName: `user${i + j}@example.com`, clientId, clientSecret, refreshToken, accountsUrl: accounts.url });
          return { id: t.id, refreshToken };
        }),
      );
      tokens.push(...batch);
    }
    await stores.close();
  });
  afterAll(async () => {
    await Promise.all(running.splice(0).map((gw) => gw.stop()));
    await accounts?.close();
    await db?.drop();
  });

  it('every token readable before, during and after; the old key unused at the end', async () => {
    // Both gateways list the new key first (writes) and the old one second (reads).
    const both = { ...env, TOKENGATE_ENCRYPTION_KEY: `${newKey},${oldKey}` };
    const [a, b] = await Promise.all([spawnGateway(both), spawnGateway(both)]);
    running.push(a, b);
    await readAll(a);
    await readAll(b);

    // The load: lookups by refresh token (the hash column) and refreshes, on both processes.
    let stop = false;
    const failures: string[] = [];
    const done: Array<{ at: number; kind: 'lookup' | 'refresh' }> = [];
    const progress = new Changes();
    const record = (kind: 'lookup' | 'refresh') => {
      done.push({ at: Date.now(), kind });
      progress.changed();
    };
    /** Resolves once the load has done `n` lookups and `n` refreshes since `since` (rejects if a worker fails). */
    const loadDid = (n: number, since: number) =>
      progress.until(
        () => {
          const after = done.filter((d) => d.at > since);
          return after.filter((d) => d.kind === 'lookup').length >= n && after.filter((d) => d.kind === 'refresh').length >= n;
        },
        { failed: Promise.all(load) },
      );
    const worker = async (w: number) => {
      for (let n = 0; !stop; n++) {
        const gw = (w + n) % 2 ? a : b;
        const t = tokens[Math.floor(Math.random() * tokens.length)]!;
        if (n % 3 === 2) {
          const r = await gql(gw, `mutation($id: ID!) { refresh(id: $id) { id accessToken } }`, { id: t.id }, keys.operator);
          if (r.errors || !r.data.refresh.accessToken) failures.push(`refresh ${t.id}: ${JSON.stringify(r.errors)}`);
          record('refresh');
        } else {
          const r = await gql(gw, `query($rt: String!, $c: String!) { token(match: { refreshToken: $rt, clientId: $c }) { id refreshToken clientSecret } }`, {
            rt: t.refreshToken,
            c: clientId,
          });
          if (r.errors || r.data.token?.id !== t.id || r.data.token.refreshToken !== t.refreshToken || r.data.token.clientSecret !== clientSecret) {
            failures.push(`lookup ${t.id}: ${JSON.stringify(r.errors ?? r.data)}`);
          }
          record('lookup');
        }
      }
    };
    const load = Array.from({ length: 6 }, (_, w) => worker(w));
    // The load is under way on both processes before the rotation starts, and goes on after it ends.
    await loadDid(3, 0);

    const rotation = await tokengate(['keys', 'rotate', '--batch-size', '10', '--pause-ms', '30'], { ...env, TOKENGATE_ENCRYPTION_KEY: `${newKey},${oldKey}` });
    await loadDid(3, rotation.endedAt);
    stop = true;
    await Promise.all(load);

    expect(rotation.stderr).toMatch(/re-encrypting: \d+\/\d+ tokens/);
    expect(rotation.stderr).toMatch(/re-encrypting: done, (\d+)\/\1 tokens under the current key \(\d+ by this run/);
    expect(rotation.stdout).toContain(`every token is under key ${newId}; key ${oldId} is no longer used and can be removed`);
    expect(rotation.code).toBe(0);
    expect(failures).toEqual([]);
    const during = done.filter((d) => d.at > rotation.startedAt + 500 && d.at < rotation.endedAt);
    expect(during.filter((d) => d.kind === 'lookup').length).toBeGreaterThan(10);
    expect(during.filter((d) => d.kind === 'refresh').length).toBeGreaterThan(3);
    await readAll(a);
    await readAll(b);

    // No row, and no ciphertext, uses the old key.
    const conn = await mysql.createConnection({ uri: db.url });
    const [[usage]] = (await conn.query('SELECT COUNT(*) AS n, SUM(key_id = ?) AS current FROM oauthtoken', [newId])) as unknown as [
      [{ n: number; current: string }],
    ];
    const [rows] = await conn.query('SELECT client_secret, refresh_token, access_token, grant_token FROM oauthtoken');
    await conn.end();
    expect([Number(usage.n), Number(usage.current)]).toEqual([TOKENS, TOKENS]);
    expect(JSON.stringify(rows)).not.toContain(`.${oldId}.`);
    const status = await tokengate(['keys', 'status'], { ...env, TOKENGATE_ENCRYPTION_KEY: `${newKey},${oldKey}` });
    expect(status.stdout).toContain(`key 2 ${oldId}: 0 tokens (unused: it can be removed)`);

    // The old key removed: gateways restart, one at a time, with the new key alone, and serve every token.
    await a.stop();
    const a2 = await spawnGateway({ ...env, TOKENGATE_ENCRYPTION_KEY: newKey });
    running.push(a2);
    await readAll(a2);
    await b.stop();
    const sample = tokens.filter((_, i) => i % 10 === 0);
    for (const t of sample) {
      const r = await gql(a2, `query($rt: String!) { token(match: { refreshToken: $rt }) { id } }`, { rt: t.refreshToken });
      expect(r.data.token?.id).toBe(t.id);
    }
    const audit = await gql(a2, `{ auditLog(first: 1000) { nodes { action actorRole actorName detail } } }`, {});
    expect(audit.data.auditLog.nodes.find((e: { action: string }) => e.action === 'KEY_ROTATION')).toMatchObject({ actorRole: 'system', actorName: 'cli' });
  });
});
