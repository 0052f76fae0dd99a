import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { preferredMediaType } from './accept';
import { playgroundPageHtml, type GraphiQLParts } from './playground-page';

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

/** The `Authorization` value the headers editor starts with: the schema query waits while it is there. */
export const PLAYGROUND_PLACEHOLDER_AUTHORIZATION = 'Bearer <paste your API key>';

/** The headers editor's initial text: it shows an operator where the API key goes. */
export const PLAYGROUND_DEFAULT_HEADERS = `{"Authorization": ${JSON.stringify(PLAYGROUND_PLACEHOLDER_AUTHORIZATION)}}`;

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

/** One encoding of the page, with its own strong ETag. */
interface Representation {
  body: Buffer;
  etag: string;
  encoding: 'br' | 'gzip' | null;
}

/** The rendered page, served from memory; its compressed forms once they are made. */
interface RenderedPage {
  identity: Representation;
  compressed: { gzip: Representation; br: Representation } | null;
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
  const parts = require('@graphql-yoga/render-graphiql/graphiql') as GraphiQLParts;
  const html = playgroundPageHtml(
    {
      endpoint: options.endpoint,
      placeholderAuthorization: PLAYGROUND_PLACEHOLDER_AUTHORIZATION,
      graphiql: {
        title: escapeHtml(options.title ?? 'tokengate'),
        defaultQuery: PLAYGROUND_DEFAULT_QUERY,
        headers: PLAYGROUND_DEFAULT_HEADERS,
        isHeadersEditorEnabled: true,
        defaultEditorToolsVisibility: 'headers',
        // The headers hold an API key: never persisted (the page's storage keeps no editor text anyway).
        shouldPersistHeaders: false,
      },
    },
    parts,
  );
  assertNoRemoteResources(html);

  const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)];
  if (scripts.length !== 1 || /<script\b[^>]*\bsrc\s*=/i.test(html)) {
    throw new Error('the playground page is expected to hold exactly one inline script');
  }
  const inlineScriptHash = `sha256-${createHash('sha256').update(scripts[0]![1]!, 'utf8').digest('base64')}`;

  const body = Buffer.from(html, 'utf8');
  const tag = createHash('sha256').update(body).digest('base64url');
  return { identity: { body, etag: `"${tag}"`, encoding: null }, compressed: null, csp: playgroundContentSecurityPolicy(inlineScriptHash) };
}

const gzip = promisify(zlib.gzip);
const brotli = promisify(zlib.brotliCompress);

/**
 * Compresses the page once, gzip and brotli at a middle level (about 9 MB to
 * 2.4 and 1.9 MB, under a second of CPU on the thread pool, not the event
 * loop), rather than compressing 9 MB for every request. Until it is done
 * the page goes out as it is.
 */
async function compress(page: RenderedPage): Promise<void> {
  const { body, etag } = page.identity;
  const [gz, br] = await Promise.all([
    gzip(body, { level: 6 }),
    brotli(body, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 6, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.length } }),
  ]);
  page.compressed = {
    gzip: { body: gz, etag: `${etag.slice(0, -1)}-gzip"`, encoding: 'gzip' },
    br: { body: br, etag: `${etag.slice(0, -1)}-br"`, encoding: 'br' },
  };
}

/** The representation an `Accept-Encoding` header asks for: brotli, else gzip, else the page as is. */
function representationFor(page: RenderedPage, acceptEncoding: string | undefined): Representation {
  if (!acceptEncoding || !page.compressed) return page.identity;
  const q = new Map<string, number>();
  for (const part of acceptEncoding.toLowerCase().split(',')) {
    const [name, ...params] = part.trim().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    q.set(name!.trim(), qParam ? Number(qParam.slice(2)) || 0 : 1);
  }
  const accepted = (coding: string) => (q.get(coding) ?? q.get('*') ?? 0) > 0;
  if (accepted('br')) return page.compressed.br;
  if (accepted('gzip')) return page.compressed.gzip;
  return page.identity;
}

