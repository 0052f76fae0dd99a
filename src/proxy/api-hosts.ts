import { isLoopbackHost } from '../config';
import { ZOHO_API_ORIGINS } from '../oauth/data-centers';

/** Where a token's API calls may go: its `apiDomain` as an origin (and parsed, to connect to), or why not. */
export type ApiTarget = { ok: true; origin: string; url: URL } | { ok: false; host: string; reason: string };

/**
 * The API origins the proxy may call: the API domains of every Zoho data
 * center (production, sandbox, developer) plus `TOKENGATE_ALLOWED_API_HOSTS`.
 * Scheme, host and port all count; plain http only for a loopback host. A
 * token's `apiDomain` is whatever someone saved: nothing goes to a host that
 * is not on this list.
 */
export class ApiHostPolicy {
  private readonly allowed: ReadonlySet<string>;

  constructor(extra: readonly string[] = []) {
    this.allowed = new Set([...ZOHO_API_ORIGINS, ...extra].map((o) => o.toLowerCase()));
  }

  /** The origin to call for a token's `apiDomain` (parsed here, once), or a refusal naming the host. */
  target(apiDomain: string | null): ApiTarget {
    if (apiDomain === null || apiDomain.trim() === '') return { ok: false, host: '(none)', reason: 'the token has no apiDomain' };
    let url: URL;
    try {
      url = new URL(apiDomain.trim());
    } catch {
      return { ok: false, host: apiDomain.slice(0, 100), reason: "the token's apiDomain is not a URL" };
    }
    const host = url.host;
    if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
      return { ok: false, host, reason: "the token's apiDomain must be a bare origin (scheme, host and port)" };
    }
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) return { ok: false, host, reason: `plain http to ${host} is not allowed` };
    if (!this.allowed.has(url.origin.toLowerCase()))
      return { ok: false, host, reason: `${url.origin} is not an allowed API host (TOKENGATE_ALLOWED_API_HOSTS)` };
    return { ok: true, origin: url.origin, url };
  }
}
