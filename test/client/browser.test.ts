/**
 * `@tokengate/client` in a browser: a page bundled (esbuild) from the packed
 * client, served by its own server on another origin, drives a real gateway
 * with CORS configured, in headless Chromium. A page from an origin the
 * gateway does not allow is refused by the browser.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { build, stop as stopEsbuild } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { blockedRequests, launchOfflineBrowser, newOfflinePage } from '../support/browser';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { installPacked, packClient } from '../support/packed-client';

/** The page's script: an app that uses the client as a bundler would ship it. */
const APP = `
import { TokengateClient, isTokengateError } from '@tokengate/client';

window.runScenario = async (url, apiKey) => {
  const tg = new TokengateClient({ url, apiKey });
  const page = await tg.listTokens({ first: 10 });
  const one = await tg.getToken('b-ok');
  const refreshed = await tg.refresh('b-ok');
  let failed = null;
  try {
    await tg.refresh('b-fail');
  } catch (err) {
    failed = { isTokengateError: isTokengateError(err, 'REFRESH_FAILED'), code: err.code, oauthError: err.oauthError, status: err.status, requestId: err.requestId };
  }
  return {
    ids: page.nodes.map((t) => t.id).sort(),
    totalCount: page.totalCount,
    one: { id: one.id, userName: one.userName, accessToken: one.accessToken, expiresAtIsDate: one.expiresAt instanceof Date },
    refreshed: { status: refreshed.status, accessToken: refreshed.accessToken },
    failed,
  };
};

window.tryList = async (url, apiKey) => {
  try {
    await new TokengateClient({ url, apiKey, secrets: 'none' }).listTokens();
    return 'listed';
  } catch (err) {
    return err.code;
  }
};
`;

/** A static server for the page and its bundle, on its own 127.0.0.1 port (its own origin). */
async function servePage(bundle: string): Promise<{ origin: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>app</title><script src="/app.js"></script>');
    } else if (req.url === '/app.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(bundle);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let dirs: string[] = [];
let accounts: FakeAccountsServer;
let app: Awaited<ReturnType<typeof servePage>>;
let elsewhere: Awaited<ReturnType<typeof servePage>>;
let gw: TestGateway;
let browser: Browser;
let bundleText: string;

beforeAll(async () => {
  const packDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-client-pack-'));
  const consumer = installPacked(packClient(packDir).tarball);
  dirs = [packDir, consumer];
  fs.writeFileSync(path.join(consumer, 'app.js'), APP);
  const bundled = await build({
    entryPoints: [path.join(consumer, 'app.js')],
    absWorkingDir: consumer,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
  });
  bundleText = bundled.outputFiles[0]!.text;

  app = await servePage(bundleText);
  elsewhere = await servePage(bundleText);
  accounts = await startFakeAccountsServer();
  gw = await startTestGateway({ store: 'sqlite', env: { TOKENGATE_ACCOUNTS_URL: accounts.url, TOKENGATE_CORS_ORIGINS: app.origin } });
  browser = await launchOfflineBrowser();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await gw?.close();
  await accounts?.close();
  await app?.close();
  await elsewhere?.close();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  await stopEsbuild(); // its service process
});

async function open(origin: string): Promise<Page> {
  const page = await newOfflinePage(browser, [origin, gw.url]);
  await page.goto(`${origin}/`);
  return page;
}

describe('@tokengate/client in Chromium', () => {
  it('is bundled from the packed client', () => {
    // esbuild names each bundled module: the installed package's ES module build.
    expect(bundleText).toContain('// node_modules/@tokengate/client/dist/esm/tokengate-client.js');
    expect(bundleText).not.toMatch(/\brequire\(/);
  });

  it('lists tokens, reads one, refreshes one, and a failed refresh surfaces REFRESH_FAILED with its OAuth error, from another origin', async () => {
    accounts.addClient('1000.BROWSER', 'browser-secret');
    const refreshToken = accounts.addRefreshToken('1000.BROWSER');
    const admin = gw.gql.bind(gw);
    const save = (token: Record<string, unknown>) => admin(`mutation($t: TokenInput!) { saveToken(token: $t) { id } }`, { t: token }, gw.keys.admin);
    await save({
      id: 'b-ok',
      userName: 'b@example.com',
      clientId: '1000.BROWSER',
      clientSecret: 'browser-secret',
      refreshToken,
      accessToken: 'b-access',
      expiresIn: 3600,
    });
    // A refresh token the provider does not know: the refresh fails with invalid_code.
    await save({ id: 'b-fail', clientId: '1000.BROWSER', clientSecret: 'browser-secret', refreshToken: 'revoked-refresh-token' });

    const page = await open(app.origin);
    try {
      const result = await page.evaluate(([url, key]) => (window as any).runScenario(url, key), [gw.url, gw.keys.operator] as const);
      expect(result).toEqual({
        ids: ['b-fail', 'b-ok'],
        totalCount: 2,
        one: { id: 'b-ok', userName: 'b@example.com', accessToken: 'b-access', expiresAtIsDate: true },
        refreshed: { status: 'ACTIVE', accessToken: accounts.issuedAccessTokens.at(-1)!.accessToken },
        // The request id is read from a cross-origin answer: the gateway exposes the header.
        failed: { isTokengateError: true, code: 'REFRESH_FAILED', oauthError: 'invalid_code', status: 200, requestId: expect.any(String) },
      });
      expect(blockedRequests(page)).toEqual([]);
    } finally {
      await page.context().close();
    }
  });

  it('a page from an origin not in TOKENGATE_CORS_ORIGINS cannot read the answers (NETWORK_ERROR), while the allowed one can', async () => {
    for (const [origin, expected] of [
      [elsewhere.origin, 'NETWORK_ERROR'],
      [app.origin, 'listed'],
    ] as const) {
      const page = await open(origin);
      try {
        expect(await page.evaluate(([url, key]) => (window as any).tryList(url, key), [gw.url, gw.keys.viewer] as const)).toBe(expected);
      } finally {
        await page.context().close();
      }
    }
  });
});
