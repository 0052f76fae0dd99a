/**
 * A fake Zoho Accounts server (and a sliver of the CRM) that enforces Zoho's
 * documented issuing limits exactly, with time compressed by `scale`
 * (60: a 10-minute window lasts 10 s, an access token lives 60 s):
 * - at most `perWindow` (10) access tokens per refresh token in any rolling
 *   window; the next request gets `{"error":"access_denied"}` (HTTP 200) and
 *   the refresh token is blocked for the rest of that window;
 * - at most `maxAlive` (15) access tokens alive per refresh token: minting one
 *   more silently invalidates the oldest alive one;
 * - `GET /crm/v8/users` with `Authorization: Zoho-oauthtoken <token>` answers
 *   200 for a valid token, else 401 `INVALID_OAUTHTOKEN`, and records a token
 *   the server invalidated (or that expired) while a client still used it.
 * Accepts form-urlencoded (tokengate) and multipart (Zoho's TS SDK) bodies.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface FakeZohoStats {
  refreshRequests: number;
  minted: number;
  accessDenied: number;
  /** Access tokens the server invalidated (the 16th alive) and a client then presented. */
  invalidatedInUse: number;
  /** Access tokens presented after their expiry. */
  expiredInUse: number;
  /** CRM calls answered 200. */
  validCalls: number;
  /** When the first `access_denied` was answered, in ms since the start (null: never). */
  firstAccessDeniedMs: number | null;
  /** The most access tokens ever minted for one refresh token within one window (must stay ≤ the limit). */
  maxPerWindowSeen: number;
}

export interface FakeZoho {
  readonly url: string;
  addClient(id: string, secret: string): void;
  addRefreshToken(clientId: string): string;
  stats(): FakeZohoStats;
  close(): Promise<void>;
}

export async function startFakeZoho(options: {
  scale: number;
  perWindow?: number;
  windowSeconds?: number;
  maxAlive?: number;
  lifetimeSeconds?: number;
}): Promise<FakeZoho> {
  const windowMs = ((options.windowSeconds ?? 600) * 1000) / options.scale;
  const lifetimeMs = ((options.lifetimeSeconds ?? 3600) * 1000) / options.scale;
  const perWindow = options.perWindow ?? 10;
  const maxAlive = options.maxAlive ?? 15;
  const started = Date.now();
  const clients = new Map<string, string>();
  const refreshTokens = new Map<string, { clientId: string; mints: number[]; alive: string[]; blockedUntil: number }>();
  const access = new Map<string, { expiresAt: number; invalidated: boolean; reported: boolean }>();
  const stats: FakeZohoStats = {
    refreshRequests: 0,
    minted: 0,
    accessDenied: 0,
    invalidatedInUse: 0,
    expiredInUse: 0,
    validCalls: 0,
    firstAccessDeniedMs: null,
    maxPerWindowSeen: 0,
  };

  function refresh(params: URLSearchParams): Record<string, unknown> {
    stats.refreshRequests++;
    const clientId = params.get('client_id') ?? '';
    if (clients.get(clientId) !== params.get('client_secret')) return { error: 'invalid_client' };
    const rt = refreshTokens.get(params.get('refresh_token') ?? '');
    if (!rt || rt.clientId !== clientId) return { error: 'invalid_code' };
    const now = Date.now();
    rt.mints = rt.mints.filter((t) => t > now - windowMs);
    if (now < rt.blockedUntil || rt.mints.length >= perWindow) {
      // Blocked for the rest of the window that the oldest counted mint opened.
      if (now >= rt.blockedUntil) rt.blockedUntil = (rt.mints[0] ?? now) + windowMs;
      stats.accessDenied++;
      stats.firstAccessDeniedMs ??= now - started;
      return { error: 'access_denied', error_description: 'You have made too many requests continuously. Please try again after some time.' };
    }
    rt.mints.push(now);
    stats.maxPerWindowSeen = Math.max(stats.maxPerWindowSeen, rt.mints.length);
    rt.alive = rt.alive.filter((t) => access.get(t)!.expiresAt > now && !access.get(t)!.invalidated);
    if (rt.alive.length >= maxAlive) access.get(rt.alive.shift()!)!.invalidated = true;
    const token = `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;
    access.set(token, { expiresAt: now + lifetimeMs, invalidated: false, reported: false });
    rt.alive.push(token);
    stats.minted++;
    return { access_token: token, api_domain: 'https://www.zohoapis.com', token_type: 'Bearer', expires_in: Math.round(lifetimeMs / 1000) };
  }

  function crm(req: http.IncomingMessage): number {
    const header = req.headers.authorization ?? '';
    const t = access.get(header.replace(/^Zoho-oauthtoken /, ''));
    if (!t) return 401;
    const now = Date.now();
    if (t.invalidated || t.expiresAt <= now) {
      if (!t.reported) {
        t.reported = true;
        if (t.invalidated) stats.invalidatedInUse++;
        else stats.expiredInUse++;
      }
      return 401;
    }
    stats.validCalls++;
    return 200;
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const url = new URL(req.url ?? '/', 'http://x');
        const send = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        if (url.pathname.startsWith('/crm/')) {
          const status = crm(req);
          return send(status, status === 200 ? { users: [] } : { code: 'INVALID_TOKEN', message: 'invalid oauth token', status: 'error' });
        }
        if (url.pathname !== '/oauth/v2/token' || req.method !== 'POST') return send(404, { error: 'not_found' });
        const type = req.headers['content-type'] ?? '';
        let params = new URLSearchParams();
        if (/multipart\/form-data/i.test(type)) {
          const form = await new Response(Buffer.concat(chunks), { headers: { 'content-type': type } }).formData();
          form.forEach((v, k) => typeof v === 'string' && params.set(k, v));
        } else params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        if (params.get('grant_type') !== 'refresh_token') return send(200, { error: 'unsupported_grant_type' });
        send(200, refresh(params));
      })().catch(() => {
        res.writeHead(400);
        res.end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    addClient: (id, secret) => void clients.set(id, secret),
    addRefreshToken(clientId) {
      const rt = `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;
      refreshTokens.set(rt, { clientId, mints: [], alive: [], blockedUntil: 0 });
      return rt;
    },
    stats: () => ({ ...stats }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
