import fs from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium: playwright-core downloads no browser of its own. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags that keep Chromium from calling home (updates, sync, field trials, QUIC probes) while a test runs. */
const OFFLINE_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Launches headless Chromium (at {@link CHROMIUM_PATH}, a fresh temporary
 * profile per launch) with its background networking turned off. Launch it
 * once per test file and close it in `afterAll`.
 */
export async function launchOfflineBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: OFFLINE_ARGS });
}

const blockedByContext = new WeakMap<BrowserContext, string[]>();

/** Whether `url` stays on this machine: an allowed origin, or a `data:`/`blob:`/`about:` URL made by the page itself. */
function isLocal(url: string, allowedOrigins: readonly string[]): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol === 'data:' || parsed.protocol === 'about:') return true;
  // A blob: URL's origin is the origin of the document that made it.
  return allowedOrigins.includes(parsed.origin);
}

/**
 * Opens a page in a new browser context (a fresh profile: no cookies, no
 * storage, service workers blocked) in which every request, of the page or
 * its workers, whose origin is not `allowedOrigin` (e.g.
 * `http://127.0.0.1:41234`, or a list of them for a page that calls another
 * local server) is aborted and recorded, WebSockets included.
 * A test asserts that {@link blockedRequests} stays empty to show that
 * nothing left the machine. Close it with `page.context().close()`.
 */
export async function newOfflinePage(browser: Browser, allowedOrigin: string | readonly string[]): Promise<Page> {
  const origins = (typeof allowedOrigin === 'string' ? [allowedOrigin] : allowedOrigin).map((o) => new URL(o).origin);
  const context = await browser.newContext({ serviceWorkers: 'block', acceptDownloads: false });
  const blocked: string[] = [];
  blockedByContext.set(context, blocked);

  await context.route('**/*', async (route) => {
    const url = route.request().url();
    if (isLocal(url, origins)) {
      await route.continue().catch(() => undefined);
    } else {
      blocked.push(url);
      await route.abort('blockedbyclient').catch(() => undefined);
    }
  });
  await context.routeWebSocket(
    (url) => !isLocal(url.href.replace(/^ws/, 'http'), origins),
    async (ws) => {
      blocked.push(ws.url());
      await ws.close({ code: 1008, reason: 'offline test' }).catch(() => undefined);
    },
  );
  return context.newPage();
}

/**
 * The URLs that pages of the same context as `page` tried to fetch from
 * anywhere but the allowed origin, in order (a copy).
 */
export function blockedRequests(page: Page): readonly string[] {
  const blocked = blockedByContext.get(page.context());
  if (!blocked) throw new Error('blockedRequests: this page was not opened with newOfflinePage');
  return [...blocked];
}

/**
 * Everything the browser keeps for the origin of `page`, as one JSON text to
 * search: its `localStorage` and `sessionStorage`, every record of every
 * IndexedDB database, the URLs in its Cache Storage, and the context's cookies.
 */
export async function storedInBrowser(page: Page): Promise<string> {
  const inPage = await page.evaluate(async () => {
    const request = <T>(r: IDBRequest<T>) =>
      new Promise<T>((resolve, reject) => {
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
    const indexedDb: { db: string; store: string; records: unknown[] }[] = [];
    for (const info of await indexedDB.databases()) {
      const db = await request(indexedDB.open(info.name!));
      for (let i = 0; i < db.objectStoreNames.length; i++) {
        const store = db.objectStoreNames.item(i)!;
        indexedDb.push({ db: info.name!, store, records: await request(db.transaction(store).objectStore(store).getAll()) });
      }
      db.close();
    }
    const cacheStorage: string[] = [];
    if (typeof caches !== 'undefined') {
      for (const name of await caches.keys()) {
        for (const req of await (await caches.open(name)).keys()) cacheStorage.push(`${name} ${req.url}`);
      }
    }
    return { localStorage: { ...localStorage }, sessionStorage: { ...sessionStorage }, indexedDb, cacheStorage };
  });
  return JSON.stringify({ ...inPage, cookies: await page.context().cookies() });
}
