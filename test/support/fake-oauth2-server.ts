/**
 * A fake standard OAuth 2.0 authorization server for tests (not Zoho): a real
 * HTTP server on 127.0.0.1 that behaves as RFC 6749 and RFC 7009 describe it.
 *
 * - `POST /token` (form-urlencoded only): clients authenticate with HTTP
 *   Basic (`client_secret_basic`, each part form-decoded), or in the body
 *   (`client_secret_post`) when the client is registered that way.
 *   Failures are RFC 6749 §5.2 JSON bodies with HTTP 400
 *   (`invalid_grant`, `unsupported_grant_type`, `invalid_request`) or 401
 *   (`invalid_client`, with `WWW-Authenticate: Basic`).
 * - Every refresh rotates the refresh token: the answer carries a new one
 *   and the old one stops working at once.
 * - `POST /revoke` (RFC 7009): the client authenticates as at `/token`; any
 *   token, known or not, is answered 200 with an empty body (§2.2).
 * - `GET /authorize` (RFC 6749 §4.1.1) consents at once: a 302 to
 *   `redirect_uri` with a single-use `code` and the `state`. With a PKCE
 *   challenge (RFC 7636, `S256` only), the code is exchanged
 *   (`grant_type=authorization_code`) only with the matching `code_verifier`.
 * Records every request (path, grant type, how the client authenticated,
 * never a secret) and every access token issued.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OAuth2RequestRecord {
  path: string;
  grantType: string | null;
  /** How the client authenticated: `basic`, `post`, or `none`. */
  clientAuth: 'basic' | 'post' | 'none';
  clientId: string | null;
  status: number;
}

export interface FakeOAuth2Server {
  readonly url: string;
  readonly tokenUrl: string;
  readonly revocationUrl: string;
  /** The authorization endpoint (the consent step of the connect flow). */
  readonly authorizationUrl: string;
  /** The PKCE challenge of every consent, in order (null: none was sent). */
  readonly challenges: ReadonlyArray<string | null>;
  readonly requests: readonly OAuth2RequestRecord[];
  /** Every access token issued, in order. */
  readonly issuedAccessTokens: readonly string[];
  /** Registers a client; `method` is how it must authenticate [client_secret_basic]. */
  addClient(clientId: string, clientSecret: string, method?: 'client_secret_basic' | 'client_secret_post'): void;
  /** Registers a refresh token (a random one when not given) and returns it. */
  addRefreshToken(clientId: string, refreshToken?: string): string;
  isRefreshTokenValid(refreshToken: string): boolean;
  /** Tokens revoked at `/revoke` (refresh tokens it knew, which then stop working). */
  readonly revoked: readonly string[];
  close(): Promise<void>;
}

