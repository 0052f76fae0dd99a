import { randomBytes } from 'node:crypto';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { testKeys } from '../support/gateway';
import { createScratchDatabase, describeWithMysql, type ScratchDatabase } from '../support/mysql';
import { freePort, spawnGateway, type GatewayProcess } from '../support/process-gateway';
import { SAVE_CLIENT, START_CONNECT, consent, hop, outcomeOf } from '../support/connect-flow';

jest.setTimeout(90_000);

/**
 * Two gateway processes on one MariaDB database, behind one public URL: a
 * connect started on one is completed by a callback on either, and two
 * callbacks carrying the same `state` at the same time, one on each
 * process, make exactly one grant exchange and one token.
 */
describeWithMysql('the connect flow across gateway processes on one MariaDB database', () => {
  let db: ScratchDatabase;
  let zoho: FakeAccountsServer;
  const keys = testKeys();
  const running: GatewayProcess[] = [];
  let a: GatewayProcess;
  let b: GatewayProcess;

  const gql = async (gw: GatewayProcess, query: string, variables: Record<string, unknown> = {}, key = keys.admin) => {
    const res = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as { data?: any; errors?: any[] };
  };

  beforeAll(async () => {
    db = await createScratchDatabase('tg_connect');
    zoho = await startFakeAccountsServer();
    zoho.addClient('1000.RACE', 'race-client-secret');
    const portA = await freePort();
    const env = {
      TOKENGATE_STORE: 'mysql',
      TOKENGATE_MYSQL_URL: db.url,
      TOKENGATE_API_KEYS: `admin:${keys.admin},operator:${keys.operator},viewer:${keys.viewer}`,
      TOKENGATE_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      TOKENGATE_ACCOUNTS_URL: zoho.url,
      TOKENGATE_PUBLIC_URL: `http://127.0.0.1:${portA}`,
      TOKENGATE_CONNECT_RETURN_ORIGINS: 'https://app.example.com',
      TOKENGATE_REFRESH_CHECK_SECONDS: '0',
      TOKENGATE_LOG_LEVEL: 'warn',
      TOKENGATE_DATA_DIR: `/tmp/tokengate-connect-race-${process.pid}`,
    };
    a = await spawnGateway({ ...env, TOKENGATE_PORT: String(portA) });
    running.push(a);
    b = await spawnGateway(env);
    running.push(b);
    const saved = await gql(a, SAVE_CLIENT, {
      client: { name: 'crm', clientId: '1000.RACE', clientSecret: 'race-client-secret', scopes: ['ZohoCRM.modules.ALL'] },
    });
    expect(saved.errors).toBeUndefined();
  });

  afterAll(async () => {
    await Promise.all(running.map((gw) => gw.stop()));
    await zoho?.close();
    await db?.drop();
  });

  it('completes a connect started on one process with a callback on the other', async () => {
    const started = await gql(
      b,
      START_CONNECT,
      { input: { client: 'crm', userName: 'cross@example.com', returnTo: 'https://app.example.com/' } },
      keys.operator,
    );
    expect(started.errors).toBeUndefined();
    const callback = await consent(started.data.startConnect.authorizationUrl);
    expect(callback.origin).toBe(a.url);
    const outcome = outcomeOf((await hop(callback.toString())).location);
    expect(outcome.connect).toBe('ok');
    const token = await gql(b, `query($id: ID!) { tokenById(id: $id) { userName status client } }`, { id: outcome.token }, keys.viewer);
    expect(token.data.tokenById).toEqual({ userName: 'cross@example.com', status: 'ACTIVE', client: 'crm' });
  });

  it('two callbacks racing with one state, one on each process: one exchange, one token, the other refused', async () => {
    // The provider answers slowly, so that both callbacks are in flight together.
    zoho.configure({ delayMs: 300 });
    try {
      for (let round = 0; round < 5; round++) {
        const userName = `race-${round}@example.com`;
        const started = await gql(a, START_CONNECT, { input: { client: 'crm', userName, returnTo: 'https://app.example.com/' } }, keys.operator);
        expect(started.errors).toBeUndefined();
        const callback = await consent(started.data.startConnect.authorizationUrl);
        const exchanges = zoho.count('authorization_code');
        const onB = new URL(`${callback.pathname}${callback.search}`, b.url);
        const [first, second] = await Promise.all([hop(callback.toString()), hop(onB.toString())]);

        expect(zoho.count('authorization_code')).toBe(exchanges + 1);
        const answers = [first, second];
        const redirected = answers.filter((h) => h.status === 302);
        const refused = answers.filter((h) => h.status === 400);
        expect(redirected).toHaveLength(1);
        expect(outcomeOf(redirected[0]!.location).connect).toBe('ok');
        expect(refused).toHaveLength(1);
        expect(refused[0]!.text).toContain('This link has expired or was already used');

        const tokens = await gql(b, `query($u: String) { tokens(userNameContains: $u) { nodes { id userName status } } }`, { u: userName }, keys.viewer);
        expect(tokens.data.tokens.nodes).toEqual([{ id: outcomeOf(redirected[0]!.location).token, userName, status: 'ACTIVE' }]);
      }
    } finally {
      zoho.configure({ delayMs: 0 });
    }
  });
});
