/**
 * Zoho's data centers: each has its own Accounts server (where tokens are
 * issued and refreshed) and its own API domain (`shared/spec/oauth.md`,
 * "Endpoints"). A token issued in one data center is refreshed only there.
 */

/** The code of a Zoho data center. */
export type ZohoDataCenterCode = 'US' | 'EU' | 'IN' | 'CN' | 'AU' | 'JP' | 'CA' | 'SA' | 'UK';

/** One Zoho data center: its Accounts server and its API domain, both as origins. */
export interface ZohoDataCenter {
  readonly code: ZohoDataCenterCode;
  /** The Accounts server's origin, e.g. `https://accounts.zoho.eu`. */
  readonly accountsUrl: string;
  /** The API domain's origin, e.g. `https://www.zohoapis.eu`. */
  readonly apiDomain: string;
}

/** Every Zoho data center (Zoho's multi-DC list, the United Kingdom last). */
export const ZOHO_DATA_CENTERS: readonly ZohoDataCenter[] = Object.freeze(
  (
    [
      { code: 'US', accountsUrl: 'https://accounts.zoho.com', apiDomain: 'https://www.zohoapis.com' },
      { code: 'EU', accountsUrl: 'https://accounts.zoho.eu', apiDomain: 'https://www.zohoapis.eu' },
      { code: 'IN', accountsUrl: 'https://accounts.zoho.in', apiDomain: 'https://www.zohoapis.in' },
      { code: 'CN', accountsUrl: 'https://accounts.zoho.com.cn', apiDomain: 'https://www.zohoapis.com.cn' },
      { code: 'AU', accountsUrl: 'https://accounts.zoho.com.au', apiDomain: 'https://www.zohoapis.com.au' },
      { code: 'JP', accountsUrl: 'https://accounts.zoho.jp', apiDomain: 'https://www.zohoapis.jp' },
      { code: 'CA', accountsUrl: 'https://accounts.zohocloud.ca', apiDomain: 'https://www.zohoapis.ca' },
      { code: 'SA', accountsUrl: 'https://accounts.zoho.sa', apiDomain: 'https://www.zohoapis.sa' },
      { code: 'UK', accountsUrl: 'https://accounts.zoho.uk', apiDomain: 'https://www.zohoapis.uk' },
    ] as const
  ).map((dc) => Object.freeze({ ...dc })),
);

/** The Accounts server origins of every Zoho data center (the default allow-list). */
export const ZOHO_ACCOUNTS_URLS: readonly string[] = Object.freeze(ZOHO_DATA_CENTERS.map((dc) => dc.accountsUrl));

/** The host prefixes of a data center's API domains: production (`www.`), `sandbox.` and `developer.`. */
const API_HOST_PREFIXES = ['www.', 'sandbox.', 'developer.'] as const;

/** API host (lower case) → Accounts server origin. */
const ACCOUNTS_BY_API_HOST: ReadonlyMap<string, string> = new Map(
  ZOHO_DATA_CENTERS.flatMap((dc) => {
    const base = new URL(dc.apiDomain).hostname.replace(/^www\./, '');
    return API_HOST_PREFIXES.map((prefix) => [`${prefix}${base}`, dc.accountsUrl] as const);
  }),
);

/** Every API origin of every data center: production, `sandbox.` and `developer.` (the proxy's default allow-list). */
export const ZOHO_API_ORIGINS: readonly string[] = Object.freeze([...ACCOUNTS_BY_API_HOST.keys()].map((host) => `https://${host}`));

/**
 * The Accounts server of the data center an API domain belongs to.
 *
 * Accepts the production, `sandbox.` and `developer.` API domains of every
 * data center (`https://www.zohoapis.eu`, `https://sandbox.zohoapis.eu`,
 * `https://developer.zohoapis.com`), in any letter case, ignoring any
 * path; a bare host (`www.zohoapis.eu`) is read as `https://`.
 * The host must match exactly: `www.zohoapis.eu.evil.com` is not Zoho's.
 *
 * @returns the Accounts origin, e.g. `https://accounts.zoho.eu`; `null` when
 *   the domain is not a Zoho API domain (another provider, a malformed URL,
 *   plain `http:`, a non-default port or credentials in the URL).
 */
export function accountsUrlForApiDomain(apiDomain: string): string | null {
  if (typeof apiDomain !== 'string') return null;
  const trimmed = apiDomain.trim();
  if (trimmed === '') return null;
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' || url.port !== '' || url.username !== '' || url.password !== '') return null;
  return ACCOUNTS_BY_API_HOST.get(url.hostname) ?? null;
}
