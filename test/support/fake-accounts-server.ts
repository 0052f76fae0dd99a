/**
 * A fake Zoho Accounts server for tests: a real HTTP server on 127.0.0.1
 * that speaks Zoho's token endpoint as `shared/spec/oauth.md` describes it.
 *
 * - `POST /oauth/v2/token` takes its parameters form-urlencoded (Zoho's
 *   Python SDK), as multipart form-data (Zoho's TS SDK) or in the query
 *   string (which Zoho also accepts); the body wins over the query.
 * - `grant_type=refresh_token` and `grant_type=authorization_code` answer
 *   `{ access_token, expires_in (or expires_in_sec), api_domain, token_type }`,
 *   plus `refresh_token` after a grant exchange (and after a refresh when
 *   rotating). Failures are HTTP 200 with `{"error": code}`, as Zoho does:
 *   `invalid_client` (unknown client or wrong secret), `invalid_code`
 *   (unknown, used, expired or revoked refresh or grant token),
 *   `invalid_redirect_uri`, `unsupported_grant_type`.
 * - `POST /oauth/v2/token/revoke` takes `token` in the query or the body and
 *   answers `{"status":"success"}`, or `{"error":"invalid_code"}` for a token it does not know.
 * - `GET /oauth/v2/auth` is the consent step of the connect flow, answered at
 *   once (the person "consents"): a 302 to `redirect_uri` with `code`,
 *   `state`, `location` and `accounts-server` — the data center it chose for
 *   the user (`consentAccountsServer`, by default this server) — or with
 *   `error=access_denied` when `consentDecision` is `deny`. The code is bound
 *   to the chosen data center's host: exchanged at another host (the `Host`
 *   header), it is `invalid_code`, and so is a refresh of the refresh token
 *   it yields. Failure modes do not apply to it.
 *
 * Failure modes (`setFailure`) replace the answer of every request (both
 * endpoints), optionally for the next N requests only; requests are recorded
 * either way. Counters and records hold no secret but the issued access
 * tokens, which tests compare with what a caller got.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * How the server answers instead of normally:
 * `http500` (HTTP 500, an HTML body), `notJson` (HTTP 200, an HTML body),
 * `invalidCode` / `accessDenied` (HTTP 200, `{"error":"invalid_code"|"access_denied"}`),
 * `hang` (never answers, until the server closes).
 */
export type FakeFailureMode = 'none' | 'http500' | 'notJson' | 'invalidCode' | 'accessDenied' | 'hang';

/** The behaviour of the server, changeable at any time through `configure`. */
export interface FakeAccountsSettings {
  /** A refresh also returns a new refresh token, and the old one stops working [false]. */
  rotateRefreshTokens: boolean;
  /** Wait this long before answering any request, in ms [0]. */
  delayMs: number;
  /** The lifetime of issued access tokens, in seconds [3600]. */
  expiresIn: number;
  /** Send the lifetime as `expires_in_sec` instead of `expires_in` [false]. */
  useExpiresInSec: boolean;
  /** The `api_domain` of every answer [`https://www.zohoapis.com`]. */
  apiDomain: string;
  /** The consent step: the person approves (a code) or declines (`error=access_denied`) ['approve']. */
  consentDecision: 'approve' | 'deny';
  /** The data center the consent step names in `accounts-server` (and binds its code to); null: this server [null]. */
  consentAccountsServer: string | null;
  /** The `location` the consent step names (Zoho's data center code, lower case) ['us']. */
  consentLocation: string;
}

