/**
 * The dashboard over 100,000 tokens stored in SQLite, in Chromium: the counts
 * say 100,000, the list pages forward and back and searches by user name and
 * by status, and no answer carries more than a page of tokens. The tokens are
 * written into the gateway's file before it starts (one transaction of
 * prepared INSERTs, encrypted as the store writes them).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { Keyring } from '../../src/crypto/keyring';
import { blockedRequests, launchOfflineBrowser, newOfflinePage } from '../support/browser';
import { startTestGateway, type TestGateway } from '../support/gateway';
import { seedSqliteTokens } from '../support/seed-sqlite';

const COUNT = 100_000;
const PAGE = 50;
const SHOTS = path.join(__dirname, '..', '..', 'test-output', 'dashboard');
const pad = (i: number) => String(i).padStart(6, '0');
/** Every thousandth token (from the 8th) has failed. */
const failed = (i: number) => i % 1000 === 7;

let dir: string;
let gw: TestGateway;
let browser: Browser;

beforeAll(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokengate-100k-'));
  const file = path.join(dir, 'tokengate.db');
  const key = randomBytes(32);
  await seedSqliteTokens(file, new Keyring([key]), COUNT, (i) => ({
    id: `tok-${pad(i)}`,
    userName: `user-${pad(i)}@example.com`,
    clientId: '1000.BULKCLIENT',
    refreshToken: `1000.refresh-${pad(i)}`,
    ...(failed(i) ? { failedAt: new Date(), lastError: 'invalid_code' } : {}),
  }));
  gw = await startTestGateway({ store: 'sqlite', env: { TOKENGATE_SQLITE_PATH: file, TOKENGATE_ENCRYPTION_KEY: key.toString('base64') } });
  browser = await launchOfflineBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await gw?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** The number of tokens in every GraphQL answer the page received. */
function recordPages(page: Page): () => Promise<number[]> {
  const sizes: Array<Promise<number | null>> = [];
  page.on('requestfinished', (request) => {
    if (!request.url().endsWith('/graphql')) return;
    sizes.push(
      request
        .response()
        .then(async (res) => ((await res?.json())?.data?.tokens?.nodes?.length as number | undefined) ?? null)
        .catch(() => null),
    );
  });
  return async () => (await Promise.all(sizes)).filter((n): n is number => n !== null);
}

const rows = (page: Page) => page.locator('table.tokens tbody tr th');
const row = (page: Page, i: number) => page.getByRole('row', { name: new RegExp(`user-${pad(i)}@example\\.com`) });

describe('dashboard with 100,000 tokens in SQLite', () => {
  it('counts them, pages forward and back, and searches by user name and status, a page at a time', async () => {
    const page = await newOfflinePage(browser, gw.url);
    const sizes = recordPages(page);
    try {
      await page.goto(`${gw.url}/`);
      await page.getByLabel('API key').fill(gw.keys.viewer);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('link', { name: `Total: ${COUNT}` }).waitFor();
      await page.getByRole('link', { name: 'Failed: 100' }).waitFor();
      await page.getByRole('link', { name: `Expired: ${COUNT - 100}` }).waitFor();
      await page.getByText(`Page 1 of ${COUNT / PAGE}`).waitFor();
      await row(page, 0).waitFor();
      expect(await rows(page).count()).toBe(PAGE);
      await page.screenshot({ path: path.join(SHOTS, 'list-100k.png'), fullPage: true });

      const next = page.getByRole('button', { name: 'Next →' });
      const previous = page.getByRole('button', { name: '← Previous' });
      await next.click();
      await row(page, PAGE).waitFor();
      await page.getByText(`Page 2 of ${COUNT / PAGE}`).waitFor();
      expect(await row(page, 0).count()).toBe(0);
      await next.click();
      await row(page, 2 * PAGE).waitFor();
      await page.getByText(`Page 3 of ${COUNT / PAGE}`).waitFor();
      await previous.click();
      await row(page, PAGE).waitFor();
      await page.getByText(`Page 2 of ${COUNT / PAGE}`).waitFor();
      expect((await rows(page).allInnerTexts())[PAGE - 1]).toBe(`user-${pad(2 * PAGE - 1)}@example.com`);
      await previous.click();
      await row(page, 0).waitFor();
      expect(await previous.isDisabled()).toBe(true);

      // A search by user name: the ten names ending 09999x, from the last rows of the table.
      await page.getByLabel('Search by user name').fill('USER-09999');
      await page.getByRole('button', { name: 'Search' }).click();
      await row(page, 99_990).waitFor();
      expect(await rows(page).allInnerTexts()).toEqual(Array.from({ length: 10 }, (_, k) => `user-${pad(99_990 + k)}@example.com`));
      expect(await next.isDisabled()).toBe(true);
      await page.getByRole('link', { name: 'Clear' }).click();
      await row(page, 0).waitFor();

      // The failed ones, two pages of them.
      await page.getByRole('link', { name: 'Failed: 100' }).click();
      await row(page, 7).waitFor();
      await page.getByText('Page 1 of 2').waitFor();
      expect(await rows(page).count()).toBe(PAGE);
      await next.click();
      await row(page, 50_007).waitFor();
      expect(await rows(page).allInnerTexts()).toEqual(Array.from({ length: PAGE }, (_, k) => `user-${pad(50_007 + 1000 * k)}@example.com`));
      expect(await next.isDisabled()).toBe(true);

      // No answer carried more than a page.
      const seen = await sizes();
      expect(seen.length).toBeGreaterThanOrEqual(8);
      expect(Math.max(...seen)).toBeLessThanOrEqual(PAGE);
      expect(blockedRequests(page)).toEqual([]);
    } finally {
      await page.context().close();
    }
  });
});
