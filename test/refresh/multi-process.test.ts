import { randomBytes } from 'node:crypto';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { testKeys } from '../support/gateway';
import { createScratchDatabase, describeWithMysql, type ScratchDatabase } from '../support/mysql';
import { spawnGateway, type GatewayProcess } from '../support/process-gateway';

jest.setTimeout(90_000);

/**
 * Several gateway processes on one MariaDB database: the refresh lease in the
 * database makes them send one upstream refresh per token between them.
 */
describeWithMysql('refresh across gateway processes on one MariaDB database', () => {
  let db: ScratchDatabase;
  let accounts: FakeAccountsServer;
  const keys = testKeys();
  const clientId = '1000.MULTI';
  const clientSecret = 'multi-process-secret';
  let env: Record<string, string>;
  const running: GatewayProcess[] = [];

  const start = async (extra: Record<string, string> = {}) => {
    const gw = await spawnGateway({ ...env, ...extra });
    running.push(gw);
    return gw;
  };
  const gql = async (gw: GatewayProcess, query: string, variables: Record<string, unknown> = {}, key = keys.admin) => {
    const res = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as { data?: any; errors?: any[] };
  };
  const saveToken = async (gw: GatewayProcess, extra: Record<string, unknown> = {}) => {
    const r = await gql(gw, `mutation($t: TokenInput!) { saveToken(token: $t) { id } }`, {
      t: { clientId, clientSecret, refreshToken: accounts.addRefreshToken(clientId), ...extra },
    });
    expect(r.errors).toBeUndefined();
    return r.data.saveToken.id as string;
  };

  beforeAll(async () => {
    db = await createScratchDatabase('tg_multi');
    accounts = await startFakeAccountsServer();
    accounts.addClient(clientId, clientSecret);
    env = {
      TOKENGATE_STORE: 'mysql',
      TOKENGATE_MYSQL_URL: db.url,
      TOKENGATE_API_KEYS: `admin:${keys.admin},operator:${keys.operator},viewer:${keys.viewer}`,
      TOKENGATE_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      TOKENGATE_ACCOUNTS_URL: accounts.url,
      TOKENGATE_REFRESH_CHECK_SECONDS: '0',
      TOKENGATE_REFRESH_LEASE_SECONDS: '5',
      TOKENGATE_UPSTREAM_TIMEOUT_MS: '10000',
      TOKENGATE_LOG_LEVEL: 'warn',
      TOKENGATE_DATA_DIR: `/tmp/tokengate-multi-${process.pid}`,
    };
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((gw) => gw.stop()));
    accounts.configure({ delayMs: 0 });
    accounts.resetRequests();
  });
  afterAll(async () => {
    await accounts?.close();
    await db?.drop();
  });

  it('three processes, 60 concurrent refreshes of one token: one upstream request, one access token', async () => {
    const gws = [await start(), await start(), await start()];
    const id = await saveToken(gws[0]!);
    accounts.configure({ delayMs: 500 });
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => gql(gws[i % 3]!, `mutation($id: ID!) { refresh(id: $id) { accessToken } }`, { id }, keys.operator)),
    );
    for (const r of results) expect(r.errors).toBeUndefined();
    expect(accounts.count('refresh_token')).toBe(1);
    expect(new Set(results.map((r) => r.data.refresh.accessToken)).size).toBe(1);
  });

  it('a process killed while it holds the lease: another refreshes once the lease runs out', async () => {
    const [a, b] = [await start(), await start()];
    const id = await saveToken(a);
    accounts.configure({ delayMs: 3_000 });
    const dying = gql(a, `mutation($id: ID!) { refresh(id: $id) { accessToken } }`, { id }, keys.operator).catch(() => 'killed');
    // Wait until A's request is at the provider: A holds the lease.
    await accounts.received(1, 'refresh_token');
    expect(accounts.count('refresh_token')).toBe(1);
    await a.kill();
    expect(await dying).toBe('killed');
    accounts.configure({ delayMs: 0 });
    const started = Date.now();
    const r = await gql(b, `mutation($id: ID!) { refresh(id: $id) { accessToken status } }`, { id }, keys.operator);
    expect(r.errors).toBeUndefined();
    expect(r.data.refresh.status).toBe('ACTIVE');
    expect(accounts.count('refresh_token')).toBe(2);
    // B waited for the dead process's lease (5 s from when A took it), not forever.
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('the background task on two processes refreshes an expiring token once', async () => {
    const writer = await start();
    const id = await saveToken(writer, { accessToken: 'about-to-expire', expiresIn: 60 });
    await writer.stop();
    running.splice(0);
    // At debug level each process logs the end of every background round.
    const background = { TOKENGATE_REFRESH_CHECK_SECONDS: '1', TOKENGATE_LOG_LEVEL: 'debug' };
    const [a, b] = [await start(background), await start(background)];
    await accounts.received(1, 'refresh_token');
    // Several more rounds on both processes.
    const rounds = (gw: GatewayProcess) => gw.output().split('background refresh round done').length - 1;
    const [ra, rb] = [rounds(a), rounds(b)];
    await Promise.all([a.untilOutput(() => rounds(a) >= ra + 3), b.untilOutput(() => rounds(b) >= rb + 3)]);
    expect(accounts.count('refresh_token')).toBe(1);
    const r = await gql(b, `query($id: ID!) { tokenById(id: $id) { status accessToken } }`, { id });
    expect(r.data.tokenById.status).toBe('ACTIVE');
    expect(r.data.tokenById.accessToken).not.toBe('about-to-expire');
    expect(a.output()).not.toContain(clientSecret);
  });
});
