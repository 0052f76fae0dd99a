/**
 * A store outage while the gateway runs: the database goes away behind a real
 * TCP forwarder, and every request that needs it answers STORE_UNAVAILABLE
 * (HTTP 503 with Retry-After) — a code a script can retry on — with no stack
 * in the gateway's log; the gateway serves again once the database is back.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isTokengateError, TokengateClient } from '../../src/client';
import { testKeys } from '../support/gateway';
import { createScratchDatabaseBehindProxy, describeWithMysql, type ScratchDatabase } from '../support/mysql';
import { spawnGateway, type GatewayProcess } from '../support/process-gateway';
import type { TcpProxy } from '../support/tcp-proxy';

describeWithMysql('a store outage while serving', () => {
  let db: ScratchDatabase;
  let proxy: TcpProxy;
  let gw: GatewayProcess | undefined;
  let dataDir: string;
  const keys = testKeys();

  beforeAll(async () => {
    let url: string;
    ({ db, proxy, url } = await createScratchDatabaseBehindProxy('tg_prod_outage'));
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-outage-'));
    gw = await spawnGateway({
      TOKENGATE_STORE: 'mysql',
      TOKENGATE_MYSQL_URL: url,
      TOKENGATE_MYSQL_POOL_SIZE: '2',
      TOKENGATE_API_KEYS: `admin:${keys.admin},operator:${keys.operator}`,
      TOKENGATE_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      TOKENGATE_REFRESH_CHECK_SECONDS: '0',
      TOKENGATE_DATA_DIR: dataDir,
      TOKENGATE_LOG_LEVEL: 'info',
    });
  });
  afterAll(async () => {
    await gw?.kill();
    await proxy?.close();
    await db?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const post = (query: string, variables: Record<string, unknown> = {}) =>
    fetch(`${gw!.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.admin}` },
      body: JSON.stringify({ query, variables }),
    });

  it('answers STORE_UNAVAILABLE with HTTP 503 and Retry-After, logs no stack, and recovers', async () => {
    const saved = await post('mutation { saveToken(token: { userName: "outage@example.com", accessToken: "1000.outage-access", expiresIn: 3600 }) { id } }');
    const id = ((await saved.json()) as any).data.saveToken.id as string;

    await proxy.cut();
    const logBefore = gw!.output().length;
    for (const query of [
      `query($id: ID!) { tokenById(id: $id) { id } }`,
      `mutation($id: ID!) { saveToken(token: { id: $id, accessToken: "1000.other" }) { id } }`,
    ]) {
      const res = await post(query, { id });
      const body = (await res.json()) as any;
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(body.errors).toEqual([
        expect.objectContaining({ message: 'The token store is unavailable; try again later', extensions: { code: 'STORE_UNAVAILABLE' } }),
      ]);
    }

    // The client library reports it by its code, with the status.
    const client = new TokengateClient({ url: gw!.url, apiKey: keys.operator });
    const err = await client.getToken(id).catch((e: unknown) => e);
    expect(isTokengateError(err, 'STORE_UNAVAILABLE')).toBe(true);
    expect(err).toMatchObject({ status: 503, retryAfter: 5 });

    const log = gw!.output().slice(logBefore);
    expect(log).toContain('token store unavailable');
    expect(log).not.toMatch(/"stack"|\n\s+at /);
    expect(log).not.toContain('1000.other');

    await proxy.restore();
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      const res = await post(`query($id: ID!) { tokenById(id: $id) { accessToken } }`, { id });
      ok = res.status === 200 && ((await res.json()) as any).data?.tokenById?.accessToken === '1000.outage-access';
      if (!ok) await new Promise((r) => setImmediate(r));
    }
    expect(ok).toBe(true);
  });
});
