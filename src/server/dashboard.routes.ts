import fs from 'node:fs';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../logger';
import type { AuthFailureLog } from './auth-failures';
import { DashboardSessions, SESSION_COOKIE, readCookie, sameSiteFetch } from './dashboard-session';

export interface DashboardRoutesOptions {
  sessions: DashboardSessions;
  logger: Logger;
  /** The app's log of refused keys (shared with GraphQL and the API proxy): a sign-in with a wrong key is counted and logged there, rate-limited. */
  authFailures: AuthFailureLog;
  /** `TOKENGATE_PUBLIC_URL`, when set: an https one marks the session cookie `Secure` whatever the request says. */
  publicUrl?: string | null;
  /** Whether the GraphQL playground is served at /graphql (`TOKENGATE_PLAYGROUND`): the dashboard links to it only then [false]. */
  playground?: boolean;
}

/** The files of the built dashboard that are served. */
const ASSETS = new Set(['/app.js', '/app.css']);

/** Everything the dashboard page may load or call: its own origin, nothing inline. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The built dashboard (`npm run build` puts it in dist/ui), from the compiled file or from the sources under test. */
export function dashboardAssetsDir(): string | null {
  for (const dir of [path.join(__dirname, '..', 'ui'), path.join(__dirname, '..', '..', 'dist', 'ui')]) {
    if (fs.existsSync(path.join(dir, 'index.html'))) return dir;
  }
  return null;
}

/** Whether a request comes from a page of the gateway's own origin (the only place a session cookie counts). */
export function fromOwnOrigin(request: FastifyRequest): boolean {
  const host = request.headers.host;
  if (!host) return false;
  const origin = request.headers.origin;
  if (typeof origin === 'string') {
    try {
      if (new URL(origin).host !== host) return false;
    } catch {
      return false;
    }
  }
  return sameSiteFetch(request.headers['sec-fetch-site']);
}

/** The principal of a request's dashboard session, or null (no cookie, or not from the gateway's own pages). */
export function sessionPrincipal(sessions: DashboardSessions, request: FastifyRequest) {
  if (!fromOwnOrigin(request)) return null;
  return sessions.verify(readCookie(request.headers.cookie, SESSION_COOKIE));
}

/**
 * Whether the session cookie is marked `Secure`: when the person's page is on
 * an https origin. That is known from the request itself (TLS to this
 * process) or, behind a proxy that ends TLS, from the `Origin` a browser
 * sends with the sign-in (`https://…`: the origin its page is on).
 * `X-Forwarded-Proto` is not trusted (`trustProxy` is off). A client that
 * claims an https origin over plain http only gets a cookie its browser will
 * not send over http: the flag never weakens the cookie. An https
 * `TOKENGATE_PUBLIC_URL` says so for every request.
 */
export function secureCookie(request: FastifyRequest, publicUrl: string | null = null): boolean {
  if (request.protocol === 'https' || publicUrl?.startsWith('https://')) return true;
  const origin = request.headers.origin;
  return typeof origin === 'string' && origin.startsWith('https://');
}

/** The best encoding of the page that the client accepts (br, then gzip), or null for none. */
function negotiate(header: string | string[] | undefined): 'br' | 'gzip' | null {
  const accepted = new Set(
    String(header ?? '')
      .split(',')
      .map((part) => part.trim().split(';'))
      .filter(([, q]) => !q || !/^q=0(\.0*)?$/.test(q.trim()))
      .map(([name]) => name!.trim().toLowerCase()),
  );
  if (accepted.has('br')) return 'br';
  if (accepted.has('gzip')) return 'gzip';
  return null;
}

function error(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.code(status).type('application/json; charset=utf-8').send({ error: { code, message } });
}

/**
 * The dashboard: `/` (its page), `/ui/*` (its script and stylesheet, sent
 * pre-compressed), and `/session` (sign in with an API key for an HttpOnly
 * session cookie, who am I, sign out).
 */
