import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import https from 'node:https';
import { Readable, Transform, pipeline } from 'node:stream';
import type { AuditActor } from '../audit/audit';
import type { ProxyConfig } from '../config';
import type { Logger } from '../logger';
import type { RefreshEngine } from '../oauth/refresh-engine';
import type { ProviderProfile } from '../providers/provider';
import type { ProviderRegistry } from '../providers/provider-registry';
import type { Principal } from '../resolvers/context.type';
import type { ApiKeys } from '../server/api-keys';
import type { AuthFailureLog } from '../server/auth-failures';
import type { Metrics } from '../server/metrics';
import { tokenStatus } from '../stores/token-status';
import type { Token } from '../stores/token';
import type { TokenStore } from '../stores/token-store';
import type { ApiHostPolicy } from './api-hosts';
import type { ProxyAudit } from './proxy-audit';
import { grantRefusal, type ProxyCredentials, type ProxyGrant } from './proxy-credentials';
import { ProxyError, bodyTooLarge, proxyError, sendProxyError, toProxyError, upstreamTimeout } from './proxy-errors';
import { authorizationFor, forwardedRequestHeaders, isInvalidTokenAnswer, returnedResponseHeaders } from './proxy-headers';
import { parseApiTarget, requestTarget } from './proxy-path';
import { ReadBufferReclaimer } from './read-buffer-reclaimer';

/** Where the proxy is mounted. */
export const API_PREFIX = '/api/';

/** Methods forwarded (CONNECT, TRACE and the like are not). */
const FORWARDED_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** Methods a preflight is told about. */
const CORS_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';
/** The largest 401 body read to tell an invalid token from another refusal. */
const MAX_REFUSAL_BODY = 64 * 1024;

export interface ApiProxyOptions {
  config: ProxyConfig;
  /** `TOKENGATE_CORS_ORIGINS`: browser origins that may call `/api/`. */
  corsOrigins: readonly string[];
  store: TokenStore;
  engine: RefreshEngine;
  /** A token's provider profile (how its access token is presented). */
  providers: Pick<ProviderRegistry, 'require'>;
  apiKeys: ApiKeys;
  credentials: ProxyCredentials;
  hosts: ApiHostPolicy;
  metrics: Metrics;
  audit: ProxyAudit;
  logger: Logger;
  /** The refresh-ahead window: a token inside it is refreshed before it is used. */
  refreshAheadMs: number;
}

/** What the mount knows of a request that the proxy does not parse itself. */
export interface RequestMeta {
  requestId: string;
  receivedAt: Date;
  /** The caller's address as the mount sees it (logged with a refused key or credential). */
  remoteAddress?: string | undefined;
  /** Where a refused key or credential (a 401) is counted and logged: the HTTP app's log, shared with its other routes. */
  authFailures?: Pick<AuthFailureLog, 'record'>;
}

/** Who is calling: an API key, or a proxy credential (with what it grants). */
type Caller = { kind: 'key'; principal: Principal; actor: AuditActor } | { kind: 'credential'; grant: ProxyGrant; actor: AuditActor };

/** What is sent upstream for one request, the same for a replay: the token's API origin (parsed once), the request target, the caller's headers, its provider's profile. */
interface UpstreamCall {
  method: string;
  origin: URL;
  /** Path and query, as {@link requestTarget} gives them. */
  path: string;
  callerHeaders: IncomingMessage['headers'];
  /** The token's provider profile: the scheme its access token is sent in. */
  profile: ProviderProfile;
}

/** A request body as it goes upstream. */
type Body = { kind: 'none' } | { kind: 'buffered'; data: Buffer } | { kind: 'stream'; stream: Readable; length: number | null };

/**
 * The API proxy: `/api/{tokenId}/{path}` forwarded to the token's API
 * domain with its access token injected. Works on Node's own request and
 * response objects, so any HTTP framework mounts it (the mount hands over
 * the raw request with its body unread).
 *
 * Order of a call: CORS preflight; path; caller (API key or proxy
 * credential); the token (unknown, `FAILED`, a host not allowed: answered
 * here, nothing sent); the access token (`refresh(id, force: false)`); the
 * request body (buffered up to the replay limit, else streamed); the call;
 * on Zoho's `INVALID_OAUTHTOKEN` with a buffered body, one replay with a
 * token other than the refused one; the answer streamed back.
 */
