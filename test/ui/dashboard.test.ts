/**
 * The dashboard in Debian Chromium against a real gateway (SQLite) and the
 * fake Zoho Accounts server: sign-in per role, what each role is shown and
 * sent, THROTTLED counted and filtered, the governor's budget, refresh and
 * revoke, accessibility (100,000 tokens: dashboard-100k.test.ts).
 * Screenshots go to test-output/dashboard/ for a person to look at.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { blockedRequests, launchOfflineBrowser, newOfflinePage } from '../support/browser';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { freePort } from '../support/process-gateway';

const SHOTS = path.join(__dirname, '..', '..', 'test-output', 'dashboard');
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

let browser: Browser;
let gw: TestGateway;
let accounts: FakeAccountsServer;
/** Every secret value stored, to look for in what the browser receives. */
const secrets: string[] = [];
let failedId: string;
let activeId: string;
let carolId: string;

beforeAll(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  accounts = await startFakeAccountsServer();
  accounts.addClient('1000.DASHCLIENT', 'dash-secret-0123456789');
  // The connect flow sends the browser back to the gateway's own origin: the public URL is the one it listens at.
  const port = await freePort();
  gw = await startTestGateway({ store: 'sqlite', port, env: { TOKENGATE_ACCOUNTS_URL: accounts.url, TOKENGATE_PUBLIC_URL: `http://127.0.0.1:${port}` } });
  browser = await launchOfflineBrowser();
  const refresh = accounts.addRefreshToken('1000.DASHCLIENT');
  const active = await gw.gateway.stores.tokens.saveToken({
    userName: 'ana@example.com',
    clientId: '1000.DASHCLIENT',
    clientSecret: 'dash-secret-0123456789',
    refreshToken: refresh,
    accessToken: '1000.access-ana-secret-value',
    expiresAt: new Date(Date.now() + 3_600_000),
    accountsUrl: accounts.url,
  });
  activeId = active.id;
  const failed = await gw.gateway.stores.tokens.saveToken({
    userName: 'bob@example.com',
    clientId: '1000.DASHCLIENT',
    clientSecret: 'dash-secret-0123456789',
    refreshToken: '1000.refresh-bob-revoked-value',
    accessToken: '1000.access-bob-old-value',
    expiresAt: new Date(Date.now() - 60_000),
    accountsUrl: accounts.url,
    lastError: 'invalid_code',
    failedAt: new Date(),
  });
  failedId = failed.id;
  // Held back by the governor: no valid access token, and no new one before the window opens.
  const carol = await gw.gateway.stores.tokens.saveToken({
    userName: 'carol@example.com',
    clientId: '1000.DASHCLIENT',
    clientSecret: 'dash-secret-0123456789',
    refreshToken: '1000.refresh-carol-throttled-value',
    accessToken: '1000.access-carol-old-value',
    expiresAt: new Date(Date.now() - 60_000),
    accountsUrl: accounts.url,
    throttledUntil: new Date(Date.now() + 3_600_000),
  });
  carolId = carol.id;
  secrets.push('1000.refresh-carol-throttled-value', '1000.access-carol-old-value');
  secrets.push(refresh, '1000.access-ana-secret-value', 'dash-secret-0123456789', '1000.refresh-bob-revoked-value', '1000.access-bob-old-value');
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await gw?.close();
  await accounts?.close();
});

/** A fresh browser profile on the gateway, recording every response body it receives. */
async function openPage(): Promise<{ page: Page; bodies: () => Promise<string[]> }> {
  const page = await newOfflinePage(browser, gw.url);
  const reads: Array<Promise<string>> = [];
  // Read once a request has finished, so that every body is complete when the test asks.
  page.on('requestfinished', (request) => {
    reads.push(
      request
        .response()
        .then((res) => (res ? res.text() : ''))
        .catch(() => ''),
    );
  });
  return { page, bodies: () => Promise.all(reads) };
}