export const dashboardRoutes: FastifyPluginAsync<DashboardRoutesOptions> = async (
  app,
  { sessions, logger, authFailures, publicUrl = null, playground = false },
) => {
  /**
   * What a signed-in page is told besides who it is: whether the playground is
   * served (its link is shown only then) and the gateway's public URL (where
   * the connect flow brings the browser back; null without one).
   */
  const about = (principal: { role: string; keyName: string }) => ({ role: principal.role, keyName: principal.keyName, playground, publicUrl });

  const dir = dashboardAssetsDir();
  if (dir) {
    await app.register(fastifyStatic, {
      root: dir,
      prefix: '/ui/',
      preCompressed: true,
      index: false,
      wildcard: false,
      allowedPath: (pathName) => ASSETS.has(pathName),
      cacheControl: false,
      // At run time this is Node's ServerResponse (the plugin's types say otherwise).
      setHeaders: (res) => {
        (res as unknown as ServerResponse).setHeader('cache-control', 'no-cache');
      },
    });
  }

  // The page itself is small: kept in memory with its pre-compressed forms.
  const page = dir
    ? {
        identity: fs.readFileSync(path.join(dir, 'index.html')),
        br: fs.readFileSync(path.join(dir, 'index.html.br')),
        gzip: fs.readFileSync(path.join(dir, 'index.html.gz')),
      }
    : null;

  app.get('/', async (request, reply) => {
    void reply
      .header('content-security-policy', DASHBOARD_CSP)
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache');
    if (!dir) {
      return reply
        .type('text/html; charset=utf-8')
        .send(
          '<!doctype html><title>tokengate</title><p>The dashboard is not built: run <code>npm run build</code>. The GraphQL API is at <a href="/graphql">/graphql</a>.</p>',
        );
    }
    const encoding = negotiate(request.headers['accept-encoding']);
    void reply.type('text/html; charset=utf-8').header('vary', 'accept-encoding');
    if (encoding) void reply.header('content-encoding', encoding);
    return reply.send(page![encoding ?? 'identity']);
  });

  app.get('/session', async (request, reply) => {
    void reply.header('cache-control', 'no-store');
    const principal = sessionPrincipal(sessions, request);
    if (!principal) return error(reply, 401, 'UNAUTHENTICATED', 'not signed in');
    return about(principal);
  });

  app.post('/session', { bodyLimit: 4096 }, async (request, reply) => {
    void reply.header('cache-control', 'no-store');
    if (!fromOwnOrigin(request)) return error(reply, 403, 'FORBIDDEN', 'sign in from the dashboard page');
    const apiKey = (request.body as { apiKey?: unknown } | undefined)?.apiKey;
    if (typeof apiKey !== 'string' || apiKey.length === 0 || apiKey.length > 512) return error(reply, 400, 'BAD_REQUEST', 'send {"apiKey": "…"} as JSON');
    const session = sessions.signIn(apiKey);
    if (!session) {
      authFailures.record({ presentedKey: apiKey, route: 'dashboard', remoteAddress: request.ip, requestId: request.id });
      return error(reply, 401, 'UNAUTHENTICATED', 'that API key is not valid');
    }
    const secure = secureCookie(request, publicUrl) ? '; Secure' : '';
    void reply.header('set-cookie', `${SESSION_COOKIE}=${session.value}; Path=/; HttpOnly; SameSite=Strict${secure}`);
    logger.info({ reqId: request.id, keyName: session.principal.keyName, role: session.principal.role }, 'dashboard sign-in');
    return about(session.principal);
  });

  app.delete('/session', async (request, reply) => {
    if (!fromOwnOrigin(request)) return error(reply, 403, 'FORBIDDEN', 'sign out from the dashboard page');
    const secure = secureCookie(request, publicUrl) ? '; Secure' : '';
    return reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure}`).code(204).send();
  });
};
