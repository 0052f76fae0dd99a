import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFakeZohoApi, type FakeZohoApi } from '../support/fake-zoho-api';
import { testKeys } from '../support/gateway';
import { spawnGateway, type GatewayProcess } from '../support/process-gateway';

/** A process's resident set size (`VmRSS`) or its peak (`VmHWM`), in bytes, from /proc. */
function memoryOf(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} for ${pid}`);
  return Number(m[1]) * 1024;
}

/**
 * A 50 MB answer streams through the proxy: the gateway (its own process,
 * `node dist/main.js`) holds no more than a little of it at a time.
 */
describe('API proxy streaming', () => {
  let api: FakeZohoApi;
  let gateway: GatewayProcess;
  let dataDir: string;
  const keys = testKeys();

  beforeAll(async () => {
    api = await startFakeZohoApi();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-stream-'));
    gateway = await spawnGateway(
      {
        TOKENGATE_STORE: 'sqlite',
        TOKENGATE_DATA_DIR: dataDir,
        TOKENGATE_API_KEYS: `admin:${keys.admin},operator:${keys.operator}`,
        TOKENGATE_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        TOKENGATE_REFRESH_CHECK_SECONDS: '0',
        TOKENGATE_ALLOWED_API_HOSTS: api.url,
        TOKENGATE_LOG_LEVEL: 'warn',
      },
      { timeoutMs: 90_000 },
    );
  }, 120_000);
  afterAll(async () => {
    await gateway?.stop();
    await api?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("streams a 50 MB response with the gateway's RSS growing by less than 20 MB", async () => {
    const accessToken = `1000.${randomBytes(16).toString('hex')}`;
    const saved = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.admin}` },
      body: JSON.stringify({
        query: 'mutation($t: TokenInput!) { saveToken(token: $t) { id } }',
        variables: { t: { userName: 'bulk@example.com', accessToken, expiresIn: 3600, apiDomain: api.url } },
      }),
    });
    const id = ((await saved.json()) as { data: { saveToken: { id: string } } }).data.saveToken.id;
    const download = async (mb: number) => {
      const res = await fetch(`${gateway.url}/api/${id}/crm/v8/bulk/download?mb=${mb}`, { headers: { authorization: `Bearer ${keys.operator}` } });
      expect(res.status).toBe(200);
      let bytes = 0;
      const reader = res.body!.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.byteLength;
      }
      return bytes;
    };
    // Warm up (code paths compiled, the connection pool made), then measure from here.
    expect(await download(2)).toBe(2 * 1024 * 1024);
    const baseline = memoryOf(gateway.pid, 'VmRSS');
    let canResetPeak = true;
    try {
      fs.writeFileSync(`/proc/${gateway.pid}/clear_refs`, '5'); // resets VmHWM to the current RSS
    } catch {
      canResetPeak = false;
    }
    let sampledPeak = baseline;
    const sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, memoryOf(gateway.pid, 'VmRSS'))), 5);
    try {
      expect(await download(50)).toBe(50 * 1024 * 1024);
    } finally {
      clearInterval(sampler);
    }
    const peak = Math.max(sampledPeak, canResetPeak ? memoryOf(gateway.pid, 'VmHWM') : 0, memoryOf(gateway.pid, 'VmRSS'));
    const growth = peak - baseline;
    expect(growth).toBeLessThan(20 * 1024 * 1024);
    expect((await api.requests()).filter((r) => r.path === '/crm/v8/bulk/download')).toHaveLength(2);
  });
});