async function signIn(page: Page, key: string): Promise<void> {
  await page.goto(`${gw.url}/`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Connections' }).waitFor();
}

async function expectNoSecretReceived(bodies: () => Promise<string[]>): Promise<void> {
  const all = (await bodies()).join('\n');
  expect(all).toContain('bob@example.com');
  for (const s of secrets) expect(all).not.toContain(s);
}

describe('dashboard in Chromium', () => {
  it('refuses a wrong key with a clear message and keeps the key out of storage, cookies and the URL', async () => {
    const { page } = await openPage();
    try {
      await page.goto(`${gw.url}/`);
      await page.getByLabel('API key').fill('not-a-key');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();
      await page.getByLabel('API key').fill(gw.keys.viewer);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Connections' }).waitFor();
      const seen = await page.evaluate(() => ({ cookie: document.cookie, local: localStorage.length, session: sessionStorage.length, url: location.href }));
      expect(seen).toEqual({ cookie: '', local: 0, session: 0, url: `${gw.url}/` });
      const cookies = await page.context().cookies();
      expect(cookies).toHaveLength(1);
      expect(cookies[0]).toMatchObject({ name: 'tg_session', httpOnly: true, sameSite: 'Strict' });
      expect(cookies[0]!.value).not.toContain(gw.keys.viewer);
      expect(blockedRequests(page)).toEqual([]);
    } finally {
      await page.context().close();
    }
  });

  it('shows a viewer every connection with its status, and no secret or action', async () => {
    const { page, bodies } = await openPage();
    try {
      await signIn(page, gw.keys.viewer);
      const row = page.getByRole('row', { name: /bob@example.com/ });
      await row.getByText('Failed').waitFor();
      await row.getByText('Zoho no longer accepts this refresh token: reconnect').waitFor();
      await page
        .getByRole('row', { name: /ana@example.com/ })
        .getByText('Active')
        .waitFor();
      await page.getByRole('link', { name: 'bob@example.com' }).click();
      await page.getByRole('heading', { name: 'bob@example.com' }).waitFor();
      expect(page.url()).toBe(`${gw.url}/#/tokens/${failedId}`);
      expect(await page.getByRole('button', { name: /Refresh|Revoke|Show secrets/ }).count()).toBe(0);
      expect(await page.getByRole('link', { name: 'Reconnect' }).count()).toBe(0);
      await page.getByText('The audit trail is shown to admins.').waitFor();
      // The viewer cannot get a secret even by asking the API from the page.
      const asked = await page.evaluate(async (id) => {
        const res = await fetch('/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: `{ tokenById(id: "${id}") { accessToken refreshToken } }` }),
        });
        return res.json();
      }, activeId);
      expect(asked.data.tokenById).toEqual({ accessToken: null, refreshToken: null });
      expect(asked.errors[0].extensions.code).toBe('FORBIDDEN');
      await expectNoSecretReceived(bodies);
    } finally {
      await page.context().close();
    }
  });

  it('counts THROTTLED connections and lists only them when their count is chosen', async () => {
    const { page } = await openPage();
    try {
      await signIn(page, gw.keys.viewer);
      await page
        .getByRole('row', { name: /carol@example.com/ })
        .getByText('Throttled')
        .waitFor();
      const throttled = page.getByRole('link', { name: 'Throttled: 1' });
      await throttled.waitFor();
      await page.getByRole('link', { name: 'Total: 3' }).waitFor();
      await throttled.click();
      await page.getByRole('row', { name: /ana@example.com/ }).waitFor({ state: 'detached' });
      expect(await page.locator('table.tokens tbody tr').allInnerTexts()).toEqual([expect.stringContaining('carol@example.com')]);
      expect(await throttled.getAttribute('aria-current')).toBe('true');
      expect(page.url()).toBe(`${gw.url}/#/?status=THROTTLED`);
      await page.getByText('Page 1 of 1').waitFor();
      // Another status lists its own, and none of carol's.
      await page.getByRole('link', { name: 'Failed: 1' }).click();
      await page.getByRole('row', { name: /carol@example.com/ }).waitFor({ state: 'detached' });
      expect(await page.locator('table.tokens tbody tr').allInnerTexts()).toEqual([expect.stringContaining('bob@example.com')]);
    } finally {
      await page.context().close();
    }
  });

  it("shows the governor's remaining budget of each connection", async () => {
    const refresh = accounts.addRefreshToken('1000.DASHCLIENT');
    const dave = await gw.gateway.stores.tokens.saveToken({
      userName: 'dave@example.com',
      clientId: '1000.DASHCLIENT',
      clientSecret: 'dash-secret-0123456789',
      refreshToken: refresh,
      accountsUrl: accounts.url,
    });
    secrets.push(refresh);
    for (let i = 0; i < 3; i++) expect((await gw.gql(`mutation { refresh(id: "${dave.id}") { id } }`, {}, gw.keys.operator)).body.errors).toBeUndefined();
    const { page } = await openPage();
    try {
      await signIn(page, gw.keys.viewer);
      await page.getByRole('columnheader', { name: 'Budget' }).waitFor();
      const row = page.getByRole('row', { name: /dave@example.com/ });
      await row.getByText('7 of 10 left').waitFor();
      expect(await row.getByText('7 of 10 left').getAttribute('title')).toMatch(
        /^Access tokens the provider still issues for this connection in any 10 min\. All 10 are available again in (9|10) min\.$/,
      );
      await page
        .getByRole('row', { name: /carol@example.com/ })
        .getByText('10 of 10 left')
        .waitFor();
    } finally {
      await page.context().close();
    }
  });

  it('lets an operator refresh after confirming, and shows only the access token on request', async () => {
    const { page, bodies } = await openPage();
    try {
      await signIn(page, gw.keys.operator);
      await page.getByRole('link', { name: 'ana@example.com' }).click();
      await page.getByRole('heading', { name: 'ana@example.com' }).waitFor();
      const before = accounts.count('refresh_token');
      await page.getByRole('button', { name: 'Refresh now' }).click();
      const dialog = page.getByRole('dialog', { name: 'Refresh this connection?' });
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      expect(accounts.count('refresh_token')).toBe(before);
      await page.getByRole('button', { name: 'Refresh now' }).click();
      await dialog.getByRole('button', { name: 'Refresh' }).click();
      await page.getByText('Refreshed: a new access token is stored.').waitFor();
      expect(accounts.count('refresh_token')).toBe(before + 1);
      const stored = await gw.gateway.stores.tokens.findTokenById(activeId);
      await page.getByRole('button', { name: 'Show secrets' }).click();
      await page.getByText(stored!.accessToken!).waitFor();
      expect(await page.getByText(stored!.refreshToken!).count()).toBe(0);
      // The page asked only for what the API's table lets an operator read: no field was refused.
      expect((await bodies()).join('\n')).not.toContain('FORBIDDEN');
      await page.screenshot({ path: path.join(SHOTS, 'token-page-operator.png'), fullPage: true });
    } finally {
      await page.context().close();
    }
  });

  it('shows an admin the audit trail, newest first, and every secret on request', async () => {
    const { page, bodies } = await openPage();
    try {
      const refreshed = await gw.gql(`mutation { refresh(id: "${activeId}") { id } }`, {}, gw.keys.admin);
      expect(refreshed.body.errors).toBeUndefined();
      await signIn(page, gw.keys.admin);
      await page.getByRole('link', { name: 'ana@example.com' }).click();
      const rows = page.locator('table.audit tbody tr');
      await rows.first().waitFor();
      const actions = await rows.locator('td:nth-child(2)').allInnerTexts();
      const refresh = actions.findIndex((a) => a.startsWith('REFRESH'));
      const save = actions.findIndex((a) => a.startsWith('SAVE'));
      expect(refresh).toBeGreaterThanOrEqual(0);
      expect(save).toBeGreaterThan(refresh);
      expect(await rows.locator('td:nth-child(3)').allInnerTexts()).toContain('admin-1 (admin)');
      const stored = await gw.gateway.stores.tokens.findTokenById(activeId);
      await page.getByRole('button', { name: 'Show secrets' }).click();
      for (const secret of [stored!.accessToken!, stored!.refreshToken!, stored!.clientSecret!]) await page.getByText(secret).waitFor();
      expect((await bodies()).join('\n')).not.toContain('FORBIDDEN');
    } finally {
      await page.context().close();
    }
  });

  it('passes an axe-core check on the list and a token page, works at phone width, and shows keyboard focus', async () => {
    const { page } = await openPage();
    try {
      await page.setViewportSize({ width: 390, height: 844 });
      await signIn(page, gw.keys.admin);
      const check = async () => {
        await page.evaluate(AXE);
        const result = await page.evaluate(async () => (window as any).axe.run(document, { resultTypes: ['violations'] }));
        const serious = result.violations.filter((v: { impact: string }) => v.impact === 'serious' || v.impact === 'critical');
        expect(serious.map((v: { id: string; nodes: unknown[] }) => `${v.id} (${v.nodes.length})`)).toEqual([]);
        expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
      };
      await page.locator('table.tokens tbody tr').first().waitFor();
      await check();
      await page.screenshot({ path: path.join(SHOTS, 'list-phone.png'), fullPage: true });
      await page.getByRole('link', { name: 'bob@example.com' }).click();
      await page.getByRole('heading', { name: 'bob@example.com' }).waitFor();
      await check();
      await page.keyboard.press('Tab');
      const outline = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement;
        return { tag: el.tagName, outline: getComputedStyle(el).outlineStyle };
      });
      expect(outline.tag).toBe('A');
      expect(outline.outline).not.toBe('none');
    } finally {
      await page.context().close();
    }
  });

  describe('the connect flow', () => {
    beforeAll(async () => {
      const saved = await gw.gql(
        `mutation($c: ClientInput!) { saveClient(client: $c) { name } }`,
        { c: { name: 'dash', clientId: '1000.DASHCLIENT', clientSecret: 'dash-secret-0123456789', scopes: ['ZohoCRM.modules.ALL'] } },
        gw.keys.admin,
      );
      expect(saved.body.errors).toBeUndefined();
    });

    /** A page allowed to reach the gateway and the fake provider (its consent step), and nothing else. */
    const openConnectPage = () => newOfflinePage(browser, [gw.url, accounts.url]);

    it('reconnects a FAILED token: Reconnect, consent at the provider, back on the token page showing Active', async () => {
      const failing = await gw.gateway.stores.tokens.saveToken({
        userName: 'cara@example.com',
        clientId: '1000.DASHCLIENT',
        clientSecret: 'dash-secret-0123456789',
        refreshToken: '1000.refresh-cara-revoked-value',
        expiresAt: new Date(Date.now() - 60_000),
        accountsUrl: accounts.url,
        lastError: 'invalid_code',
        failedAt: new Date(),
      });
      const page = await openConnectPage();
      try {
        await signIn(page, gw.keys.operator);
        await page
          .getByRole('row', { name: /cara@example.com/ })
          .getByText('Failed')
          .waitFor();
        await page.getByRole('link', { name: 'cara@example.com' }).click();
        await page.getByRole('heading', { name: 'cara@example.com' }).waitFor();
        await page.getByRole('link', { name: 'Reconnect' }).click();
        await page.getByRole('heading', { name: 'Reconnect' }).waitFor();
        expect(await page.getByLabel('User name').inputValue()).toBe('cara@example.com');
        const consents = accounts.count('consent');
        await page.getByRole('button', { name: 'Continue to the provider' }).click();
        // The provider's consent step, then the gateway's callback, then the dashboard again, on the same token.
        await page.waitForURL(`${gw.url}/#/tokens/${encodeURIComponent(failing.id)}`);
        await page.getByText('Connected: the new token is stored.').waitFor();
        await page.getByRole('heading', { name: 'cara@example.com' }).waitFor();
        await page.locator('.status-line').getByText('Active').waitFor();
        expect(accounts.count('consent')).toBe(consents + 1);
        const stored = await gw.gateway.stores.tokens.findTokenById(failing.id);
        expect(stored).toMatchObject({ failedAt: null, lastError: null, client: 'dash' });
        expect(stored!.createdAt).toEqual(failing.createdAt);
        expect(await page.getByRole('link', { name: 'Reconnect' }).count()).toBe(0);
        expect(blockedRequests(page)).toEqual([]);
        await page.screenshot({ path: path.join(SHOTS, 'reconnected.png'), fullPage: true });
      } finally {
        await page.context().close();
      }
    });

    it("connects a new account: Connect an account, consent, the new token's page", async () => {
      const page = await openConnectPage();
      try {
        await signIn(page, gw.keys.operator);
        await page.getByRole('link', { name: 'Connect an account' }).click();
        await page.getByRole('heading', { name: 'Connect an account' }).waitFor();
        await page.getByLabel('OAuth client').selectOption('dash');
        await page.getByLabel('User name').fill('dora@example.com');
        await page.screenshot({ path: path.join(SHOTS, 'connect.png'), fullPage: true });
        await page.getByRole('button', { name: 'Continue to the provider' }).click();
        await page.waitForURL(/#\/tokens\//);
        await page.getByRole('heading', { name: 'dora@example.com' }).waitFor();
        await page.locator('.status-line').getByText('Active').waitFor();
        const token = await gw.gateway.stores.tokens.findToken({ userName: 'dora@example.com' });
        expect(page.url()).toBe(`${gw.url}/#/tokens/${encodeURIComponent(token!.id)}`);
        expect(token).toMatchObject({ client: 'dash', accountsUrl: accounts.url });
        // The way back carried no secret: the address bar never held the code after the callback.
        expect(page.url()).not.toContain('code=');
        expect(blockedRequests(page)).toEqual([]);
      } finally {
        await page.context().close();
      }
    });

    it('shows why when the person declines at the provider', async () => {
      accounts.configure({ consentDecision: 'deny' });
      const page = await openConnectPage();
      try {
        await signIn(page, gw.keys.operator);
        await page.getByRole('link', { name: 'Connect an account' }).click();
        await page.getByLabel('User name').fill('eve@example.com');
        await page.getByRole('button', { name: 'Continue to the provider' }).click();
        await page.getByText('The connection was not made. The consent was declined at the provider.').waitFor();
        expect(await gw.gateway.stores.tokens.findToken({ userName: 'eve@example.com' })).toBeNull();
      } finally {
        accounts.configure({ consentDecision: 'approve' });
        await page.context().close();
      }
    });

    it('offers no Connect to a viewer', async () => {
      const page = await openConnectPage();
      try {
        await signIn(page, gw.keys.viewer);
        expect(await page.getByRole('link', { name: 'Connect an account' }).count()).toBe(0);
      } finally {
        await page.context().close();
      }
    });
  });

  describe('what a new user met', () => {
    beforeAll(async () => {
      for (const [name, clientId] of [
        ['crm', '1000.CRMCLIENT'],
        ['local', '1000.LOCALCLIENT'],
      ]) {
        const saved = await gw.gql(
          `mutation($c: ClientInput!) { saveClient(client: $c) { name } }`,
          { c: { name, clientId, clientSecret: `${name}-secret-0123456789`, scopes: ['ZohoCRM.modules.ALL'] } },
          gw.keys.admin,
        );
        expect(saved.body.errors).toBeUndefined();
      }
    });

    it('preselects the OAuth client of the token being reconnected, and none when its client is unknown', async () => {
      const failedWith = (userName: string, clientId: string, client: string | null) =>
        gw.gateway.stores.tokens.saveToken({
          userName,
          clientId,
          clientSecret: 'local-secret-0123456789',
          refreshToken: `1000.refresh-${userName}-revoked`,
          accountsUrl: accounts.url,
          lastError: 'invalid_code',
          failedAt: new Date(),
          client,
        });
      const named = await failedWith('lea@example.com', '1000.LOCALCLIENT', 'local');
      const unnamed = await failedWith('leo@example.com', '1000.LOCALCLIENT', null);
      const unknown = await failedWith('lia@example.com', '1000.ELSEWHERE', null);
      const page = await newOfflinePage(browser, gw.url);
      try {
        await signIn(page, gw.keys.operator);
        const selected = async ({ id, userName }: { id: string; userName: string | null }) => {
          await page.goto(`${gw.url}/#/tokens/${encodeURIComponent(id)}`);
          await page.getByRole('heading', { name: userName! }).waitFor();
          await page.getByRole('link', { name: 'Reconnect' }).click();
          await page.getByRole('heading', { name: 'Reconnect' }).waitFor();
          await page.getByLabel('OAuth client').waitFor();
          return page.getByLabel('OAuth client').inputValue();
        };
        expect(await selected(named)).toBe('local');
        // Saved without a client name: the client with its client id.
        expect(await selected(unnamed)).toBe('local');
        // No client has its client id: the person chooses (a default would replace its credentials under another client id).
        expect(await selected(unknown)).toBe('');
        await page.getByText('No registered client has this connection’s client id').waitFor();
        // Continuing without a choice is refused by the form itself: the page stays.
        await page.getByRole('button', { name: 'Continue to the provider' }).click();
        expect(await page.getByLabel('OAuth client').evaluate((el) => (el as HTMLSelectElement).validity.valueMissing)).toBe(true);
        expect(page.url()).toContain(`/#/connect?tokenId=${encodeURIComponent(unknown.id)}`);
      } finally {
        await page.context().close();
      }
    });

    it('shows the Playground link only when the gateway serves the playground', async () => {
      const page = await newOfflinePage(browser, gw.url);
      try {
        await signIn(page, gw.keys.viewer);
        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Playground' }).waitFor();
      } finally {
        await page.context().close();
      }
      const off = await startTestGateway({ store: 'sqlite', env: { TOKENGATE_PLAYGROUND: 'false' } });
      const offPage = await newOfflinePage(browser, off.url);
      try {
        await offPage.goto(`${off.url}/`);
        await offPage.getByLabel('API key').fill(off.keys.viewer);
        await offPage.getByRole('button', { name: 'Sign in' }).click();
        await offPage.getByRole('heading', { name: 'Connections' }).waitFor();
        const nav = offPage.getByRole('navigation', { name: 'Main' });
        await nav.getByRole('link', { name: 'Connections' }).waitFor();
        expect(await nav.getByRole('link', { name: 'Playground' }).count()).toBe(0);
      } finally {
        await offPage.context().close();
        await off.close();
      }
    });

    it('draws every status badge with a glyph the browser has (a screenshot to look at)', async () => {
      const page = await newOfflinePage(browser, gw.url);
      try {
        await signIn(page, gw.keys.viewer);
        const badge = page
          .getByRole('row', { name: /carol@example.com/ })
          .locator('.badge')
          .filter({ hasText: 'Throttled' });
        await badge.waitFor();
        await badge.screenshot({ path: path.join(SHOTS, 'badge-throttled.png') });
        await page.locator('table.tokens').screenshot({ path: path.join(SHOTS, 'badges.png') });
      } finally {
        await page.context().close();
      }
    });

    it("words a provider's server error in the audit trail as such, not as a code it answered", async () => {
      const refresh = accounts.addRefreshToken('1000.DASHCLIENT');
      secrets.push(refresh);
      const erin = await gw.gateway.stores.tokens.saveToken({
        userName: 'erin@example.com',
        clientId: '1000.DASHCLIENT',
        clientSecret: 'dash-secret-0123456789',
        refreshToken: refresh,
        accountsUrl: accounts.url,
      });
      accounts.setFailure('http500');
      try {
        const failed = await gw.gql(`mutation { refresh(id: "${erin.id}", force: true) { id } }`, {}, gw.keys.operator);
        expect(failed.body.errors?.[0]?.extensions.code).toBe('UPSTREAM_UNAVAILABLE');
      } finally {
        accounts.setFailure('none');
      }
      // A transient failure's entry is written in the background.
      await gw.gateway.engine.idle();
      await gw.gateway.audit.flush();
      const page = await newOfflinePage(browser, gw.url);
      try {
        await signIn(page, gw.keys.admin);
        await page.goto(`${gw.url}/#/tokens/${encodeURIComponent(erin.id)}`);
        const row = page.locator('table.audit tbody tr').filter({ hasText: 'UNAVAILABLE' });
        await row.waitFor();
        expect(await row.locator('td:nth-child(4)').innerText()).toBe('UNAVAILABLE — The provider answered with a server error');
      } finally {
        await page.context().close();
      }
    });

    it("shows on a THROTTLED token's page when the next access token may be minted", async () => {
      const refresh = accounts.addRefreshToken('1000.DASHCLIENT');
      secrets.push(refresh);
      const fay = await gw.gateway.stores.tokens.saveToken({
        userName: 'fay@example.com',
        clientId: '1000.DASHCLIENT',
        clientSecret: 'dash-secret-0123456789',
        refreshToken: refresh,
        accountsUrl: accounts.url,
      });
      // The whole window's budget is minted; then the held access token expires.
      for (let i = 0; i < 10; i++)
        expect((await gw.gql(`mutation { refresh(id: "${fay.id}", force: true) { id } }`, {}, gw.keys.operator)).body.errors).toBeUndefined();
      await gw.gateway.stores.tokens.saveToken({ id: fay.id, expiresAt: new Date(Date.now() - 60_000) });
      const held = await gw.gql(`mutation { refresh(id: "${fay.id}") { id } }`, {}, gw.keys.operator);
      expect(held.body.errors?.[0]?.extensions.code).toBe('THROTTLED');
      const page = await newOfflinePage(browser, gw.url);
      try {
        await signIn(page, gw.keys.viewer);
        await page.goto(`${gw.url}/#/tokens/${encodeURIComponent(fay.id)}`);
        const status = page.locator('.status-line');
        await status.getByText('Throttled').waitFor();
        const next = status.getByText(/^Next access token allowed in (9|10) min$/);
        await next.waitFor();
        expect(await next.getAttribute('title')).toMatch(/\d/);
        await page.screenshot({ path: path.join(SHOTS, 'token-throttled.png'), fullPage: true });
      } finally {
        await page.context().close();
      }
    });

    it("shows on a THROTTLED token's page until when it is held back, when the governor counts nothing", async () => {
      const page = await newOfflinePage(browser, gw.url);
      try {
        await signIn(page, gw.keys.viewer);
        await page.goto(`${gw.url}/#/tokens/${encodeURIComponent(carolId)}`);
        const status = page.locator('.status-line');
        await status.getByText('Throttled').waitFor();
        // carol was saved THROTTLED for an hour, with nothing minted: the budget is whole and says no time.
        const retry = status.getByText(/^Retry after .+ \(in (59|60) min\)$/);
        await retry.waitFor();
        const until = (await gw.gateway.stores.tokens.findTokenById(carolId))!.throttledUntil!;
        expect(await retry.getAttribute('title')).toBe(await page.evaluate((iso) => new Date(iso).toLocaleString(), until.toISOString()));
        expect(await status.getByText(/Next access token allowed/).count()).toBe(0);
      } finally {
        await page.context().close();
      }
    });

    it('says to open the dashboard at the public URL when it is open at another origin', async () => {
      const elsewhere = gw.url.replace('127.0.0.1', 'localhost');
      const page = await newOfflinePage(browser, elsewhere);
      try {
        await page.goto(`${elsewhere}/`);
        await page.getByLabel('API key').fill(gw.keys.operator);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('heading', { name: 'Connections' }).waitFor();
        await page.getByRole('link', { name: 'Connect an account' }).click();
        await page.getByLabel('OAuth client').selectOption('local');
        await page.getByLabel('User name').fill('gus@example.com');
        await page.getByRole('button', { name: 'Continue to the provider' }).click();
        const alert = page.getByRole('alert');
        await alert.waitFor();
        expect(await alert.innerText()).toBe(
          `This dashboard is open at ${elsewhere}, a different origin than the gateway’s public URL (${gw.url}): open it at ${gw.url}/ to connect an account.`,
        );
        expect(await alert.getByRole('link', { name: `${gw.url}/` }).getAttribute('href')).toBe(`${gw.url}/`);
        expect(await gw.gateway.stores.tokens.findToken({ userName: 'gus@example.com' })).toBeNull();
      } finally {
        await page.context().close();
      }
    });
  });
});
