import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnGateway } from './support/process-gateway';

const MAIN = path.resolve(__dirname, '../dist/main.js');

describe('the gateway process (npm start)', () => {
  let cwd: string;
  beforeEach(() => {
    cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-main-'));
  });
  afterEach(() => fs.rmSync(cwd, { recursive: true, force: true }));

  it('with no configuration serves on SQLite, creating ./data with the database and 0600 key files', async () => {
    const gw = await spawnGateway({}, { cwd });
    try {
      expect(gw.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
      const data = path.join(cwd, 'data');
      expect(fs.existsSync(path.join(data, 'tokengate.db'))).toBe(true);
      for (const f of ['encryption.key', 'admin.key']) expect(fs.statSync(path.join(data, f)).mode & 0o777).toBe(0o600);
      // The log says where the admin key is, never the key.
      const key = fs.readFileSync(path.join(data, 'admin.key'), 'utf8').trim();
      expect(gw.output()).toContain(path.join(data, 'admin.key'));
      expect(gw.output()).not.toContain(key);
      const r = await fetch(`${gw.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: '{"query":"{ tokens { totalCount } }"}',
      });
      expect(await r.json()).toEqual({ data: { tokens: { totalCount: 0 } } });
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  });

  it('stops cleanly on SIGTERM, and keeps its tokens for the next start', async () => {
    const first = await spawnGateway({}, { cwd });
    const key = fs.readFileSync(path.join(cwd, 'data', 'admin.key'), 'utf8').trim();
    const gql = (url: string, query: string) =>
      fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query }),
      }).then((r) => r.json());
    await gql(first.url, 'mutation { saveToken(token: { id: "keep", refreshToken: "r" }) { id } }');
    expect(await first.stop()).toBe(0);
    expect(first.output()).toContain('stopped');
    const second = await spawnGateway({}, { cwd });
    expect(await gql(second.url, '{ tokenById(id: "keep") { id hasRefreshToken } }')).toEqual({ data: { tokenById: { id: 'keep', hasRefreshToken: true } } });
    expect(await second.stop()).toBe(0);
  });

  it('refuses an invalid value with one line naming the variable', () => {
    const r = spawnSync(process.execPath, [MAIN], { cwd, env: { PATH: process.env.PATH, TOKENGATE_PORT: 'eighty' }, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/TOKENGATE_PORT/);
    expect(fs.existsSync(path.join(cwd, 'data'))).toBe(false);
  });

  it('refuses to start with the wrong encryption key', async () => {
    const first = await spawnGateway({}, { cwd });
    const key = fs.readFileSync(path.join(cwd, 'data', 'admin.key'), 'utf8').trim();
    await fetch(`${first.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: '{"query":"mutation { saveToken(token: { refreshToken: \\"r\\" }) { id } }"}',
    });
    await first.stop();
    const r = spawnSync(process.execPath, [MAIN], {
      cwd,
      env: { PATH: process.env.PATH, TOKENGATE_PORT: '0', TOKENGATE_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64') },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/encrypted with key .* TOKENGATE_ENCRYPTION_KEY/);
  });
});
