import { accountsUrlForApiDomain } from './data-centers';
import { AccountsUrlNotAllowedError } from './oauth-errors';

/**
 * Normalizes an accounts URL to its origin: `scheme://host[:port]`, host in
 * lower case (IDNs in punycode), default port dropped, no trailing slash.
 *
 * Refuses, with {@link AccountsUrlNotAllowedError}, anything that is not an
 * absolute `http:`/`https:` URL, or that carries credentials
 * (`https://accounts.zoho.eu@evil.com`), a query, a fragment (even empty:
 * `https://host?`) or a path other than `/`. The error names the origin only,
 * or nothing of the input when it does not parse as an http(s) URL (a token
 * pasted into the wrong field must not end up in a message).
 *
 * @example normalizeAccountsUrl(' HTTPS://Accounts.Zoho.EU:443/ ') === 'https://accounts.zoho.eu'
 */
export function normalizeAccountsUrl(raw: string): string {
  if (typeof raw !== 'string') throw new AccountsUrlNotAllowedError(null, 'is not a string');
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new AccountsUrlNotAllowedError(null, 'is not an absolute http(s) URL such as https://accounts.zoho.com');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new AccountsUrlNotAllowedError(null, 'is not an absolute http(s) URL such as https://accounts.zoho.com');
  }
  const origin = url.origin;
  if (url.username !== '' || url.password !== '') throw new AccountsUrlNotAllowedError(origin, 'must not carry credentials');
  // `search`/`hash` are empty for a bare `?`/`#`: look at the serialization too.
  if (url.search !== '' || url.href.includes('?')) throw new AccountsUrlNotAllowedError(origin, 'must not carry a query');
  if (url.hash !== '' || url.href.includes('#')) throw new AccountsUrlNotAllowedError(origin, 'must not carry a fragment');
  if (url.pathname !== '/' && url.pathname !== '')
    throw new AccountsUrlNotAllowedError(origin, 'must not carry a path (give the origin only, e.g. https://accounts.zoho.com)');
  return origin;
}

/** Options of {@link AccountsUrlPolicy}. */
export interface AccountsUrlPolicyOptions {
  /** The accounts URL of a token that names none and whose API domain names no data center (`TOKENGATE_ACCOUNTS_URL`). */
  defaultAccountsUrl: string;
  /** The accounts URLs the gateway may post client secrets to (`TOKENGATE_ALLOWED_ACCOUNTS_URLS`); the default is always added. */
  allowed: readonly string[];
}

/**
 * Decides which Accounts server a token is refreshed at, and refuses every
 * server outside the allow-list: the gateway never posts a client secret and
 * a refresh token to a host someone typed into a mutation
 * (`shared/spec/oauth.md`, "Endpoints").
 *
 * Comparison is exact on the normalized origin ({@link normalizeAccountsUrl}):
 * `https://accounts.zoho.eu.evil.com`, `https://accounts.zoho.eu@evil.com`
 * and `http://accounts.zoho.eu` are all different from `https://accounts.zoho.eu`.
 */
export class AccountsUrlPolicy {
  /** The normalized default accounts URL. */
  readonly defaultAccountsUrl: string;
  /** The normalized allow-list, the default included, without duplicates. */
  readonly allowed: readonly string[];
  private readonly allowedSet: ReadonlySet<string>;

  /**
   * @throws TypeError when the default or an allow-list entry is not an
   *   http(s) origin (a configuration error, found at start).
   */
  constructor(options: AccountsUrlPolicyOptions) {
    const normalize = (raw: string, what: string): string => {
      try {
        return normalizeAccountsUrl(raw);
      } catch (err) {
        throw new TypeError(`${what}: ${(err as Error).message}`, { cause: err });
      }
    };
    this.defaultAccountsUrl = normalize(options.defaultAccountsUrl, 'defaultAccountsUrl');
    const allowed = new Set(options.allowed.map((u, i) => normalize(u, `allowed[${i}]`)));
    allowed.add(this.defaultAccountsUrl);
    this.allowedSet = allowed;
    this.allowed = Object.freeze([...allowed]);
  }

  /** Registered generic providers' endpoints (exact URLs), by provider name. */
  private readonly providerEndpoints = new Map<string, ReadonlySet<string>>();

  /**
   * Sets the endpoints a generic provider may receive a client secret at
   * (its token and revocation URLs); an empty list removes the provider.
   * Called by the provider registry whenever a provider is loaded, saved or deleted.
   */
  setProviderEndpoints(provider: string, urls: readonly string[]): void {
    if (urls.length === 0) this.providerEndpoints.delete(provider);
    else this.providerEndpoints.set(provider, new Set(urls));
  }

  /**
   * Re-checks a generic provider's endpoint right before a request is sent:
   * only that registered provider's own token or revocation URL passes.
   * @throws AccountsUrlNotAllowedError otherwise (naming the origin only).
   */
  assertProviderEndpoint(provider: string, url: string): void {
    if (this.providerEndpoints.get(provider)?.has(url)) return;
    let origin: string | null = null;
    try {
      origin = new URL(url).origin;
    } catch {
      // named as nothing
    }
    throw new AccountsUrlNotAllowedError(origin, `is not an endpoint of the registered provider ${provider}`);
  }

  /** Normalizes `raw` (see {@link normalizeAccountsUrl}); does not check the allow-list. */
  normalizeAccountsUrl(raw: string): string {
    return normalizeAccountsUrl(raw);
  }

  /** Whether `raw` normalizes to an origin on the allow-list; never throws. */
  isAllowed(raw: string): boolean {
    try {
      return this.allowedSet.has(normalizeAccountsUrl(raw));
    } catch {
      return false;
    }
  }

  /**
   * Re-checks an accounts URL right before a request is sent to it.
   * @returns the normalized origin, the only form a request URL is built from.
   * @throws AccountsUrlNotAllowedError when it is malformed or not on the allow-list.
   */
  assertAllowed(raw: string): string {
    const origin = normalizeAccountsUrl(raw);
    if (!this.allowedSet.has(origin)) throw new AccountsUrlNotAllowedError(origin, 'is not on the allow-list (TOKENGATE_ALLOWED_ACCOUNTS_URLS)');
    return origin;
  }

  /**
   * The accounts URL a token is fixed to when first saved (`oauth.md`):
   * 1. `accountsUrl` when given (null and undefined count as not given; an
   *    empty string is given, and refused as malformed);
   * 2. else the data center that `apiDomain` names (production, `sandbox.`
   *    or `developer.` API domain), when it is a Zoho API domain;
   * 3. else the default.
   * The result must be on the allow-list — the default always is; a data
   * center the operator left off the list is refused, not replaced.
   * @returns the normalized origin.
   * @throws AccountsUrlNotAllowedError when the chosen URL is malformed or not allowed.
   */
  resolve(input: { accountsUrl?: string | null; apiDomain?: string | null }): string {
    if (input.accountsUrl !== undefined && input.accountsUrl !== null) return this.assertAllowed(input.accountsUrl);
    if (input.apiDomain !== undefined && input.apiDomain !== null) {
      const dataCenter = accountsUrlForApiDomain(input.apiDomain);
      if (dataCenter !== null) return this.assertAllowed(dataCenter);
    }
    return this.defaultAccountsUrl;
  }
}
