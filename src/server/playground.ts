import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';

type RenderGraphiQLModule = typeof import('@graphql-yoga/render-graphiql');
type GraphiQLOptions = NonNullable<Parameters<RenderGraphiQLModule['renderGraphiQL']>[0]>;

/** Options of {@link createPlaygroundHandler}. */
export interface PlaygroundOptions {
  /**
   * Where the playground sends its GraphQL requests: a path on the same origin
   * (`/graphql`), since the page's Content-Security-Policy only lets it connect
   * to `'self'`.
   */
  endpoint: string;
  /** The page title and the name shown in the IDE's header (plain text). Default `tokengate`. */
  title?: string;
}

/** The query a fresh playground tab starts with. */
export const PLAYGROUND_DEFAULT_QUERY = '{ tokens { totalCount } }';

/** The headers editor's initial text: it shows an operator where the API key goes. */
export const PLAYGROUND_DEFAULT_HEADERS = '{"Authorization": "Bearer <paste your API key>"}';

/**
 * The Content-Security-Policy of the playground page, given the SHA-256 hash of
 * its one inline script.
 *
 * Nothing remote is allowed. The page needs: its inline script (allowed by
 * hash, so an injected script would not run), inline styles (Monaco and React
 * set `style` attributes and insert `<style>` elements), `data:` fonts and
 * images (the bundled Roboto, Fira Code and codicon fonts, the favicon),
 * `blob:` workers (Monaco's editor, JSON and GraphQL workers are inlined as
 * blob URLs) and `connect-src 'self'` for the GraphQL requests. GraphiQL 5
 * does not need `'unsafe-eval'`.
 */
export function playgroundContentSecurityPolicy(inlineScriptHash: string): string {
  return [
    "default-src 'none'",
    `script-src 'self' '${inlineScriptHash}'`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    'worker-src blob:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The rendered page: rendered once, then served from memory. */
interface RenderedPage {
  body: Buffer;
  etag: string;
  csp: string;
}

/** The media types of a GraphQL response: a request that prefers one of these goes to the API, not the page. */
const API_MEDIA_TYPES = ['application/graphql-response+json', 'application/json', 'multipart/mixed', 'text/event-stream'];

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML: the package puts the title raw into `<title>` and into the header as HTML. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** A same-origin path: the page may only connect to `'self'`, and the value ends up inside an inline script. */
function checkEndpoint(endpoint: string): void {
  if (!/^\/(?!\/)[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/.test(endpoint)) {
    throw new TypeError(`playground endpoint must be a path on the same origin (like /graphql), got ${JSON.stringify(endpoint)}`);
  }
}

/** Throws when the page would make the browser fetch something from another host. */
function assertNoRemoteResources(html: string): void {
  const remote =
    /<(?:script|link|img|iframe|source|embed|object)\b[^>]*\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i.exec(html) ??
    /@import\s+(?:url\()?\s*["']?\s*(?:https?:)?\/\//i.exec(html) ??
    /url\(\s*["']?\s*(?:https?:)?\/\//i.exec(html);
  if (remote) {
    throw new Error(`the playground page references a remote resource (${remote[0].slice(0, 120)}); it must work offline`);
  }
}

function render(options: PlaygroundOptions): RenderedPage {
  // Loaded on first use: the module is about 9 MB of JavaScript.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily
  const { renderGraphiQL } = require('@graphql-yoga/render-graphiql') as RenderGraphiQLModule;
  const graphiqlOptions: GraphiQLOptions = {
    endpoint: options.endpoint,
    title: escapeHtml(options.title ?? 'tokengate'),
    defaultQuery: PLAYGROUND_DEFAULT_QUERY,
    headers: PLAYGROUND_DEFAULT_HEADERS,
    isHeadersEditorEnabled: true,
    defaultEditorToolsVisibility: 'headers',
    // The headers hold an API key: keep them out of localStorage.
    shouldPersistHeaders: false,
    credentials: 'same-origin',
  };
  const html = renderGraphiQL(graphiqlOptions);
  assertNoRemoteResources(html);

  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)];
  if (scripts.length !== 1 || /<script\b[^>]*\bsrc\s*=/i.test(html)) {
    throw new Error('the playground page is expected to hold exactly one inline script');
  }
  const inlineScriptHash = `sha256-${createHash('sha256').update(scripts[0]![1]!, 'utf8').digest('base64')}`;

  const body = Buffer.from(html, 'utf8');
  const etag = `"${createHash('sha256').update(body).digest('base64url')}"`;
  return { body, etag, csp: playgroundContentSecurityPolicy(inlineScriptHash) };
}

/** Whether an `If-None-Match` header matches `etag` (weak comparison, as RFC 9110 asks for this header). */
function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t.replace(/^W\//, '') === etag;
  });
}

/**
 * An Express 5 handler that serves tokengate's offline GraphQL playground
 * (GraphiQL 5 from `@graphql-yoga/render-graphiql`, one self-contained page
 * that loads nothing from the network).
 *
 * It answers `GET`/`HEAD` requests whose `Accept` prefers `text/html` to the
 * GraphQL media types (what a browser sends when navigating to the endpoint);
 * any other request is passed on with `next()`, so mount it in front of the
 * GraphQL API, e.g. `app.get('/graphql', createPlaygroundHandler({ endpoint: '/graphql' }))`.
 *
 * The page (about 9 MB) is rendered on first use and kept in memory. It is
 * sent with a strong `ETag` and `Cache-Control: no-cache`, so a browser
 * revalidates it and gets `304 Not Modified`, plus a strict
 * Content-Security-Policy (see {@link playgroundContentSecurityPolicy}),
 * `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` and
 * `X-Frame-Options: DENY`.
 *
 * The headers editor is shown with `{"Authorization": "Bearer <paste your API key>"}`
 * and is never persisted to localStorage.
 *
 * @throws TypeError at once when `endpoint` is not a same-origin path.
 */
export function createPlaygroundHandler(options: PlaygroundOptions): RequestHandler {
  checkEndpoint(options.endpoint);
  let page: RenderedPage | undefined;

  return (req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || req.accepts([...API_MEDIA_TYPES, 'text/html']) !== 'text/html') {
      next();
      return;
    }
    try {
      page ??= render(options);
    } catch (err) {
      next(err);
      return;
    }
    res.setHeader('Content-Security-Policy', page.csp);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('ETag', page.etag);
    res.vary('Accept');
    if (matchesIfNoneMatch(req.get('if-none-match'), page.etag)) {
      res.status(304).end();
      return;
    }
    res.status(200);
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Content-Length', String(page.body.length));
    res.end(page.body);
  };
}