/** Options of {@link startFakeAccountsServer}. */
export interface FakeAccountsServerOptions extends Partial<FakeAccountsSettings> {
  /** The failure mode to start with ['none']. */
  failure?: FakeFailureMode;
  /** Called with each request's record as it is recorded, before it is answered (to order it among a test's own events). */
  onRequest?: (record: FakeRequestRecord) => void;
  /** Serve HTTPS with this key and certificate (a data center's own host name, reached through `pinnedFetch`). */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

/** One request the server received. No secret in it. */
export interface FakeRequestRecord {
  path: string;
  /** `grant_type` of a token request; null for a revocation or when absent. */
  grantType: string | null;
  clientId: string | null;
  /** How the parameters came. */
  encoding: 'urlencoded' | 'multipart' | 'query' | 'none' | 'other';
  contentType: string | null;
  accept: string | null;
  /** The Host header: which accounts server the client meant. */
  host: string | null;
  at: Date;
  /** A consent request (`GET /oauth/v2/auth`): its parameters, the state as present or not only. */
  authorization?: {
    responseType: string | null;
    scope: string | null;
    redirectUri: string | null;
    accessType: string | null;
    prompt: string | null;
    codeChallenge: string | null;
    hasState: boolean;
  };
}

/** An access token the server issued. */
export interface IssuedAccessToken {
  accessToken: string;
  clientId: string;
  via: 'refresh' | 'grant';
  /** The refresh token used (refresh) or issued (grant). */
  refreshToken: string;
  at: Date;
}

/** A running fake Accounts server. */
export interface FakeAccountsServer {
  /** `http://127.0.0.1:PORT`: the accounts URL to configure. */
  readonly url: string;
  /** The current behaviour (read-only view; change it with `configure`). */
  readonly settings: Readonly<FakeAccountsSettings>;
  /** Every request received, in order. */
  readonly requests: readonly FakeRequestRecord[];
  /** Every access token issued, in order. */
  readonly issuedAccessTokens: readonly IssuedAccessToken[];
  /** Registers a client (or changes its secret). */
  addClient(clientId: string, clientSecret: string): void;
  /** Issues a single-use grant code for a client, valid `ttlMs` [180000] ms, bound to `redirectUri` when given. */
  issueGrantCode(clientId: string, options?: { redirectUri?: string; ttlMs?: number }): string;
  /** Registers a refresh token for a client (a random one when not given) and returns it. */
  addRefreshToken(clientId: string, refreshToken?: string): string;
  /** Whether the server still accepts this refresh token. */
  isRefreshTokenValid(refreshToken: string): boolean;
  /** Changes the behaviour. */
  configure(patch: Partial<FakeAccountsSettings>): void;
  /** Sets the failure mode, for the next `times` requests only when given (then back to `none`). */
  setFailure(mode: FakeFailureMode, times?: number): void;
  /** Requests received: all; `'revoke'` for revocations; `'consent'` for consent steps; else those of that `grant_type`. */
  count(kind?: string): number;
  /** Forgets the recorded requests (not the clients or tokens). */
  resetRequests(): void;
  /**
   * Resolves once `count(kind)` reaches `n` (at once if it has): a request
   * counts as soon as it is recorded, before it is answered.
   */
  received(n: number, kind?: string): Promise<void>;
  /**
   * Holds every answer (after recording its request) until the returned
   * function is called: a slow provider whose answer comes on a test's signal.
   * `delayMs` still applies after the release.
   */
  hold(): () => void;
  /** Closes the server and every connection, hung ones included. */
  close(): Promise<void>;
}

const TOKEN_PATH = '/oauth/v2/token';
const REVOKE_PATH = '/oauth/v2/token/revoke';
const AUTH_PATH = '/oauth/v2/auth';
const MAX_BODY = 1024 * 1024;

/** Starts a fake Accounts server on 127.0.0.1 (a free port). Call `close()` when done. */
export async function startFakeAccountsServer(options: FakeAccountsServerOptions = {}): Promise<FakeAccountsServer> {
  const settings: FakeAccountsSettings = {
    rotateRefreshTokens: options.rotateRefreshTokens ?? false,
    delayMs: options.delayMs ?? 0,
    expiresIn: options.expiresIn ?? 3600,
    useExpiresInSec: options.useExpiresInSec ?? false,
    apiDomain: options.apiDomain ?? 'https://www.zohoapis.com',
    consentDecision: options.consentDecision ?? 'approve',
    consentAccountsServer: options.consentAccountsServer ?? null,
    consentLocation: options.consentLocation ?? 'us',
  };
  let failure: FakeFailureMode = options.failure ?? 'none';
  let failuresLeft = Infinity;

  const clients = new Map<string, string>();
  const refreshTokens = new Map<string, string>(); // refresh token → client id
  const grantCodes = new Map<string, { clientId: string; redirectUri?: string; expiresAt: number; host?: string }>();
  /** Refresh tokens usable only at one host (those of a code the consent step bound to a data center). */
  const refreshHosts = new Map<string, string>();
  const revokedAccessTokens = new Set<string>();
  const requests: FakeRequestRecord[] = [];
  const issuedAccessTokens: IssuedAccessToken[] = [];
  const sockets = new Set<Socket>();
  /** This server's own URL (known once it listens). */
  let ownUrl = '';
  const closing = new AbortController();
  let held: Promise<void> | null = null;
  const arrivals: Array<{ n: number; kind: string | undefined; resolve: () => void }> = [];

  const token = (prefix = '1000') => `${prefix}.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;

  function takeFailure(): FakeFailureMode {
    if (failure === 'none') return 'none';
    const mode = failure;
    failuresLeft -= 1;
    if (failuresLeft <= 0) {
      failure = 'none';
      failuresLeft = Infinity;
    }
    return mode;
  }

  function issue(clientId: string, via: 'refresh' | 'grant', refreshToken: string): Record<string, unknown> {
    const accessToken = token();
    issuedAccessTokens.push({ accessToken, clientId, via, refreshToken, at: new Date() });
    return {
      access_token: accessToken,
      api_domain: settings.apiDomain,
      token_type: 'Bearer',
      [settings.useExpiresInSec ? 'expires_in_sec' : 'expires_in']: settings.expiresIn,
    };
  }

  function tokenEndpoint(params: URLSearchParams, host: string | null): Record<string, unknown> {
    const clientId = params.get('client_id');
    if (!clientId || !clients.has(clientId) || clients.get(clientId) !== params.get('client_secret')) return { error: 'invalid_client' };
    switch (params.get('grant_type')) {
      case 'refresh_token': {
        const used = params.get('refresh_token') ?? '';
        if (refreshTokens.get(used) !== clientId) return { error: 'invalid_code' };
        if (refreshHosts.has(used) && refreshHosts.get(used) !== host) return { error: 'invalid_code' };
        if (!settings.rotateRefreshTokens) return issue(clientId, 'refresh', used);
        const next = token();
        refreshTokens.delete(used);
        refreshTokens.set(next, clientId);
        return { ...issue(clientId, 'refresh', used), refresh_token: next };
      }
      case 'authorization_code': {
        const code = params.get('code') ?? '';
        const grant = grantCodes.get(code);
        if (!grant || grant.clientId !== clientId) return { error: 'invalid_code' };
        grantCodes.delete(code); // single-use, even when what follows fails
        if (grant.expiresAt < Date.now()) return { error: 'invalid_code' };
        if (grant.host !== undefined && grant.host !== host) return { error: 'invalid_code' };
        const redirectUri = params.get('redirect_uri');
        if (grant.redirectUri !== undefined && redirectUri !== null && redirectUri !== grant.redirectUri) return { error: 'invalid_redirect_uri' };
        const refreshToken = token();
        refreshTokens.set(refreshToken, clientId);
        if (grant.host !== undefined) refreshHosts.set(refreshToken, grant.host);
        return { ...issue(clientId, 'grant', refreshToken), refresh_token: refreshToken };
      }
      default:
        return { error: 'unsupported_grant_type' };
    }
  }

  function revokeEndpoint(params: URLSearchParams): Record<string, unknown> {
    const value = params.get('token') ?? '';
    if (refreshTokens.delete(value)) return { status: 'success' };
    if (issuedAccessTokens.some((t) => t.accessToken === value) && !revokedAccessTokens.has(value)) {
      revokedAccessTokens.add(value);
      return { status: 'success' };
    }
    return { error: 'invalid_code' };
  }

  async function readParams(req: http.IncomingMessage, url: URL): Promise<{ params: URLSearchParams; encoding: FakeRequestRecord['encoding'] }> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) throw new Error('body too large');
      chunks.push(chunk as Buffer);
    }
    const body = Buffer.concat(chunks);
    const params = new URLSearchParams(url.searchParams);
    const contentType = req.headers['content-type'] ?? '';
    let encoding: FakeRequestRecord['encoding'] = [...url.searchParams.keys()].length > 0 ? 'query' : 'none';
    if (body.length > 0) {
      if (/^application\/x-www-form-urlencoded/i.test(contentType)) {
        for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params.set(k, v);
        encoding = 'urlencoded';
      } else if (/^multipart\/form-data/i.test(contentType)) {
        const form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
        // forEach, not for…of: the project's `lib` has DOM without DOM.Iterable.
        form.forEach((v, k) => {
          if (typeof v === 'string') params.set(k, v);
        });
        encoding = 'multipart';
      } else {
        encoding = 'other';
      }
    }
    return { params, encoding };
  }

  function count(kind?: string): number {
    if (kind === undefined) return requests.length;
    if (kind === 'revoke') return requests.filter((r) => r.path === REVOKE_PATH).length;
    if (kind === 'consent') return requests.filter((r) => r.path === AUTH_PATH).length;
    return requests.filter((r) => r.grantType === kind).length;
  }

  function send(res: http.ServerResponse, status: number, body: string, contentType: string): void {
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  /** The consent step: the person approves at once (or declines); a 302 back to the redirect URI. */
  function consent(params: URLSearchParams, res: http.ServerResponse): void {
    const clientId = params.get('client_id');
    const redirectUri = params.get('redirect_uri');
    if (!clientId || !clients.has(clientId) || params.get('response_type') !== 'code' || !redirectUri) {
      return send(res, 400, '<html><body>Invalid authorization request</body></html>', 'text/html');
    }
    let target: URL;
    try {
      target = new URL(redirectUri);
    } catch {
      return send(res, 400, '<html><body>Invalid redirect_uri</body></html>', 'text/html');
    }
    const state = params.get('state');
    if (settings.consentDecision === 'deny') {
      target.searchParams.set('error', 'access_denied');
    } else {
      const dataCenter = settings.consentAccountsServer ?? ownUrl;
      const code = token();
      grantCodes.set(code, { clientId, redirectUri, expiresAt: Date.now() + 180_000, host: new URL(dataCenter).host });
      target.searchParams.set('code', code);
      target.searchParams.set('location', settings.consentLocation);
      target.searchParams.set('accounts-server', dataCenter);
    }
    if (state !== null) target.searchParams.set('state', state);
    res.writeHead(302, { location: target.toString(), 'content-length': '0' });
    res.end();
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const { params, encoding } = await readParams(req, url);
    const path = url.pathname;
    const record: FakeRequestRecord = {
      path,
      grantType: path === TOKEN_PATH ? params.get('grant_type') : null,
      clientId: params.get('client_id'),
      encoding,
      contentType: req.headers['content-type'] ?? null,
      accept: req.headers.accept ?? null,
      host: req.headers.host ?? null,
      at: new Date(),
      ...(path === AUTH_PATH
        ? {
            authorization: {
              responseType: params.get('response_type'),
              scope: params.get('scope'),
              redirectUri: params.get('redirect_uri'),
              accessType: params.get('access_type'),
              prompt: params.get('prompt'),
              codeChallenge: params.get('code_challenge'),
              hasState: params.has('state'),
            },
          }
        : {}),
    };
    requests.push(record);
    options.onRequest?.(record);
    for (const a of arrivals.filter((x) => count(x.kind) >= x.n)) {
      arrivals.splice(arrivals.indexOf(a), 1);
      a.resolve();
    }
    if (path === AUTH_PATH && req.method === 'GET') return consent(params, res);
    if (held) await Promise.race([held, new Promise((resolve) => closing.signal.addEventListener('abort', resolve, { once: true }))]);
    if (settings.delayMs > 0) await sleep(settings.delayMs, undefined, { signal: closing.signal });
    switch (takeFailure()) {
      case 'hang':
        return; // the socket is destroyed by close()
      case 'http500':
        return send(res, 500, '<html><body>Internal Server Error</body></html>', 'text/html');
      case 'notJson':
        return send(res, 200, '<html><body>Zoho Accounts is down for maintenance</body></html>', 'text/html');
      case 'invalidCode':
        return send(res, 200, JSON.stringify({ error: 'invalid_code' }), 'application/json');
      case 'accessDenied':
        return send(res, 200, JSON.stringify({ error: 'access_denied' }), 'application/json');
      case 'none':
        break;
    }
    if (req.method !== 'POST') return send(res, 405, JSON.stringify({ error: 'invalid_request' }), 'application/json');
    if (path === TOKEN_PATH) return send(res, 200, JSON.stringify(tokenEndpoint(params, req.headers.host ?? null)), 'application/json;charset=UTF-8');
    if (path === REVOKE_PATH) return send(res, 200, JSON.stringify(revokeEndpoint(params)), 'application/json;charset=UTF-8');
    return send(res, 404, '<html><body>Not Found</body></html>', 'text/html');
  }

  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (closing.signal.aborted || res.headersSent) return;
      send(res, 400, JSON.stringify({ error: 'invalid_request', detail: (err as Error).message }), 'application/json');
    });
  };
  const server = options.tls ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, listener) : http.createServer(listener);
  server.on(options.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  ownUrl = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;

  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    settings,
    requests,
    issuedAccessTokens,
    addClient(clientId, clientSecret) {
      clients.set(clientId, clientSecret);
    },
    issueGrantCode(clientId, opts = {}) {
      const code = token();
      grantCodes.set(code, {
        clientId,
        ...(opts.redirectUri === undefined ? {} : { redirectUri: opts.redirectUri }),
        expiresAt: Date.now() + (opts.ttlMs ?? 180_000),
      });
      return code;
    },
    addRefreshToken(clientId, refreshToken = token()) {
      refreshTokens.set(refreshToken, clientId);
      return refreshToken;
    },
    isRefreshTokenValid(refreshToken) {
      return refreshTokens.has(refreshToken);
    },
    configure(patch) {
      Object.assign(settings, patch);
    },
    setFailure(mode, times) {
      const none = times !== undefined && times <= 0;
      failure = none ? 'none' : mode;
      failuresLeft = none ? Infinity : (times ?? Infinity);
    },
    count,
    resetRequests() {
      requests.length = 0;
    },
    received(n, kind) {
      if (count(kind) >= n) return Promise.resolve();
      return new Promise((resolve) => arrivals.push({ n, kind, resolve }));
    },
    hold() {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      held = gate;
      return () => {
        if (held === gate) held = null;
        release();
      };
    },
    async close() {
      closing.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
