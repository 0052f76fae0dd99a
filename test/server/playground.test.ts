import http from 'node:http';
import zlib from 'node:zlib';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import Fastify, { type FastifyInstance, type RouteHandlerMethod } from 'fastify';
import { GraphQLError } from 'graphql';
import type { Browser, Page } from 'playwright-core';
import { createPlaygroundHandler } from '../../src/server/playground';
import { blockedRequests, launchOfflineBrowser, newOfflinePage, storedInBrowser } from '../support/browser';
import { GraphiQLPage } from '../support/graphiql-page';

const API_KEY = 'test-key-123';
const QUERY = '{ tokens { totalCount } }';

let server: FastifyInstance;
let apollo: ApolloServer;
let baseUrl: string;
let graphqlUrl: string;

beforeAll(async () => {
  apollo = new ApolloServer({
    typeDefs: `type Query { tokens: TokenPage! } type TokenPage { totalCount: Int! }
      type Mutation { saveToken(input: SaveTokenInput!): Token! } input SaveTokenInput { clientSecret: String refreshToken: String } type Token { id: ID! }`,
    resolvers: { Query: { tokens: () => ({ totalCount: 42 }) }, Mutation: { saveToken: () => ({ id: 'token-1' }) } },
    includeStacktraceInErrorResponses: false,
    plugins: [ApolloServerPluginLandingPageDisabled()],
  });
  await apollo.start();

  server = Fastify();
  const api = fastifyApolloHandler(apollo, {
    context: async (request) => {
      if (request.headers.authorization !== `Bearer ${API_KEY}`) {
        throw new GraphQLError('A valid API key is required', { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
      }
      return {};
    },
  }) as RouteHandlerMethod;
  server.route({ method: ['GET', 'POST'], url: '/graphql', handler: createPlaygroundHandler({ endpoint: '/graphql' }, api) });
  baseUrl = await server.listen({ port: 0, host: '127.0.0.1' });
  graphqlUrl = `${baseUrl}/graphql`;
});

afterAll(async () => {
  server?.server.closeAllConnections();
  await server?.close();
  await apollo?.stop();
});

/** Every URL in the page that a browser would fetch from another host: scripts, stylesheets, fonts, images, imports. */
function remoteResourceUrls(html: string): string[] {
  const patterns = [
    /<(?:script|link|img|iframe|source|embed|object|audio|video)\b[^>]*?\b(?:src|href|srcset|data)\s*=\s*["']?\s*((?:https?:)?\/\/[^"'\s>]+)/gi,
    /@import\s+(?:url\()?\s*["']?\s*((?:https?:)?\/\/[^"')\s;]+)/gi,
    /url\(\s*["']?\s*((?:https?:)?\/\/[^"')\s]+)/gi,
    /\bimportScripts\(\s*["'`]((?:https?:)?\/\/[^"'`]+)/gi,
    /\bimport\(\s*["'`]((?:https?:)?\/\/[^"'`]+)/gi,
    /\bfrom\s*["'`]((?:https?:)?\/\/[^"'`]+)/gi,
  ];
  return patterns.flatMap((re) => [...html.matchAll(re)].map((m) => m[1]!));
}

describe('playground over HTTP', () => {
  const browserAccept = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

  it('serves the GraphiQL page to a browser, with a strict CSP and nothing remote', async () => {
    const res = await fetch(graphqlUrl, { headers: { accept: browserAccept } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('cache-control')).toBe('no-cache');

    const csp = res.headers.get('content-security-policy') ?? '';
    const directives = new Map(
      csp.split(';').map((d) => {
        const [name, ...values] = d.trim().split(/\s+/);
        return [name!, values];
      }),
    );
    expect(directives.get('default-src')).toEqual(["'none'"]);
    expect(directives.get('connect-src')).toEqual(["'self'"]);
    expect(directives.get('worker-src')).toEqual(['blob:']);
    expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
    expect(directives.get('script-src')).toEqual(["'self'", expect.stringMatching(/^'sha256-[A-Za-z0-9+/]+=*'$/)]);
    expect(directives.get('style-src')).toEqual(["'self'", "'unsafe-inline'"]);
    expect(directives.get('font-src')).toEqual(["'self'", 'data:']);
    expect(directives.get('img-src')).toEqual(["'self'", 'data:']);
    expect(csp).not.toMatch(/https?:|\*|'unsafe-eval'/);

    const html = await res.text();
    expect(html.length).toBeGreaterThan(1_000_000);
    expect(html.trimStart().toLowerCase()).toMatch(/^<!doctype html>/);
    expect(html).toContain('<title>tokengate</title>');
    expect(remoteResourceUrls(html)).toEqual([]);
    expect(html).not.toMatch(/<script\b[^>]*\bsrc\s*=/i);
    expect(html).not.toMatch(/<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?\/\//i);

    const config = JSON.parse(/startPlayground\(window\.document\.querySelector\('#root'\), (\{.*?\})\);\n/s.exec(html)![1]!);
    expect(config).toMatchObject({
      endpoint: '/graphql',
      placeholderAuthorization: 'Bearer <paste your API key>',
      graphiql: {
        title: 'tokengate',
        defaultQuery: QUERY,
        headers: '{"Authorization": "Bearer <paste your API key>"}',
        isHeadersEditorEnabled: true,
        defaultEditorToolsVisibility: 'headers',
        shouldPersistHeaders: false,
      },
    });
  });

  it('answers a matching If-None-Match with 304 and keeps the same strong ETag', async () => {
    const first = await fetch(graphqlUrl, { headers: { accept: 'text/html' } });
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[^"]+"$/);
    await first.arrayBuffer();

    const again = await fetch(graphqlUrl, { headers: { accept: 'text/html' } });
    expect(again.headers.get('etag')).toBe(etag);
    await again.arrayBuffer();

    for (const ifNoneMatch of [etag!, `W/${etag}`, `"other", ${etag}`, '*']) {
      const res = await fetch(graphqlUrl, { headers: { accept: 'text/html', 'if-none-match': ifNoneMatch } });
      expect(res.status).toBe(304);
      expect(res.headers.get('etag')).toBe(etag);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(await res.text()).toBe('');
    }

    const stale = await fetch(graphqlUrl, { headers: { accept: 'text/html', 'if-none-match': '"stale"' } });
    expect(stale.status).toBe(200);
    expect((await stale.arrayBuffer()).byteLength).toBeGreaterThan(1_000_000);
  });

  it('answers HEAD with the headers only', async () => {
    const res = await fetch(graphqlUrl, { method: 'HEAD', headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(Number(res.headers.get('content-length'))).toBeGreaterThan(1_000_000);
    expect(await res.text()).toBe('');
  });

  it('passes GET queries that accept JSON on to Apollo', async () => {
    const url = `${graphqlUrl}?query=${encodeURIComponent(QUERY)}`;
    const ok = await fetch(url, {
      headers: { accept: 'application/json', 'apollo-require-preflight': 'true', authorization: `Bearer ${API_KEY}` },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-security-policy')).toBeNull();
    expect(await ok.json()).toEqual({ data: { tokens: { totalCount: 42 } } });

    const noKey = await fetch(url, { headers: { accept: 'application/json', 'apollo-require-preflight': 'true' } });
    expect(noKey.status).toBe(401);
    const body = (await noKey.json()) as { data?: unknown; errors: { extensions: { code: string } }[] };
    expect(body.data).toBeUndefined();
    expect(body.errors[0]!.extensions.code).toBe('UNAUTHENTICATED');

    // Apollo's CSRF prevention still applies to GET requests that are not the page.
    const noPreflight = await fetch(url, { headers: { accept: 'application/json', authorization: `Bearer ${API_KEY}` } });
    expect(noPreflight.status).toBe(400);
    await noPreflight.text();

    // No Accept at all (curl's */*) is an API request too.
    const anyType = await fetch(url, { headers: { accept: '*/*', 'apollo-require-preflight': 'true', authorization: `Bearer ${API_KEY}` } });
    expect(anyType.status).toBe(200);
    expect(anyType.headers.get('content-type')).toMatch(/json/);
    await anyType.text();
  });

  it('passes POST requests on to Apollo, whatever they accept', async () => {
    const post = (accept: string) =>
      fetch(graphqlUrl, {
        method: 'POST',
        headers: { accept, 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
        body: JSON.stringify({ query: QUERY }),
      });
    const res = await post('application/json');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { tokens: { totalCount: 42 } } });

    // Apollo answers this one (406: it cannot produce HTML), not the playground.
    const html = await post('text/html');
    expect(html.headers.get('content-security-policy')).toBeNull();
    expect(html.status).toBe(406);
    await html.text();
  });

  it('refuses an endpoint that is not a same-origin path', () => {
    for (const endpoint of ['https://example.com/graphql', '//example.com/graphql', 'graphql', '/graphql</script>', '']) {
      expect(() => createPlaygroundHandler({ endpoint })).toThrow(TypeError);
    }
  });

  it('escapes the title', async () => {
    const app = Fastify();
    app.get('/', createPlaygroundHandler({ endpoint: '/graphql', title: '<img src=x onerror=alert(1)> & co' }));
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const res = await fetch(`${url}/`, { headers: { accept: 'text/html' } });
      const html = await res.text();
      expect(html).toContain('<title>&lt;img src=x onerror=alert(1)&gt; &amp; co</title>');
      expect(html).not.toContain('<img src=x');
    } finally {
      app.server.closeAllConnections();
      await app.close();
    }
  });
});

describe('the playground page, compressed', () => {
  const raw = (url: string, headers: Record<string, string>) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      http
        .get(url, { headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        })
        .on('error', reject);
    });

  it('goes out brotli- or gzip-compressed as the request allows, each encoding with its own ETag', async () => {
    const handler = createPlaygroundHandler({ endpoint: '/graphql' });
    await handler.prepare();
    const app = Fastify();
    app.get('/graphql', handler);
    const url = `${await app.listen({ port: 0, host: '127.0.0.1' })}/graphql`;
    try {
      const plain = await raw(url, { accept: 'text/html' });
      expect(plain.headers['content-encoding']).toBeUndefined();
      const html = plain.body.toString('utf8');
      expect(html.length).toBeGreaterThan(5_000_000);

      const br = await raw(url, { accept: 'text/html', 'accept-encoding': 'gzip, deflate, br' });
      expect(br.headers['content-encoding']).toBe('br');
      expect(br.body.length).toBeLessThan(html.length / 3);
      expect(zlib.brotliDecompressSync(br.body).toString('utf8')).toBe(html);
      expect(br.headers.vary).toBe('Accept, Accept-Encoding');

      const gz = await raw(url, { accept: 'text/html', 'accept-encoding': 'gzip' });
      expect(gz.headers['content-encoding']).toBe('gzip');
      expect(gz.body.length).toBeLessThan(html.length / 3);
      expect(zlib.gunzipSync(gz.body).toString('utf8')).toBe(html);

      const notBr = await raw(url, { accept: 'text/html', 'accept-encoding': 'br;q=0, gzip' });
      expect(notBr.headers['content-encoding']).toBe('gzip');

      expect(new Set([plain.headers.etag, br.headers.etag, gz.headers.etag]).size).toBe(3);
      const revalidated = await raw(url, { accept: 'text/html', 'accept-encoding': 'br', 'if-none-match': br.headers.etag! });
      expect(revalidated.status).toBe(304);
    } finally {
      await app.close();
    }
  });
});

describe('playground in headless Chromium, offline', () => {
  let browser: Browser;
  let page: Page;
  let pageErrors: string[];
  let cspViolations: string[];
  /** Every POST to the endpoint the page made, in order of the answers. */
  let posts: { status: number; authorization: string | undefined; schemaQuery: boolean }[];

  beforeAll(async () => {
    browser = await launchOfflineBrowser();
  });

  afterAll(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    page = await newOfflinePage(browser, baseUrl);
    pageErrors = [];
    cspViolations = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    posts = [];
    page.on('response', (r) => {
      if (r.url() !== graphqlUrl || r.request().method() !== 'POST') return;
      posts.push({
        status: r.status(),
        authorization: r.request().headers().authorization,
        schemaQuery: /\bIntrospectionQuery\b/.test(r.request().postData() ?? ''),
      });
    });
    await page.exposeFunction('reportCspViolation', (v: string) => cspViolations.push(v));
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        (window as unknown as { reportCspViolation(v: string): void }).reportCspViolation(`${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    await new GraphiQLPage(page, graphqlUrl).open();
  });

  afterEach(async () => {
    await page?.context().close();
  });

  const ui = () => new GraphiQLPage(page, graphqlUrl);
  const editorText = (editor: ReturnType<Page['locator']>) => ui().editorText(editor);
  const typeInto = async (editor: ReturnType<Page['locator']>, text: string) => expect(await ui().typeInto(editor, text)).toBe(text);
  const headersTab = () => ui().headersTab();
  const headersEditor = () => ui().headersEditor();
  const queryEditor = () => ui().queryEditor();
  const resultWindow = () => ui().resultWindow();
  const run = (how: 'button' | 'keyboard') => ui().run(how, 'totalCount');

  it('runs a query with the API key typed into the headers editor, with nothing leaving the machine', async () => {
    // The headers editor is visible with the placeholder key.
    await headersTab().click();
    await expect(headersTab().getAttribute('class')).resolves.toContain('active');
    expect(await editorText(headersEditor())).toBe('{"Authorization": "Bearer <paste your API key>"}');

    await typeInto(headersEditor(), `{"Authorization": "Bearer ${API_KEY}"}`);
    await typeInto(queryEditor(), QUERY);

    const sent = await run('keyboard');
    expect(sent).toEqual({ status: 200, authorization: `Bearer ${API_KEY}` });
    await resultWindow()
      .filter({ hasText: /"totalCount":\s*42/ })
      .waitFor({ timeout: 10_000 });

    expect(blockedRequests(page)).toEqual([]);
    expect(cspViolations).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('shows UNAUTHENTICATED when no key is sent', async () => {
    await headersTab().click();
    await typeInto(headersEditor(), '{}');
    await typeInto(queryEditor(), QUERY);

    const sent = await run('button');
    expect(sent).toEqual({ status: 401, authorization: undefined });
    await resultWindow()
      .filter({ hasText: /"code":\s*"UNAUTHENTICATED"/ })
      .waitFor({ timeout: 10_000 });
    expect(await resultWindow().innerText()).not.toMatch(/totalCount/);

    expect(blockedRequests(page)).toEqual([]);
    expect(cspViolations).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('opens with an empty result pane: no schema query goes out with the placeholder key', async () => {
    await ui().openDocs();
    expect(await ui().docsError().count()).toBe(0);
    await headersTab().click();
    await typeInto(headersEditor(), `{"Authorization": "Bearer ${API_KEY}"}`);

    // Whichever comes first: the schema in the Docs pane, or text in the result pane (nothing was run).
    await ui()
      .docsRootTypes()
      .or(resultWindow().locator('.view-lines').filter({ hasText: /\S/ }))
      .first()
      .waitFor({ timeout: 10_000 });
    expect(await editorText(resultWindow())).toBe('');
    // (A key typed character by character may be tried before it is whole: those refusals are not shown.)
    expect(posts.filter((p) => p.authorization === 'Bearer <paste your API key>')).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('fetches the schema for the Docs pane once a valid key is typed, after a wrong one, with no error left', async () => {
    await ui().openDocs();
    await headersTab().click();

    const refused = page.waitForResponse(
      (r) =>
        r.url() === graphqlUrl && /\bIntrospectionQuery\b/.test(r.request().postData() ?? '') && r.request().headers().authorization === 'Bearer wrong-key',
    );
    await typeInto(headersEditor(), '{"Authorization": "Bearer wrong-key"}');
    expect((await refused).status()).toBe(401);
    await typeInto(headersEditor(), `{"Authorization": "Bearer ${API_KEY}"}`);

    await ui().docsRootTypes().first().waitFor({ timeout: 10_000 });
    expect(await ui().docs().innerText()).toMatch(/query:\s*Query/);
    expect(await ui().docsError().count()).toBe(0);
    expect(await editorText(resultWindow())).toBe('');
    // Fetched once with the valid key; refusals of the typed-in-progress keys were not shown.
    expect(posts.filter((p) => p.schemaQuery && p.status === 200)).toEqual([{ status: 200, authorization: `Bearer ${API_KEY}`, schemaQuery: true }]);
    expect(posts.filter((p) => p.status !== 200 && p.status !== 401)).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('keeps no query text or key in the browser: an inline clientSecret and refreshToken are in no storage, URL or reopened page', async () => {
    // Fake timers, so that GraphiQL's delayed writes to storage (500 ms after an edit) are run, not waited for.
    // Playwright's fake `performance` records no entries, so Monaco's keystroke-latency probe
    // (`performance.getEntriesByName(name)[0].duration`) throws on every key: that error alone is expected here.
    await page.clock.install();
    await ui().open();

    const mutation = 'mutation { saveToken(input: {clientSecret: "cs-SECRET-4711", refreshToken: "rt-SECRET-0815"}) { id } }';
    await headersTab().click();
    await typeInto(headersEditor(), `{"Authorization": "Bearer ${API_KEY}"}`);
    await typeInto(queryEditor(), mutation);
    const sent = await ui().run('button', 'cs-SECRET-4711');
    expect(sent.status).toBe(200);
    await resultWindow()
      .filter({ hasText: /"id":\s*"token-1"/ })
      .waitFor({ timeout: 10_000 });
    await page.clock.runFor(5_000);

    const stored = await storedInBrowser(page);
    for (const secret of ['cs-SECRET-4711', 'rt-SECRET-0815', 'saveToken', API_KEY]) expect(stored).not.toContain(secret);
    const keys = Object.keys((JSON.parse(stored) as { localStorage: Record<string, string> }).localStorage);
    expect(
      keys.filter(
        (k) => !['graphiql:theme', 'graphiql:visiblePlugin', 'graphiql:docExplorerFlex', 'graphiql:secondaryEditorFlex', 'graphiql:editorFlex'].includes(k),
      ),
    ).toEqual([]);
    expect(page.url()).toBe(graphqlUrl);

    // Opened again: a fresh editor.
    await ui().open();
    expect(await editorText(queryEditor())).toBe(QUERY);
    expect(pageErrors.filter((e) => e !== "Cannot read properties of undefined (reading 'duration')")).toEqual([]);
    expect(cspViolations).toEqual([]);
  });

  it('removes the editor text an earlier version of the page left in localStorage', async () => {
    const oldQuery = 'mutation { saveToken(input: {clientSecret: "old-SECRET-1"}) { id } }';
    await page.evaluate((query) => {
      const tab = { id: 'old-tab', hash: null, title: '<untitled>', query, variables: null, headers: null, operationName: null, response: null };
      localStorage.setItem('graphiql:tabState', JSON.stringify({ tabs: [tab], activeTabIndex: 0 }));
      localStorage.setItem('graphiql:query', query);
      localStorage.setItem('graphiql:theme', 'dark');
      localStorage.setItem('another-app', 'kept');
    }, oldQuery);

    await ui().open();
    expect(await editorText(queryEditor())).toBe(QUERY);
    const stored = JSON.parse(await storedInBrowser(page)) as { localStorage: Record<string, string> };
    expect(JSON.stringify(stored)).not.toContain('old-SECRET-1');
    expect(stored.localStorage).toMatchObject({ 'graphiql:theme': 'dark', 'another-app': 'kept' });
    expect(pageErrors).toEqual([]);
  });
});