export class ApiProxy {
  private readonly agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: 256 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: 256 }),
  };

  /** Shared by every stream through this proxy, both ways. */
  private readonly reclaimer = new ReadBufferReclaimer();

  constructor(private readonly o: ApiProxyOptions) {}

  /** Answers one request under `/api/`. Never rejects. */
  async handle(req: IncomingMessage, res: ServerResponse, meta: RequestMeta): Promise<void> {
    const started = process.hrtime.bigint();
    let audited: { tokenId: string; actor: AuditActor } | null = null;
    res.once('close', () => {
      const statusClass = res.writableFinished ? `${Math.floor(res.statusCode / 100)}xx` : 'aborted';
      this.o.metrics.proxyRequests.inc({ status_class: statusClass });
      this.o.metrics.proxyDuration.observe({ status_class: statusClass }, Number(process.hrtime.bigint() - started) / 1e9);
      if (audited) this.o.audit.record(audited.tokenId, audited.actor, statusClass);
    });
    res.setHeader('X-Request-Id', meta.requestId);
    if (this.cors(req, res)) return;
    try {
      const target = parseApiTarget(req.url ?? '/', API_PREFIX);
      if (!target.ok) throw proxyError('BAD_REQUEST', target.message);
      const method = (req.method ?? 'GET').toUpperCase();
      if (!FORWARDED_METHODS.has(method)) throw proxyError('BAD_REQUEST', `the method ${method.slice(0, 16)} is not forwarded`);
      const caller = this.authenticate(req.headers.authorization, meta);
      if (caller.kind === 'credential') {
        const refusal = grantRefusal(caller.grant, target.tokenId, method, target.path);
        if (refusal) throw proxyError('FORBIDDEN', refusal);
      }
      const declared = contentLength(req);
      if (declared !== null && declared > this.o.config.bodyLimitBytes) throw bodyTooLarge(this.o.config.bodyLimitBytes);

      let token = await this.o.store.findTokenById(target.tokenId);
      if (!token) throw proxyError('NOT_FOUND', `no token has id ${JSON.stringify(target.tokenId)}`);
      audited = { tokenId: token.id, actor: caller.actor };
      const status = tokenStatus(token, Date.now(), this.o.refreshAheadMs);
      if (status === 'FAILED')
        throw proxyError('REFRESH_FAILED', `the token needs re-authorization (its last refresh was refused: ${token.lastError ?? 'unknown_error'})`);
      // The API origin, parsed once: checked before anything is refreshed or sent when the token names one, else once a
      // refresh has filled it (a refresh's api_domain never replaces a stored one, so it holds for the replay too).
      let origin = token.apiDomain !== null ? this.allowedOrigin(token.apiDomain) : null;
      // Its provider decides how the access token is presented (a provider no longer registered: 409, as a refresh would answer).
      const profile = await this.o.providers.require(token.provider);
      if (status !== 'ACTIVE') {
        token = await this.o.engine.refresh(token.id, { force: false, trigger: 'proxy', actor: caller.actor, arrivedAt: meta.receivedAt });
      } else {
        // A refresh in flight here (e.g. after the provider refused this access token) answers with the token to use.
        const flight = this.o.engine.inFlight(token.id);
        if (flight) token = await flight.catch(() => token!);
      }
      origin ??= this.allowedOrigin(token.apiDomain);
      const call: UpstreamCall = { method, origin, path: requestTarget(target.path, target.query), callerHeaders: req.headers, profile };
      const body = await this.readBody(req, declared);

      let answer = await this.send(call, token, body, res);
      if (answer.statusCode === 401) {
        const refusal = await readHead(answer, MAX_REFUSAL_BODY);
        if (refusal.rest === null && isInvalidTokenAnswer(401, answer.headers, refusal.head)) {
          const refused = token.accessToken!;
          if (body.kind === 'stream') {
            // Not replayable: the caller gets the 401, and the next call a new token.
            this.o.engine.refresh(token.id, { refused, trigger: 'proxy', actor: caller.actor }).catch(() => undefined);
            return this.respond(answer, res, method, refusal);
          }
          const fresh = await this.o.engine.refresh(token.id, { refused, trigger: 'proxy', actor: caller.actor });
          if (fresh.accessToken === refused || !fresh.accessToken) return this.respond(answer, res, method, refusal);
          this.o.logger.info({ reqId: meta.requestId, tokenId: token.id }, 'the provider refused the access token; replaying with a new one');
          answer = await this.send(call, fresh, body, res);
        } else {
          return this.respond(answer, res, method, refusal);
        }
      }
      return this.respond(answer, res, method, null);
    } catch (err) {
      const answer = toProxyError(err);
      if (answer.code === 'INTERNAL_SERVER_ERROR')
        this.o.logger.error(
          { reqId: meta.requestId, err: { name: (err as Error)?.name, code: (err as { code?: unknown })?.code, stack: (err as Error)?.stack } },
          'API proxy request failed',
        );
      else if (answer.status >= 500) this.o.logger.warn({ reqId: meta.requestId, code: answer.code, status: answer.status }, answer.message);
      sendProxyError(res, answer);
    }
  }

  /** Stops the keep-alive connections to providers. */
  close(): void {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }

  /**
   * CORS for `/api/` from `TOKENGATE_CORS_ORIGINS`. Allowed origins get
   * `Access-Control-Allow-Origin` on every answer; a preflight is answered
   * here (true: nothing more to do), never forwarded. No cookies are ever
   * involved: callers authenticate with a bearer.
   */
  private cors(req: IncomingMessage, res: ServerResponse): boolean {
    const origin = req.headers.origin;
    const allowed = typeof origin === 'string' && this.o.corsOrigins.includes(origin);
    if (allowed) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Expose-Headers', 'X-Request-Id, Tokengate-Error, Retry-After, WWW-Authenticate');
      res.setHeader('Vary', 'Origin');
    }
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (!preflight) return false;
    if (allowed) {
      res.setHeader('Access-Control-Allow-Methods', CORS_METHODS);
      const asked = req.headers['access-control-request-headers'];
      // Any header may be asked for: the gateway drops those it does not forward, and no cookie is involved.
      if (typeof asked === 'string' && /^[A-Za-z0-9!#$%&'*+.^_`|~, -]{1,1024}$/.test(asked)) res.setHeader('Access-Control-Allow-Headers', asked);
      res.setHeader('Access-Control-Max-Age', '600');
    }
    res.statusCode = 204;
    res.setHeader('Content-Length', '0');
    res.end();
    return true;
  }

  /** The caller. @throws 401 `UNAUTHENTICATED` (counted and logged in `meta.authFailures`), 403 for a role that may not call the proxy. */
  private authenticate(authorization: string | undefined, meta: RequestMeta): Caller {
    const { requestId } = meta;
    const refused = (message: string, expired = false) => {
      meta.authFailures?.record({
        authorization,
        ...(expired ? { reason: 'expired' as const } : {}),
        route: 'api',
        remoteAddress: meta.remoteAddress,
        requestId,
      });
      return proxyError('UNAUTHENTICATED', message);
    };
    if (!authorization) throw refused('An API key or a proxy credential is required: Authorization: Bearer <key or credential>');
    const principal = this.o.apiKeys.authenticate(authorization);
    if (principal) {
      if (principal.role !== 'operator' && principal.role !== 'admin') throw proxyError('FORBIDDEN', `the ${principal.role} role may not call the API proxy`);
      return { kind: 'key', principal, actor: { role: principal.role, name: principal.keyName, requestId } };
    }
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    const check = m ? this.o.credentials.verify(m[1]!) : ({ ok: false, reason: 'malformed' } as const);
    if (!check.ok) {
      throw check.reason === 'expired' ? refused('The proxy credential has expired', true) : refused('The API key or proxy credential is not valid');
    }
    const { issuedBy } = check.grant;
    return { kind: 'credential', grant: check.grant, actor: { role: issuedBy.role, name: `${issuedBy.name}:credential`.slice(0, 64), requestId } };
  }

  /** The origin to call for a token's `apiDomain`, parsed. @throws FORBIDDEN naming the host when it is not an allowed API host. */
  private allowedOrigin(apiDomain: string | null): URL {
    const target = this.o.hosts.target(apiDomain);
    if (!target.ok) throw proxyError('FORBIDDEN', `the token's API host ${target.host} may not be called: ${target.reason}`);
    return target.url;
  }

  /**
   * The request body: none; buffered when it fits the replay limit (so the
   * call can be replayed); else streamed, counted against the body limit.
   */
  private async readBody(req: IncomingMessage, declared: number | null): Promise<Body> {
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if (!chunked && (declared === null || declared === 0)) return { kind: 'none' };
    const { replayLimitBytes: replayLimit, bodyLimitBytes: bodyLimit } = this.o.config;
    if (declared !== null && declared > replayLimit) return { kind: 'stream', stream: req.pipe(limitTo(bodyLimit, this.reclaimer)), length: declared };
    const it = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const chunks: Buffer[] = [];
    let size = 0;
    for (;;) {
      const next = await it.next();
      if (next.done) return { kind: 'buffered', data: Buffer.concat(chunks, size) };
      chunks.push(next.value);
      size += next.value.length;
      if (size > bodyLimit) throw bodyTooLarge(bodyLimit);
      if (size > replayLimit) break;
    }
    // Longer than the replay limit (only a chunked body gets here): what was read, then the rest as it comes.
    const rest = async function* () {
      yield* chunks;
      for (;;) {
        const next = await it.next();
        if (next.done) return;
        yield next.value;
      }
    };
    return { kind: 'stream', stream: Readable.from(rest()).pipe(limitTo(bodyLimit, this.reclaimer)), length: null };
  }

  /**
   * One call to the provider. Resolves with its answer once the headers
   * came. @throws 504 when it does not start answering within the timeout,
   * 502 when it cannot be reached, 413 when a streamed body outgrows the limit.
   */
  private send(call: UpstreamCall, token: Token, body: Body, res: ServerResponse): Promise<IncomingMessage> {
    const { method, origin } = call;
    const headers: OutgoingHttpHeaders = forwardedRequestHeaders(call.callerHeaders);
    headers.authorization = authorizationFor(call.profile, token.accessToken!);
    if (body.kind === 'buffered') headers['content-length'] = body.data.length;
    else if (body.kind === 'stream' && body.length !== null) headers['content-length'] = body.length;
    const timeoutMs = this.o.config.timeoutMs;
    return new Promise<IncomingMessage>((resolve, reject) => {
      // The parsed origin gives protocol, host and port; the path is the request target as checked.
      const upstream = (origin.protocol === 'https:' ? https : http).request(origin, {
        method,
        path: call.path,
        headers,
        agent: this.agents[origin.protocol as 'http:' | 'https:'],
      });
      let settled = false;
      const fail = (err: ProxyError) => {
        if (settled) return;
        settled = true;
        upstream.destroy();
        reject(err);
      };
      // Idle timeout: no answer yet, or no next bytes of the answer, for this long.
      upstream.setTimeout(timeoutMs, () => {
        if (!settled) fail(upstreamTimeout(timeoutMs));
        else upstream.destroy(new Error('the provider stopped sending'));
      });
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof ProxyError) return fail(err);
        fail(proxyError('UPSTREAM_UNAVAILABLE', `the provider could not be reached (${err.code ?? 'error'})`));
      });
      upstream.on('response', (answer) => {
        if (settled) return answer.destroy();
        settled = true;
        resolve(answer);
      });
      // The caller left: so does the call.
      const onClose = () => {
        if (!res.writableFinished) upstream.destroy();
      };
      res.once('close', onClose);
      upstream.once('close', () => res.off('close', onClose));
      if (body.kind === 'none') upstream.end();
      else if (body.kind === 'buffered') upstream.end(body.data);
      else {
        body.stream.once('error', (err) => fail(err instanceof ProxyError ? err : proxyError('BAD_REQUEST', 'the request body could not be read')));
        body.stream.pipe(upstream);
      }
    });
  }

  /** Sends the provider's answer back: status, returned headers, the body streamed (the part already read first). */
  private respond(answer: IncomingMessage, res: ServerResponse, method: string, prefetched: Prefetched | null): void {
    const headers = returnedResponseHeaders(answer.headers);
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v!);
    if (res.hasHeader('access-control-allow-origin')) {
      res.setHeader('Access-Control-Expose-Headers', ['X-Request-Id', 'Tokengate-Error', ...Object.keys(headers)].join(', '));
    }
    res.statusCode = answer.statusCode ?? 502;
    if (method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304) {
      answer.resume();
      res.end();
      return;
    }
    answer.on('data', (chunk: Buffer) => this.reclaimer.passed(chunk.length));
    if (!prefetched) {
      pipeline(answer, res, () => undefined);
      return;
    }
    if (prefetched.rest === null) {
      res.end(prefetched.head);
      return;
    }
    if (prefetched.head.length > 0) res.write(prefetched.head);
    pipeline(prefetched.rest, res, () => undefined);
  }
}

