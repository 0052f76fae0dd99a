/**
 * The browser side of the API proxy: `fetch` for `/api/{tokenId}/{path}`
 * with a proxy credential (from `issueProxyCredential`, minted by your
 * backend). No dependency, no token in the browser: the gateway injects it.
 *
 * ```ts
 * const crm = createProxyFetch({ gateway: 'https://tokengate.example.com', tokenId: '42', credential: () => fetch('/api/crm-credential').then((r) => r.json()) });
 * const res = await crm('/crm/v8/Leads?fields=Last_Name');
 * ```
 */

/** A credential as `issueProxyCredential` returns it (`expiresAt` as an ISO string or a Date), or the credential alone. */
export type ProxyCredentialLike = string | { credential: string; expiresAt?: string | Date | null };

export interface ProxyFetchOptions {
  /** The gateway's origin, e.g. `https://tokengate.example.com`. */
  gateway: string;
  /** The token whose API is called. */
  tokenId: string;
  /**
   * The credential, or a function that gets one from your backend: then it
   * is called first, again shortly before the credential expires, and once
   * more when the gateway answers `UNAUTHENTICATED` (the call is then retried once).
   */
  credential: ProxyCredentialLike | (() => Promise<ProxyCredentialLike>);
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof fetch;
}

/** The gateway's own error (not the provider's answer), from a response with a `Tokengate-Error` header; null otherwise. */
export async function gatewayError(res: Response): Promise<{ code: string; message: string } | null> {
  const code = res.headers.get('tokengate-error');
  if (!code) return null;
  const body = (await res
    .clone()
    .json()
    .catch(() => null)) as { error?: { message?: unknown } } | null;
  return { code, message: typeof body?.error?.message === 'string' ? body.error.message : code };
}

/** Renewed this long before it expires, so a call never leaves with a credential about to run out. */
const EARLY_MS = 5_000;

/**
 * A `fetch` for one token's API through the gateway: `path` is the
 * provider's path (`/crm/v8/Leads?…`), the rest is `fetch`'s. Resolves
 * with the provider's answer as it came (or the gateway's own error answer,
 * told by {@link gatewayError}).
 */
export function createProxyFetch(options: ProxyFetchOptions): (path: string, init?: RequestInit) => Promise<Response> {
  const base = `${options.gateway.replace(/\/+$/, '')}/api/${encodeURIComponent(options.tokenId)}`;
  // Called as a plain function: a browser's fetch called as a method of another object throws "Illegal invocation".
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const source = options.credential;
  let current: { credential: string; expiresAt: number } | null = null;
  let pending: Promise<string> | null = null;

  const adopt = (c: ProxyCredentialLike) => {
    current =
      typeof c === 'string'
        ? { credential: c, expiresAt: Infinity }
        : { credential: c.credential, expiresAt: c.expiresAt ? new Date(c.expiresAt).getTime() : Infinity };
    return current.credential;
  };
  const credential = (renew: boolean): Promise<string> => {
    if (typeof source !== 'function') return Promise.resolve(current?.credential ?? adopt(source));
    if (!renew && current && current.expiresAt - EARLY_MS > Date.now()) return Promise.resolve(current.credential);
    // Concurrent calls share one request to the backend.
    pending ??= source()
      .then(adopt)
      .finally(() => (pending = null));
    return pending;
  };

  return async (path, init = {}) => {
    if (!path.startsWith('/')) throw new TypeError('createProxyFetch: path must start with /');
    const send = async (renew: boolean) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${await credential(renew)}`);
      return doFetch(`${base}${path}`, { ...init, headers, credentials: 'omit' });
    };
    const res = await send(false);
    const body = init.body;
    const replayable =
      body === undefined ||
      body === null ||
      typeof body === 'string' ||
      body instanceof URLSearchParams ||
      body instanceof ArrayBuffer ||
      ArrayBuffer.isView(body) ||
      (typeof Blob !== 'undefined' && body instanceof Blob) ||
      (typeof FormData !== 'undefined' && body instanceof FormData);
    if (res.status === 401 && res.headers.get('tokengate-error') === 'UNAUTHENTICATED' && typeof source === 'function' && replayable) return send(true);
    return res;
  };
}
