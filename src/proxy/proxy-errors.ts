import type { ServerResponse } from 'node:http';
import { STORE_UNAVAILABLE_MESSAGE, STORE_UNAVAILABLE_RETRY_AFTER_SECONDS, TokenStoreError } from '../errors';
import { apiErrorOf } from '../server/error-format';

/** The codes the proxy itself answers with (the API's codes), each with its HTTP status. */
export const PROXY_ERROR_STATUS = {
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  /** The token's state prevents a call: `FAILED` (needs re-authorization) … */
  REFRESH_FAILED: 409,
  /** … or nothing to get an access token with. */
  BAD_USER_INPUT: 409,
  THROTTLED: 429,
  INTERNAL_SERVER_ERROR: 500,
  UPSTREAM_UNAVAILABLE: 502,
  STORE_UNAVAILABLE: 503,
} as const;
export type ProxyErrorCode = keyof typeof PROXY_ERROR_STATUS;

/** An answer of the gateway itself (not the provider's): `{"error":{"code","message"}}` plus `Tokengate-Error: <code>`. */
export class ProxyError extends Error {
  override readonly name = 'ProxyError';
  constructor(
    readonly status: number,
    readonly code: ProxyErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export const proxyError = (code: ProxyErrorCode, message: string, headers?: Record<string, string>) =>
  new ProxyError(PROXY_ERROR_STATUS[code], code, message, headers);

/** 413 (`BAD_REQUEST`): the request body is over the limit. */
export const bodyTooLarge = (limit: number) =>
  new ProxyError(413, 'BAD_REQUEST', `The request body is larger than ${limit} bytes (TOKENGATE_PROXY_BODY_LIMIT)`);

/** 504 (`UPSTREAM_UNAVAILABLE`): the provider did not answer in time. */
export const upstreamTimeout = (ms: number) => new ProxyError(504, 'UPSTREAM_UNAVAILABLE', `The provider did not answer within ${ms} ms`);

const STORE_RETRY_AFTER = String(STORE_UNAVAILABLE_RETRY_AFTER_SECONDS);

/**
 * The one mapping from what the token service, the refresh engine and the
 * store throw to the proxy's answers. Unknown errors become a generic 500
 * (the caller logs them).
 */
export function toProxyError(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err;
  // Domain errors (a refused, throttled or unreachable refresh, …) and ServiceErrors: the API's own mapping.
  const api = apiErrorOf(err);
  if (api) {
    const code = api.code as string;
    if (code === 'THROTTLED') {
      const retryAfter = Number(api.extensions.retryAfter);
      return proxyError('THROTTLED', api.message, Number.isFinite(retryAfter) && retryAfter >= 0 ? { 'Retry-After': String(Math.ceil(retryAfter)) } : {});
    }
    if (code === 'STORE_UNAVAILABLE') return proxyError('STORE_UNAVAILABLE', api.message, { 'Retry-After': STORE_RETRY_AFTER });
    if (code in PROXY_ERROR_STATUS && code !== 'INTERNAL_SERVER_ERROR') return proxyError(code as ProxyErrorCode, api.message);
  }
  if (err instanceof TokenStoreError && err.kind === 'UNAVAILABLE') {
    return proxyError('STORE_UNAVAILABLE', STORE_UNAVAILABLE_MESSAGE, { 'Retry-After': STORE_RETRY_AFTER });
  }
  return proxyError('INTERNAL_SERVER_ERROR', 'Internal server error');
}

/** Writes a gateway error answer, unless the response has started (then it is cut off). */
export function sendProxyError(res: ServerResponse, err: ProxyError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: { code: err.code, message: err.message } });
  res.statusCode = err.status;
  for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  res.setHeader('Tokengate-Error', err.code);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  if (err.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
  res.end(body);
}
