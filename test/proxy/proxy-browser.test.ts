import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import ts from 'typescript';
import { TokengateClient } from '../../src/client';
import { ProxyCredentials } from '../../src/proxy/proxy-credentials';
import { blockedRequests, launchOfflineBrowser, newOfflinePage } from '../support/browser';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { startFakeZohoApi, type FakeZohoApi } from '../support/fake-zoho-api';
import { startTestGateway, type TestGateway } from '../support/gateway';

/** The page: gets a credential from its own backend, calls the CRM through the gateway with the client's fetch wrapper, shows what came back. */
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Leads</title></head>
<body><pre id="result">loading</pre>
<script type="module">
import { createProxyFetch, gatewayError } from '/proxy-fetch.js';
const scenario = new URLSearchParams(location.search).get('scenario');
const show = (text) => (document.getElementById('result').textContent = text);
try {
  const plan = await (await fetch('/plan?scenario=' + scenario)).json();
  const credential = plan.fromBackend ? () => fetch('/credential').then((r) => r.json()) : plan.credential;
  const crm = createProxyFetch({ gateway: plan.gateway, tokenId: plan.tokenId, credential });
  const init = plan.method === 'GET' ? {} : { method: plan.method, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: [{ Last_Name: 'Turing' }] }) };
  const res = await crm(plan.path, init);
  const error = await gatewayError(res);
  show(error ? 'error ' + res.status + ' ' + error.code : 'records ' + (await res.json()).data.map((l) => l.Last_Name).join(', '));
} catch (e) {
  show('failed ' + e);
}
</script></body></html>`;

/**
 * A page in real Chromium, served from its own origin, calls the CRM through
 * the gateway's proxy with a proxy credential its backend minted, and shows
 * the records; with an expired credential, another token's id, another path
 * or a method not granted it is refused with the API's code. No token value
 * ever reaches the page.
 */
describe('API proxy from a browser page', () => {
  let accounts: FakeAccountsServer;
  let api: FakeZohoApi;
  let gw: TestGateway;
  let frontend: http.Server;
  let frontendUrl: string;
  let browser: Browser;
  const credentialKey = randomBytes(32);
  const clientId = '1000.BROWSERCLIENT';
  const clientSecret = `secret-${randomBytes(8).toString('hex')}`;
  let tokenId = '';
  let otherTokenId = '';
  let secrets: string[] = [];

  /** What the page's backend tells it to do in each scenario. */
  const plan = async (scenario: string) => {
    const tg = new TokengateClient({ url: gw.url, apiKey: gw.keys.operator });
    const granted = () => tg.issueProxyCredential(tokenId, { ttlSeconds: 300, methods: ['GET'], pathPrefixes: ['/crm/v8/Leads'] });
    const base = { gateway: gw.url, tokenId, path: '/crm/v8/Leads?fields=Last_Name', method: 'GET', fromBackend: false };
    switch (scenario) {
      case 'records':
        return { ...base, fromBackend: true };
      case 'expired': {
        const past = new ProxyCredentials(credentialKey).issue(
          { tokenId, ttlSeconds: 60, methods: ['GET'], pathPrefixes: ['/crm/v8/Leads'], issuedBy: { role: 'operator', name: 'operator-1' } },
          Date.now() - 3_600_000,
        );
        return { ...base, credential: past };
      }
      case 'other-token':
        return { ...base, tokenId: otherTokenId, credential: await granted() };
      case 'other-path':
        return { ...base, path: '/crm/v8/Contacts', credential: await granted() };
      case 'post':
        return { ...base, path: '/crm/v8/Leads', method: 'POST', credential: await granted() };
      default:
        throw new Error(`no scenario ${scenario}`);
    }
  };

  beforeAll(async () => {
    const script = ts.transpileModule(fs.readFileSync(path.resolve(__dirname, '../../packages/client/src/proxy-fetch.ts'), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2020 },
    }).outputText;
    frontend = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const send = (type: string, body: string) => res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
      if (url.pathname === '/') return send('text/html; charset=utf-8', PAGE);
      if (url.pathname === '/proxy-fetch.js') return send('text/javascript', script);
      // The backend route a real app would have: mints a credential with its operator key, per page load.
      if (url.pathname === '/credential') {
        const tg = new TokengateClient({ url: gw.url, apiKey: gw.keys.operator });
        return void tg
          .issueProxyCredential(tokenId, { ttlSeconds: 300, methods: ['GET'], pathPrefixes: ['/crm/v8/Leads'] })
          .then((c) => send('application/json', JSON.stringify(c)));
      }
      if (url.pathname === '/plan') return void plan(url.searchParams.get('scenario') ?? '').then((p) => send('application/json', JSON.stringify(p)));
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => frontend.listen(0, '127.0.0.1', resolve));
    frontendUrl = `http://127.0.0.1:${(frontend.address() as AddressInfo).port}`;

    [accounts, api] = await Promise.all([startFakeAccountsServer(), startFakeZohoApi()]);
    accounts.addClient(clientId, clientSecret);
    gw = await startTestGateway({
      store: 'sqlite',
      env: {
        TOKENGATE_ACCOUNTS_URL: accounts.url,
        TOKENGATE_ALLOWED_API_HOSTS: api.url,
        TOKENGATE_CORS_ORIGINS: frontendUrl,
        TOKENGATE_PROXY_CREDENTIAL_KEY: credentialKey.toString('base64'),
      },
    });
    const save = async () => {
      const refreshToken = accounts.addRefreshToken(clientId);
      const accessToken = `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;
      const t = await gw.gateway.stores.tokens.saveToken({
        clientId,
        clientSecret,
        refreshToken,
        accessToken,
        expiresAt: new Date(Date.now() + 3_600_000),
        apiDomain: api.url,
      });
      secrets.push(accessToken, refreshToken);
      return t.id;
    };
    tokenId = await save();
    otherTokenId = await save();
    secrets.push(clientSecret);
    browser = await launchOfflineBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.close();
    await api?.close();
    await accounts?.close();
    await new Promise<void>((resolve) => (frontend ? frontend.close(() => resolve()) : resolve()));
    secrets = [];
  });

  /** Opens the page for a scenario; returns what it shows and every response body it received. */
  const visit = async (scenario: string): Promise<{ shown: string; bodies: string[]; page: Page }> => {
    const page = await newOfflinePage(browser, [frontendUrl, gw.url]);
    const bodies: Promise<string>[] = [];
    page.on('response', (r) => bodies.push(r.text().catch(() => '')));
    try {
      await page.goto(`${frontendUrl}/?scenario=${scenario}`);
      await page.waitForFunction(() => document.getElementById('result')?.textContent !== 'loading');
      const shown = (await page.textContent('#result')) ?? '';
      const html = await page.content();
      expect(blockedRequests(page)).toEqual([]);
      return { shown, bodies: [html, ...(await Promise.all(bodies))], page };
    } finally {
      await page.context().close();
    }
  };

  it('shows the records, fetched with a credential from its backend', async () => {
    const { shown, bodies } = await visit('records');
    expect(shown).toBe('records Lovelace, Hopper');
    const seen = await api.requests();
    expect(seen.at(-1)!.authorization).toBe(`Zoho-oauthtoken ${(await gw.gateway.stores.tokens.findTokenById(tokenId))!.accessToken}`);
    expect(seen.at(-1)!.headers.origin).toBeUndefined();
    for (const body of bodies) for (const secret of secrets) expect(body).not.toContain(secret);
  });

  it.each([
    ['expired', 'error 401 UNAUTHENTICATED'],
    ['other-token', 'error 403 FORBIDDEN'],
    ['other-path', 'error 403 FORBIDDEN'],
    ['post', 'error 403 FORBIDDEN'],
  ])('is refused with %s: %s, and nothing reaches the CRM', async (scenario, expected) => {
    await api.reset();
    const { shown, bodies } = await visit(scenario);
    expect(shown).toBe(expected);
    expect(await api.requests()).toEqual([]);
    for (const body of bodies) for (const secret of secrets) expect(body).not.toContain(secret);
  });
});
