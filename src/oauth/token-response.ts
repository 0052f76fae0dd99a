/**
 * Processors of the Accounts server's answers (`shared/spec/oauth.md`,
 * "Responses"). Pure: they take a status and a body text, as received, and
 * return the checked result or throw a typed error from `./oauth-errors`.
 * Tests feed them canned answers; the `AccountsClient` feeds them real ones.
 *
 * How an answer is classified, in this order:
 * 1. a 5xx status → `UpstreamUnavailableError('http_5xx')`, whatever the
 *    body says: a failing server's verdict is not a verdict on the token
 *    (a 500 carrying `{"error":"…"}` must not mark a token failed for good);
 * 2. a 3xx → `InvalidResponseError`: the client never follows a redirect
 *    (a 307 would re-post the client secret to wherever `Location` points),
 *    and a redirecting accounts URL is a configuration mistake, not a hiccup;
 * 3. a body that is not JSON (any other status) → `UpstreamUnavailableError('not_json')`;
 * 4. a JSON object with an `error` key → a failure whatever the status (Zoho
 *    answers HTTP 200, other providers 400/401): `ProviderRefusedError` with
 *    the code (RFC 6749 §5.2), except `server_error` and
 *    `temporarily_unavailable`, the provider's own trouble →
 *    `UpstreamUnavailableError('provider_unavailable')`;
 * 5. HTTP 429 without an error code → `UpstreamUnavailableError('rate_limited')`;
 * 6. any other status outside 2xx (a 404, a 1xx) → `InvalidResponseError`;
 * 7. a 2xx success: every field is asserted (RFC 6749 §5.1), see {@link processTokenResponse}.
 */
import { InvalidResponseError, ProviderRefusedError, UpstreamUnavailableError } from './oauth-errors';

/** A successful answer of the token endpoint, checked. */
export interface TokenGrant {
  /** The new access token (non-empty). */
  accessToken: string;
  /** When the access token expires: the time the request was sent plus `expires_in`; null when the provider did not say (allowed only where the profile says so). */
  expiresAt: Date | null;
  /** A refresh token: always after a grant exchange at Zoho; after a refresh only at a provider that rotates them. */
  refreshToken?: string;
  /** The API domain the provider named (`api_domain`), as an origin, e.g. `https://www.zohoapis.eu`. */
  apiDomain?: string;
  /** The token type (`token_type`), `Bearer` at Zoho; `Bearer` when the answer names none. */
  tokenType: string;
}

/** Options of {@link processTokenResponse}. */
export interface TokenResponseOptions {
  /** Whether a success must carry `expires_in`/`expires_in_sec` [true]; false: absent means unknown (RFC 6749 §5.1 makes it optional). */
  expiryRequired?: boolean;
}

/** The largest lifetime accepted, in seconds (ten years): anything larger is a unit mistake. */
export const MAX_EXPIRES_IN_SECONDS = 10 * 365 * 24 * 3600;

/** OAuth error codes that say the provider, not the token, is in trouble. */
const TRANSIENT_OAUTH_ERRORS: ReadonlySet<string> = new Set(['server_error', 'temporarily_unavailable']);

/**
 * Checks an answer of the token endpoint (a refresh or a grant exchange).
 *
 * A success must carry a non-empty string `access_token` and a lifetime in
 * seconds: `expires_in_sec` or `expires_in`, each a positive number or a
 * numeric string. When both are present `expires_in_sec` wins: Zoho's older
 * answers carried `expires_in` in milliseconds beside `expires_in_sec` in
 * seconds. `expiresAt` is `sentAt` plus that lifetime — counted from when the
 * request was sent, so the answer's time in flight never makes a token look
 * fresher than it is. `refresh_token`, `api_domain` and `token_type` are
 * optional; when present (not null) they must be non-empty strings, and
 * `api_domain` an http(s) URL (returned as its origin).
 *
 * @param status the HTTP status of the answer.
 * @param bodyText the body as received.
 * @param sentAt when the request was sent (taken just before the attempt).
 * @throws ProviderRefusedError the provider refused (`invalid_code`, `invalid_client`, `access_denied`, …).
 * @throws UpstreamUnavailableError no usable answer (`http_5xx`, `not_json`, `rate_limited`, `provider_unavailable`).
 * @throws InvalidResponseError a success that breaks the protocol (a missing `access_token` or lifetime, a wrong type).
 */