/** Whether an `If-None-Match` header matches `etag` (weak comparison, as RFC 9110 asks for this header). */
function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t.replace(/^W\//, '') === etag;
  });
}

/** Whether a request is a browser asking for the page: `GET`/`HEAD` preferring `text/html` to the GraphQL media types. */
export function wantsPlaygroundPage(request: FastifyRequest): boolean {
  return (
    (request.method === 'GET' || request.method === 'HEAD') && preferredMediaType(request.headers.accept, [...API_MEDIA_TYPES, 'text/html']) === 'text/html'
  );
}

/**
 * A Fastify route handler that serves tokengate's offline GraphQL playground
 * (GraphiQL 5 from `@graphql-yoga/render-graphiql`, one self-contained page
 * that loads nothing from the network) to a browser, and hands every other
 * request to `api` (the GraphQL API on the same path), e.g.
 * `app.route({ method: ['GET', 'POST'], url: '/graphql', handler: createPlaygroundHandler({ endpoint: '/graphql' }, apolloHandler) })`.
 *
 * A browser is a `GET`/`HEAD` request whose `Accept` prefers `text/html` to
 * the GraphQL media types (what a browser sends when navigating to the
 * endpoint). Without `api`, other requests get 406.
 *
 * The page (about 9 MB; 1.9 MB with brotli, 2.4 MB with gzip, sent as the
 * request's `Accept-Encoding` allows) is rendered on first use and kept in
 * memory, compressed once in the background. Each encoding is sent with its own strong `ETag` and
 * `Cache-Control: no-cache`, so a browser revalidates it and gets
 * `304 Not Modified`, plus a strict Content-Security-Policy (see
 * {@link playgroundContentSecurityPolicy}), `X-Content-Type-Options: nosniff`,
 * `Referrer-Policy: no-referrer` and `X-Frame-Options: DENY`.
 *
 * The headers editor is shown with `{"Authorization": "Bearer <paste your API key>"}`
 * and is never persisted to localStorage.
 *
 * @throws TypeError at once when `endpoint` is not a same-origin path.
 */
export function createPlaygroundHandler(options: PlaygroundOptions, api?: RouteHandlerMethod): PlaygroundHandler {
  checkEndpoint(options.endpoint);
  let page: RenderedPage | undefined;
  let compressing: Promise<void> | undefined;

  const prepare = (log?: { warn(o: object, m: string): void }): Promise<void> => {
    if (!page) {
      page = render(options);
      compressing = compress(page).catch((err: Error) =>
        log?.warn({ err: { name: err.name, message: err.message } }, 'the playground page could not be compressed; it is sent as it is'),
      );
    }
    return compressing!;
  };

  const servePage = (request: FastifyRequest, reply: FastifyReply, log: { warn(o: object, m: string): void }) => {
    void prepare(log);
    if (!page) throw new Error('unreachable: the page is rendered');
    const rep = representationFor(page, request.headers['accept-encoding']);
    reply.headers({
      'content-security-policy': page.csp,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
      'cache-control': 'no-cache',
      etag: rep.etag,
    });
    const vary = reply.getHeader('vary');
    reply.header('vary', vary ? `${String(vary)}, Accept, Accept-Encoding` : 'Accept, Accept-Encoding');
    if (matchesIfNoneMatch(request.headers['if-none-match'], rep.etag)) {
      return reply.code(304).send();
    }
    if (rep.encoding) reply.header('content-encoding', rep.encoding);
    return reply.code(200).type('text/html; charset=utf-8').send(rep.body);
  };

  const handler: RouteHandlerMethod = async function playgroundOrApi(this: unknown, request, reply) {
    if (wantsPlaygroundPage(request)) return servePage(request, reply, request.log);
    if (api) return api.call(this as never, request, reply);
    return reply.code(406).send();
  };
  return Object.assign(handler, { prepare: () => prepare() });
}

/** The route handler of {@link createPlaygroundHandler}. */
export type PlaygroundHandler = RouteHandlerMethod & {
  /** Renders the page and compresses it now, instead of on the first request; resolves when the compressed forms are ready. */
  prepare(): Promise<void>;
};
