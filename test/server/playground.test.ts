import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import Fastify, { type FastifyInstance, type RouteHandlerMethod } from 'fastify';
import { GraphQLError } from 'graphql';
import type { Browser, Page } from 'playwright-core';
import { createPlaygroundHandler } from '../../src/server/playground';
import { blockedRequests, launchOfflineBrowser, newOfflinePage } from '../support/browser';
import { GraphiQLPage } from '../support/graphiql-page';

const API_KEY = 'test-key-123';
const QUERY = '{ tokens { totalCount } }';

let server: FastifyInstance;
let apollo: ApolloServer;
let baseUrl: string;
let graphqlUrl: string;

beforeAll(async () => {
  apollo = new ApolloServer({
    typeDefs: 'type Query { tokens: TokenPage! } type TokenPage { totalCount: Int! }',
    resolvers: { Query: { tokens: () => ({ totalCount: 42 }) } },
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

    const options = JSON.parse(/renderYogaGraphiQL\(\s*window\.document\.querySelector\('#root'\),\s*(\{.*?\}),\s*\);/s.exec(html)![1]!);
    expect(options).toMatchObject({
      endpoint: '/graphql',
      defaultQuery: QUERY,
      headers: '{"Authorization": "Bearer <paste your API key>"}',
      isHeadersEditorEnabled: true,
      defaultEditorToolsVisibility: 'headers',
      shouldPersistHeaders: false,
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

describe('playground in headless Chromium, offline', () => {
  let browser: Browser;
  let page: Page;
  let pageErrors: string[];
  let cspViolations: string[];

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

    // The key is not persisted (shouldPersistHeaders: false); GraphiQL stores its tabs after 500 ms.
    await page.waitForTimeout(800);
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }));
    expect(stored).toContain('totalCount');
    expect(stored).not.toContain(API_KEY);

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
});