export async function startFakeOAuth2Server(options: { expiresIn?: number | null } = {}): Promise<FakeOAuth2Server> {
  const clients = new Map<string, { secret: string; method: 'client_secret_basic' | 'client_secret_post' }>();
  const refreshTokens = new Map<string, string>(); // refresh token → client id
  const requests: OAuth2RequestRecord[] = [];
  const issued: string[] = [];
  const revoked: string[] = [];
  const codes = new Map<string, { clientId: string; redirectUri: string; challenge: string | null }>();
  const challenges: Array<string | null> = [];
  const token = (p: string) => `${p}-${randomBytes(16).toString('hex')}`;

  /** The authenticated client, or the 401 answer. */
  function authenticate(
    req: http.IncomingMessage,
    params: URLSearchParams,
  ): { clientId: string; via: 'basic' | 'post' } | { error: string; via: 'basic' | 'post' | 'none' } {
    const header = req.headers.authorization;
    if (header?.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const id = formDecode(decoded.slice(0, colon));
      const secret = formDecode(decoded.slice(colon + 1));
      const client = clients.get(id);
      if (colon < 0 || !client || client.secret !== secret || client.method !== 'client_secret_basic' || params.has('client_secret'))
        return { error: 'invalid_client', via: 'basic' };
      return { clientId: id, via: 'basic' };
    }
    const id = params.get('client_id');
    const secret = params.get('client_secret');
    if (id === null || secret === null) return { error: 'invalid_client', via: 'none' };
    const client = clients.get(id);
    if (!client || client.secret !== secret || client.method !== 'client_secret_post') return { error: 'invalid_client', via: 'post' };
    return { clientId: id, via: 'post' };
  }

  function answer(res: http.ServerResponse, record: OAuth2RequestRecord, status: number, body: unknown, headers: Record<string, string> = {}): void {
    record.status = status;
    const text = body === null ? '' : JSON.stringify(body);
    res.writeHead(status, { ...(text ? { 'content-type': 'application/json' } : {}), 'cache-control': 'no-store', ...headers });
    res.end(text);
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const path = url.pathname;
      if (req.method === 'GET' && path === '/authorize') {
        const q = url.searchParams;
        const clientId = q.get('client_id') ?? '';
        const redirectUri = q.get('redirect_uri');
        if (
          !clients.has(clientId) ||
          q.get('response_type') !== 'code' ||
          !redirectUri ||
          (q.has('code_challenge') && q.get('code_challenge_method') !== 'S256')
        ) {
          res.writeHead(400, { 'content-type': 'text/plain' });
          return res.end('invalid authorization request');
        }
        const code = token('code');
        codes.set(code, { clientId, redirectUri, challenge: q.get('code_challenge') });
        challenges.push(q.get('code_challenge'));
        const back = new URL(redirectUri);
        back.searchParams.set('code', code);
        if (q.has('state')) back.searchParams.set('state', q.get('state')!);
        res.writeHead(302, { location: back.toString() });
        return res.end();
      }
      const params = /^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '')
        ? new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
        : new URLSearchParams();
      const record: OAuth2RequestRecord = { path, grantType: params.get('grant_type'), clientAuth: 'none', clientId: null, status: 0 };
      requests.push(record);
      if (req.method !== 'POST' || (path !== '/token' && path !== '/revoke')) return answer(res, record, 404, { error: 'not_found' });
      const auth = authenticate(req, params);
      record.clientAuth = auth.via;
      if ('error' in auth)
        return answer(
          res,
          record,
          401,
          { error: 'invalid_client', error_description: 'client authentication failed' },
          { 'www-authenticate': 'Basic realm="fake"' },
        );
      record.clientId = auth.clientId;
      if (path === '/revoke') {
        const value = params.get('token') ?? '';
        if (refreshTokens.get(value) === auth.clientId) {
          refreshTokens.delete(value);
          revoked.push(value);
        }
        return answer(res, record, 200, null);
      }
      if (params.get('grant_type') === 'authorization_code') {
        const grant = codes.get(params.get('code') ?? '');
        codes.delete(params.get('code') ?? '');
        if (!grant || grant.clientId !== auth.clientId || grant.redirectUri !== params.get('redirect_uri'))
          return answer(res, record, 400, { error: 'invalid_grant' });
        const verifier = params.get('code_verifier');
        if (grant.challenge !== null && (verifier === null || createHash('sha256').update(verifier).digest('base64url') !== grant.challenge)) {
          return answer(res, record, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
        }
        const refreshToken = token('rt');
        refreshTokens.set(refreshToken, auth.clientId);
        const accessToken = token('at');
        issued.push(accessToken);
        return answer(res, record, 200, { access_token: accessToken, token_type: 'Bearer', refresh_token: refreshToken, expires_in: 3600 });
      }
      if (params.get('grant_type') !== 'refresh_token') return answer(res, record, 400, { error: 'unsupported_grant_type' });
      const used = params.get('refresh_token');
      if (!used) return answer(res, record, 400, { error: 'invalid_request', error_description: 'refresh_token is missing' });
      if (refreshTokens.get(used) !== auth.clientId)
        return answer(res, record, 400, { error: 'invalid_grant', error_description: 'the refresh token is invalid, expired or revoked' });
      refreshTokens.delete(used);
      const next = token('rt');
      refreshTokens.set(next, auth.clientId);
      const accessToken = token('at');
      issued.push(accessToken);
      const expiresIn = options.expiresIn === undefined ? 3600 : options.expiresIn;
      return answer(res, record, 200, {
        access_token: accessToken,
        token_type: 'Bearer',
        refresh_token: next,
        ...(expiresIn === null ? {} : { expires_in: expiresIn }),
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    tokenUrl: `${url}/token`,
    revocationUrl: `${url}/revoke`,
    authorizationUrl: `${url}/authorize`,
    challenges,
    requests,
    issuedAccessTokens: issued,
    revoked,
    addClient(clientId, clientSecret, method = 'client_secret_basic') {
      clients.set(clientId, { secret: clientSecret, method });
    },
    addRefreshToken(clientId, refreshToken = token('rt')) {
      refreshTokens.set(refreshToken, clientId);
      return refreshToken;
    },
    isRefreshTokenValid: (rt) => refreshTokens.has(rt),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function formDecode(v: string): string {
  return decodeURIComponent(v.replace(/\+/g, ' '));
}