/** The declared `Content-Length`, or null. @throws 400 for a malformed one. */
function contentLength(req: IncomingMessage): number | null {
  const v = req.headers['content-length'];
  if (v === undefined) return null;
  if (!/^\d{1,15}$/.test(v)) throw proxyError('BAD_REQUEST', 'Content-Length is malformed');
  return Number(v);
}

/** A pass-through that fails with 413 once more than `limit` bytes went through. */
function limitTo(limit: number, reclaimer: ReadBufferReclaimer): Transform {
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      reclaimer.passed(chunk.length);
      if (size > limit) cb(bodyTooLarge(limit));
      else cb(null, chunk);
    },
  });
}

/** The start of an answer's body, read to look at it, and the rest when there is more. */
interface Prefetched {
  head: Buffer;
  /** The rest of the body, unread; null when `head` is all of it. */
  rest: Readable | null;
}

/** Reads an answer's body up to `max` bytes; what follows (a larger body) stays unread in `rest`. */
async function readHead(answer: IncomingMessage, max: number): Promise<Prefetched> {
  const declared = answer.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) return { head: Buffer.alloc(0), rest: answer };
  const it = answer[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    const next = await it.next();
    if (next.done) return { head: Buffer.concat(chunks, size), rest: null };
    chunks.push(next.value);
    size += next.value.length;
    if (size > max) break;
  }
  const rest = async function* () {
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield next.value;
    }
  };
  return { head: Buffer.concat(chunks, size), rest: Readable.from(rest()) };
}