export function processTokenResponse(status: number, bodyText: string, sentAt: Date, options: TokenResponseOptions = {}): TokenGrant {
  if (!(sentAt instanceof Date) || Number.isNaN(sentAt.getTime())) throw new TypeError('sentAt must be a valid Date');
  const json = classify(status, bodyText);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw invalid(status, bodyText, 'the token endpoint answered with JSON that is not an object');
  }
  const body = json as Record<string, unknown>;

  const accessToken = body.access_token;
  if (typeof accessToken !== 'string' || accessToken.length === 0) {
    throw invalid(status, bodyText, 'the token endpoint answered without a non-empty access_token', 'access_token');
  }

  const lifetimeField = present(body.expires_in_sec) ? 'expires_in_sec' : 'expires_in';
  const seconds = parseExpiresIn(body[lifetimeField]);
  const absent = !present(body.expires_in_sec) && !present(body.expires_in);
  if (seconds === null && !(absent && options.expiryRequired === false)) {
    throw invalid(status, bodyText, `the token endpoint answered without a usable ${lifetimeField} (a positive number of seconds)`, lifetimeField);
  }

  const grant: TokenGrant = {
    accessToken,
    expiresAt: seconds === null ? null : new Date(sentAt.getTime() + Math.round(seconds * 1000)),
    tokenType: 'Bearer',
  };
  if (present(body.token_type)) grant.tokenType = nonEmptyString(body.token_type, 'token_type', status, bodyText);
  if (present(body.refresh_token)) grant.refreshToken = nonEmptyString(body.refresh_token, 'refresh_token', status, bodyText);
  if (present(body.api_domain)) {
    const origin = httpOrigin(body.api_domain);
    if (origin === null) throw invalid(status, bodyText, 'the token endpoint answered with an api_domain that is not an http(s) URL', 'api_domain');
    grant.apiDomain = origin;
  }
  return grant;
}

/**
 * Checks an answer of the revocation endpoint (RFC 7009 §2.2). A 2xx with an
 * empty body or a JSON body without an `error` key is a success (Zoho answers
 * 200; the content is not otherwise meaningful). Failures are classified as
 * for {@link processTokenResponse} (an unknown token may come back as
 * `ProviderRefusedError('invalid_code')`, which a caller deleting the token
 * may take as "already revoked").
 *
 * @throws ProviderRefusedError, UpstreamUnavailableError, InvalidResponseError as above.
 */
export function processRevokeResponse(status: number, bodyText: string): void {
  if (status < 500 && bodyText.trim() === '') {
    classifyStatus(status, bodyText);
    return;
  }
  classify(status, bodyText);
}

/**
 * A lifetime in seconds from `expires_in`/`expires_in_sec`: a finite positive
 * number, or a string holding one in decimal notation; at most
 * {@link MAX_EXPIRES_IN_SECONDS}. @returns null when absent or unusable.
 */
export function parseExpiresIn(value: unknown): number | null {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value)) n = Number(value);
  else return null;
  return Number.isFinite(n) && n > 0 && n <= MAX_EXPIRES_IN_SECONDS ? n : null;
}

/**
 * Steps 1–6 of the module's classification; throws on every failure.
 * @returns the parsed JSON of a 2xx answer without an `error` key.
 */
function classify(status: number, bodyText: string): unknown {
  if (!Number.isInteger(status) || status < 100 || status > 599) throw new TypeError('status must be an HTTP status code');
  if (status >= 500) {
    throw new UpstreamUnavailableError('http_5xx', `the provider answered HTTP ${status}`, { status, response: { status, body: bodyText } });
  }
  if (status >= 300 && status < 400) {
    throw invalid(status, bodyText, `the provider answered with a redirect (HTTP ${status}), which is never followed: check the accounts URL`);
  }
  let json: unknown;
  try {
    json = JSON.parse(bodyText);
  } catch {
    throw new UpstreamUnavailableError('not_json', `the provider answered HTTP ${status} with a body that is not JSON`, {
      status,
      response: { status, body: bodyText },
    });
  }
  if (json !== null && typeof json === 'object' && !Array.isArray(json) && present((json as Record<string, unknown>).error)) {
    const error = new ProviderRefusedError(String((json as Record<string, unknown>).error), status, { response: { status, body: bodyText } });
    if (TRANSIENT_OAUTH_ERRORS.has(error.oauthError)) {
      throw new UpstreamUnavailableError('provider_unavailable', `the provider reported its own failure: ${error.oauthError} (HTTP ${status})`, {
        status,
        response: { status, body: bodyText },
      });
    }
    throw error;
  }
  classifyStatus(status, bodyText);
  return json;
}

/** Steps 5–6: throws for a status that is neither 2xx nor handled before. */
function classifyStatus(status: number, bodyText: string): void {
  if (status === 429) {
    throw new UpstreamUnavailableError('rate_limited', 'the provider answered HTTP 429 (too many requests)', { status, response: { status, body: bodyText } });
  }
  if (status < 200 || status >= 300) throw invalid(status, bodyText, `the provider answered with an unexpected HTTP status ${status}`);
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function nonEmptyString(value: unknown, field: string, status: number, bodyText: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw invalid(status, bodyText, `the token endpoint answered with a ${field} that is not a non-empty string`, field);
  return value;
}

function httpOrigin(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  try {
    const url = new URL(value.trim());
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '') return null;
    return url.origin;
  } catch {
    return null;
  }
}

function invalid(status: number, bodyText: string, message: string, field?: string): InvalidResponseError {
  return new InvalidResponseError(message, { status, response: { status, body: bodyText }, ...(field === undefined ? {} : { field }) });
}
