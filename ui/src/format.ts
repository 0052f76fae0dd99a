/** Words for people: statuses, provider errors, data centers, durations. */

export const STATUSES = ['ACTIVE', 'EXPIRING', 'EXPIRED', 'PENDING_GRANT', 'THROTTLED', 'FAILED'] as const;
export type Status = (typeof STATUSES)[number];

export const STATUS_LABEL: Record<Status, string> = {
  ACTIVE: 'Active',
  EXPIRING: 'Expiring',
  EXPIRED: 'Expired',
  PENDING_GRANT: 'Pending grant',
  THROTTLED: 'Throttled',
  FAILED: 'Failed',
};

export const STATUS_HELP: Record<Status, string> = {
  ACTIVE: 'The access token is valid.',
  EXPIRING: 'The access token expires soon; it will be refreshed.',
  EXPIRED: 'No valid access token; the next call refreshes it.',
  PENDING_GRANT: 'Only a grant code is held; the first refresh exchanges it.',
  THROTTLED: "The provider's issuing limit is reached; refreshes resume when the window opens.",
  FAILED: 'The provider no longer accepts this connection: reconnect it.',
};

const ERROR_WORDS: Record<string, string> = {
  invalid_code: 'Zoho no longer accepts this refresh token: reconnect',
  invalid_grant: 'The provider no longer accepts this refresh token: reconnect',
  invalid_client: 'The provider does not recognise the client id or secret',
  invalid_client_secret: 'The client secret is wrong',
  unauthorized_client: 'The client may not use this grant',
  access_denied: 'The provider refused: too many requests or access withdrawn',
  invalid_redirect_uri: 'The redirect URL does not match the one registered at the provider',
  invalid_scope: 'The provider refused the requested scopes',
  unreachable: 'The provider could not be reached',
  UPSTREAM_UNAVAILABLE: 'The provider could not be reached',
  // Why no usable answer came (the engine's reasons, src/oauth/oauth-errors.ts): the audit trail's UNAVAILABLE entries.
  timeout: 'The provider did not answer in time',
  network: 'The provider could not be reached',
  http_5xx: 'The provider answered with a server error',
  not_json: 'The provider’s answer was not JSON (an error page, or cut short)',
  rate_limited: 'The provider asked to slow down (too many requests)',
  provider_unavailable: 'The provider reported a temporary failure of its own',
  invalid_response: 'The provider’s answer could not be used',
};

/** A provider error code, or why no usable answer came, in plain words (the code itself when unknown). */
export function errorWords(code: string | null | undefined): string {
  if (!code) return '';
  const words = ERROR_WORDS[code];
  if (words) return words;
  const status = /^http_(\d{3})$/.exec(code);
  if (status) return `The provider answered HTTP ${status[1]}`;
  return `The provider answered “${code}”`;
}

const DATA_CENTERS: Record<string, string> = {
  'accounts.zoho.com': 'US',
  'accounts.zoho.eu': 'EU',
  'accounts.zoho.in': 'IN',
  'accounts.zoho.com.cn': 'CN',
  'accounts.zoho.com.au': 'AU',
  'accounts.zoho.jp': 'JP',
  'accounts.zohocloud.ca': 'CA',
  'accounts.zoho.sa': 'SA',
  'accounts.zoho.uk': 'UK',
};

/** "Zoho · EU" from a provider name and an accounts URL. */
export function providerLabel(provider: string | null | undefined, accountsUrl: string | null | undefined): string {
  const name = !provider || provider === 'zoho' ? 'Zoho' : provider;
  if (!accountsUrl) return name;
  try {
    const host = new URL(accountsUrl).hostname;
    const dc = DATA_CENTERS[host];
    return dc ? `${name} · ${dc}` : `${name} · ${host}`;
  } catch {
    return name;
  }
}

/** "in 42 min", "3 h ago", … relative to `now`. */
export function relative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const ms = Date.parse(iso) - now;
  const abs = Math.abs(ms);
  const unit =
    abs < 60_000
      ? `${Math.round(abs / 1000)} s`
      : abs < 3_600_000
        ? `${Math.round(abs / 60_000)} min`
        : abs < 86_400_000
          ? `${Math.round(abs / 3_600_000)} h`
          : `${Math.round(abs / 86_400_000)} d`;
  return ms >= 0 ? `in ${unit}` : `${unit} ago`;
}

/** "Retry after 15:04 (in 42 min)": when a THROTTLED token may be refreshed again (with the date when that is not today). */
export function retryWords(iso: string, now = Date.now()): string {
  const at = new Date(iso);
  const today = at.toDateString() === new Date(now).toDateString();
  const when = today ? at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : at.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
  return `Retry after ${when} (${relative(iso, now)})`;
}

/** A local date and time for a title attribute. */
export function absolute(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : '';
}

/** The governor's remaining budget of a token, as the API's `Token.budget` gives it. */
export interface BudgetLike {
  accessTokensLeft: number;
  accessTokensPerWindow: number;
  windowSeconds: number;
  resetsAt: string | null;
  nextAt: string | null;
}

/** "7 of 10 left", "0 of 10 left · next in 4 min"; "—" where the provider has no such limit. */
export function budgetWords(budget: BudgetLike | null | undefined, now = Date.now()): string {
  if (!budget) return '—';
  const left = `${budget.accessTokensLeft} of ${budget.accessTokensPerWindow} left`;
  return budget.nextAt ? `${left} · next ${relative(budget.nextAt, now)}` : left;
}

/** The budget's explanation for a title attribute. */
export function budgetHelp(budget: BudgetLike | null | undefined, now = Date.now()): string {
  if (!budget) return 'The provider puts no limit on access tokens per window.';
  const window = budget.windowSeconds % 60 === 0 ? `${budget.windowSeconds / 60} min` : `${budget.windowSeconds} s`;
  const whole = budget.resetsAt ? ` All ${budget.accessTokensPerWindow} are available again ${relative(budget.resetsAt, now)}.` : '';
  return `Access tokens the provider still issues for this connection in any ${window}.${whole}`;
}
