import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { startTestGateway, type TestGateway } from '../support/gateway';

/**
 * The dashboard's session cookie is `Secure` when the person's page is on an
 * https origin: TLS to the gateway itself, or, behind a proxy that ends TLS,
 * the https `Origin` the browser signs in from. `X-Forwarded-Proto` alone
 * is not trusted; on plain http the cookie has no `Secure` (the browser
 * would refuse it).
 */
describe('dashboard session cookie', () => {
  const fixtures = path.join(__dirname, '../support/fixtures');
  const cert = fs.readFileSync(path.join(fixtures, 'zoho-uk-test.crt'));
  let gw: TestGateway;
  let tls: https.Server;
  let tlsPort: number;

  beforeAll(async () => {
    gw = await startTestGateway({ store: 'memory' });
    // The gateway's own HTTP handler behind a TLS socket: the request itself is https.
    tls = https.createServer({ key: fs.readFileSync(path.join(fixtures, 'zoho-uk-test.key')), cert }, (req, res) =>
      gw.gateway.app.server.emit('request', req, res),
    );
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    tlsPort = (tls.address() as AddressInfo).port;
  });
  afterAll(async () => {
    tls?.closeAllConnections();
    await new Promise<void>((resolve) => (tls ? tls.close(() => resolve()) : resolve()));
    await gw?.close();
  });

  const host = () => new URL(gw.url).host;

  async function signIn(headers: Record<string, string>): Promise<{ status: number; cookie: string }> {
    const res = await fetch(`${gw.url}/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin', ...headers },
      body: JSON.stringify({ apiKey: gw.keys.viewer }),
    });
    return { status: res.status, cookie: res.headers.get('set-cookie') ?? '' };
  }

  /** POST or DELETE /session over TLS to the gateway (no Origin: not a browser). */
  function overTls(method: 'POST' | 'DELETE'): Promise<{ status: number; cookie: string }> {
    return new Promise((resolve, reject) => {
      const body = method === 'POST' ? JSON.stringify({ apiKey: gw.keys.viewer }) : undefined;
      const req = https.request(
        {
          host: '127.0.0.1',
          port: tlsPort,
          servername: 'accounts.zoho.uk',
          ca: cert,
          method,
          path: '/session',
          headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {},
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, cookie: String(res.headers['set-cookie'] ?? '') }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  it('has no Secure on plain http, even when X-Forwarded-Proto says https', async () => {
    const cases: Array<Record<string, string>> = [{ origin: gw.url }, { origin: gw.url, 'x-forwarded-proto': 'https' }, { 'x-forwarded-proto': 'https' }];
    for (const headers of cases) {
      const r = await signIn(headers);
      expect(r.status).toBe(200);
      expect(r.cookie).toMatch(/^tg_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict$/);
    }
  });

  it('is Secure when the browser signs in from an https origin (a proxy ending TLS in front of the gateway)', async () => {
    const r = await signIn({ origin: `https://${host()}` });
    expect(r.status).toBe(200);
    expect(r.cookie).toMatch(/^tg_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Secure$/);
    const out = await fetch(`${gw.url}/session`, { method: 'DELETE', headers: { origin: `https://${host()}`, 'sec-fetch-site': 'same-origin' } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toBe('tg_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure');
    // Another origin's https page still gets no session at all.
    expect((await signIn({ origin: 'https://evil.example' })).status).toBe(403);
  });

  it('is Secure when the request itself comes over TLS', async () => {
    const r = await overTls('POST');
    expect(r.status).toBe(200);
    expect(r.cookie).toMatch(/^tg_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Secure$/);
    const out = await overTls('DELETE');
    expect(out.status).toBe(204);
    expect(out.cookie).toBe('tg_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure');
  });

  it('is Secure on plain http when TOKENGATE_PUBLIC_URL is https (the gateway behind a proxy that ends TLS)', async () => {
    const behind = await startTestGateway({ store: 'memory', env: { TOKENGATE_PUBLIC_URL: 'https://tokens.example.com' } });
    try {
      const res = await fetch(`${behind.url}/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' },
        body: JSON.stringify({ apiKey: behind.keys.viewer }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('set-cookie')).toMatch(/^tg_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Secure$/);
    } finally {
      await behind.close();
    }
  });
});
