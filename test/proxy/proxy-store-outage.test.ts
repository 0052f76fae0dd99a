import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFakeZohoApi, type FakeZohoApi } from '../support/fake-zoho-api';
import { testKeys } from '../support/gateway';
import { createScratchDatabaseBehindProxy, describeWithMysql, type ScratchDatabase } from '../support/mysql';
import { spawnGateway, type GatewayProcess } from '../support/process-gateway';
import type { TcpProxy } from '../support/tcp-proxy';

/** The database goes away behind a real TCP forwarder: a proxied call answers 503 STORE_UNAVAILABLE and sends nothing upstream. */
describeWithMysql('API proxy during a store outage', () => {
  let db: ScratchDatabase;
  let forwarder: TcpProxy;
  let api: FakeZohoApi;
  let gw: GatewayProcess | undefined;
  let dataDir: string;
  const keys = testKeys();

  beforeAll(async () => {
    let url: string;
    ({ db, proxy: forwarder, url } = await createScratchDatabaseBehindProxy('tg_proxy_outage'));
    api = await startFakeZohoApi();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-proxy-outage-'));
    gw = await spawnGateway(
      {
        TOKENGATE_STORE: 'mysql',
        TOKENGATE_MYSQL_URL: url,
        TOKENGATE_MYSQL_POOL_SIZE: '2',
        TOKENGATE_API_KEYS: `admin:${keys.admin},operator:${keys.operator}`,
        TOKENGATE_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        TOKENGATE_REFRESH_CHECK_SECONDS: '0',
        TOKENGATE_ALLOWED_API_HOSTS: api.url,
        TOKENGATE_DATA_DIR: dataDir,
      },
      { timeoutMs: 90_000 },
    );
  }, 120_000);
  afterAll(async () => {
    await gw?.kill();
    await forwarder?.close();
    await api?.close();
    await db?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers 503 STORE_UNAVAILABLE with Retry-After, and serves again once the database is back', async () => {
    const saved = await fetch(`${gw!.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.admin}` },
      body: JSON.stringify({
        query: 'mutation($t: TokenInput!) { saveToken(token: $t) { id } }',
        variables: { t: { userName: 'outage@example.com', accessToken: '1000.outage-access', expiresIn: 3600, apiDomain: api.url } },
      }),
    });
    const id = ((await saved.json()) as any).data.saveToken.id as string;
    const call = () => fetch(`${gw!.url}/api/${id}/crm/v8/Leads`, { headers: { authorization: `Bearer ${keys.operator}` } });
    expect((await call()).status).toBe(200);

    await forwarder.cut();
    const down = await call();
    expect(down.status).toBe(503);
    expect(down.headers.get('tokengate-error')).toBe('STORE_UNAVAILABLE');
    expect(down.headers.get('retry-after')).toBe('5');
    expect(((await down.json()) as any).error.code).toBe('STORE_UNAVAILABLE');
    expect(await api.requests()).toHaveLength(1);

    await forwarder.restore();
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await call()).status;
      if (status !== 200) await new Promise((r) => setImmediate(r));
    }
    expect(status).toBe(200);
  });
});
