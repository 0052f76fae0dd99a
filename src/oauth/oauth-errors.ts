/**
 * The typed errors of the provider client (`src/oauth/`).
 *
 * Every failure of a call to the provider's Accounts server is one of:
 * - {@link ProviderRefusedError} (`PROVIDER_REFUSED`): the provider answered
 *   with an OAuth error code (RFC 6749 §5.2), e.g. `invalid_code`;
 * - {@link UpstreamUnavailableError} (`UPSTREAM_UNAVAILABLE`): no usable
 *   answer — a timeout, a network error, a 5xx, a body that is not JSON;
 * - {@link InvalidResponseError} (`INVALID_RESPONSE`), a kind of
 *   `UpstreamUnavailableError`: the provider answered, but the answer breaks
 *   the protocol (no `access_token`, no usable `expires_in`, an unexpected status);
 * - {@link AccountsUrlNotAllowedError} (`ACCOUNTS_URL_NOT_ALLOWED`): the
 *   accounts URL is malformed or outside the allow-list; nothing was sent.
 *
 * Rules every error here follows:
 * - no message contains a client secret, an access, refresh or grant token,
 *   or a grant code: messages name field names, HTTP statuses, URL origins
 *   and (sanitized) OAuth error codes only;
 * - the raw answer, when kept, is the non-enumerable {@link OAuthError.response}
 *   (with token-like fields redacted), so `JSON.stringify(err)` or a logger
 *   that copies enumerable properties never dumps a body.
 */

/** The codes of {@link OAuthError}, as constants. */
export const OAuthErrorCode = {
  PROVIDER_REFUSED: 'PROVIDER_REFUSED',
  UPSTREAM_UNAVAILABLE: 'UPSTREAM_UNAVAILABLE',
  ACCOUNTS_URL_NOT_ALLOWED: 'ACCOUNTS_URL_NOT_ALLOWED',
  INVALID_RESPONSE: 'INVALID_RESPONSE',
} as const;
/** One of {@link OAuthErrorCode}. */
export type OAuthErrorCode = (typeof OAuthErrorCode)[keyof typeof OAuthErrorCode];

/**
 * The provider's answer as kept on an error: the HTTP status and the body
 * text, truncated to {@link MAX_KEPT_BODY} characters, with the values of
 * token-like JSON fields replaced by `"[redacted]"`.
 */
export interface RawResponse {
  readonly status: number;
  readonly body: string;
}

/** The most characters of a body that an error keeps. */
export const MAX_KEPT_BODY = 2048;

/** Options common to every {@link OAuthError}. */
export interface OAuthErrorOptions {
  /** The low-level error (a fetch `TypeError`, an abort reason); kept as the standard `cause`. */
  cause?: unknown;
  /** The provider's answer, when there was one; kept non-enumerable and redacted. */
  response?: { status: number; body: string };
}

/**
 * The base of every error of the provider client. Callers branch on
 * `instanceof` of a subclass or on {@link OAuthError.code}.
 */
export class OAuthError extends Error {
  override readonly name: string = 'OAuthError';
  /**
   * The provider's answer (status and redacted, truncated body), when there
   * was one. Non-enumerable: `JSON.stringify` and loggers skip it.
   */
  declare readonly response?: RawResponse;

  constructor(
    /** What kind of failure this is; see {@link OAuthErrorCode}. */
    readonly code: OAuthErrorCode,
    message: string,
    options: OAuthErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (options.response) {
      Object.defineProperty(this, 'response', {
        value: Object.freeze({ status: options.response.status, body: redactBody(options.response.body) }),
        enumerable: false,
        writable: false,
        configurable: false,
      });
    }
  }
}

/**
 * The provider refused the request with an OAuth error code (RFC 6749 §5.2;
 * Zoho answers these with HTTP 200). For the token used, every code is
 * permanent except `access_denied`, Zoho's rate limit, which is a back-off.
 * A refusal is never retried by the client.
 */
export class ProviderRefusedError extends OAuthError {
  override readonly name: string = 'ProviderRefusedError';
  declare readonly code: 'PROVIDER_REFUSED';
  /**
   * The provider's error code, e.g. `invalid_code`, `invalid_client`,
   * `invalid_redirect_uri`, `access_denied`. A value that is not a plain code
   * (letters, digits, `_ . -`, at most 64 characters) becomes `unknown_error`,
   * so a provider echoing input here cannot smuggle it into a message.
   */
  readonly oauthError: string;
  /** False only for `access_denied` (Zoho's rate limit: back off and try later); true otherwise. */
  readonly permanent: boolean;
  /** The HTTP status the refusal came with (200 at Zoho, 400/401 elsewhere). */
  readonly status: number;

  constructor(oauthError: string, status: number, options: OAuthErrorOptions = {}) {
    const code = sanitizeOAuthErrorCode(oauthError);
    super(OAuthErrorCode.PROVIDER_REFUSED, `the provider refused the request: ${code} (HTTP ${status})`, options);
    this.oauthError = code;
    this.permanent = code !== 'access_denied';
    this.status = status;
  }
}

/**
 * Why the provider gave no usable answer:
 * - `timeout`: an attempt ran past its timeout (the request may have arrived);
 * - `network`: the connection failed (refused, reset, DNS, TLS);
 * - `http_5xx`: the provider answered with a 5xx status;
 * - `not_json`: the body is not JSON (a proxy's HTML page, a truncated answer);
 * - `rate_limited`: HTTP 429 without an OAuth error code;
 * - `provider_unavailable`: the OAuth error code `server_error` or
 *   `temporarily_unavailable` (the provider's own failure, not a verdict on the token);
 * - `invalid_response`: see {@link InvalidResponseError}.
 */
export type UpstreamUnavailableReason = 'timeout' | 'network' | 'http_5xx' | 'not_json' | 'rate_limited' | 'provider_unavailable' | 'invalid_response';

/** Options of {@link UpstreamUnavailableError}. */
export interface UpstreamUnavailableOptions extends OAuthErrorOptions {
  /** The HTTP status, when the provider answered. */
  status?: number;
  /** How many attempts were made before giving up (set by the client). */
  attempts?: number;
  /**
   * For `network`: whether the request surely never reached the provider
   * (the connection was refused or the name did not resolve), which makes
   * even a single-use grant exchange safe to retry.
   */
  notSent?: boolean;
}

/**
 * The provider could not be reached or gave no usable answer. The token
 * involved must be left unchanged; the client has already retried it as far
 * as was safe (see `AccountsClient`).
 */
export class UpstreamUnavailableError extends OAuthError {
  override readonly name: string = 'UpstreamUnavailableError';
  declare readonly code: 'UPSTREAM_UNAVAILABLE' | 'INVALID_RESPONSE';
  /** Why; see {@link UpstreamUnavailableReason}. */
  readonly reason: UpstreamUnavailableReason;
  /** The HTTP status, when the provider answered. */
  readonly status?: number;
  /** How many attempts were made (set by `AccountsClient` on the error it finally throws). */
  attempts?: number;
  /** For `network` errors: the request surely did not reach the provider. */
  readonly notSent: boolean;

  constructor(
    reason: UpstreamUnavailableReason,
    message: string,
    options: UpstreamUnavailableOptions = {},
    code: 'UPSTREAM_UNAVAILABLE' | 'INVALID_RESPONSE' = OAuthErrorCode.UPSTREAM_UNAVAILABLE,
  ) {
    super(code, message, options);
    this.reason = reason;
    if (options.status !== undefined) this.status = options.status;
    if (options.attempts !== undefined) this.attempts = options.attempts;
    this.notSent = options.notSent ?? false;
  }
}

/**
 * The provider answered, but the answer breaks the protocol: a success
 * without a non-empty `access_token` or a usable `expires_in`, a field of
 * the wrong type, an unexpected HTTP status. Code `INVALID_RESPONSE`.
 *
 * It extends {@link UpstreamUnavailableError} (reason `invalid_response`) on
 * purpose: the caller must treat it as "no usable answer" and leave the
 * token unchanged, never as a refusal that marks it failed. Unlike the other
 * transient failures it is not retried: the provider did answer (and may have
 * counted the request against its rate limit or consumed a grant code).
 */
export class InvalidResponseError extends UpstreamUnavailableError {
  override readonly name: string = 'InvalidResponseError';
  declare readonly code: 'INVALID_RESPONSE';
  /** The response field at fault (e.g. `access_token`), when one is; never its value. */
  readonly field?: string;

  constructor(message: string, options: UpstreamUnavailableOptions & { field?: string } = {}) {
    super('invalid_response', message, options, OAuthErrorCode.INVALID_RESPONSE);
    if (options.field !== undefined) this.field = options.field;
  }
}

/**
 * An accounts URL is malformed or not on the allow-list, so nothing was
 * sent to it. The message names the URL's origin only (never its path,
 * query or credentials), or nothing of it when it does not parse.
 */
export class AccountsUrlNotAllowedError extends OAuthError {
  override readonly name: string = 'AccountsUrlNotAllowedError';
  declare readonly code: 'ACCOUNTS_URL_NOT_ALLOWED';
  /** The normalized origin that was refused, or null when the input was not an http(s) URL. */
  readonly origin: string | null;

  constructor(origin: string | null, problem: string) {
    super(OAuthErrorCode.ACCOUNTS_URL_NOT_ALLOWED, origin === null ? `the accounts URL ${problem}` : `the accounts URL ${origin} ${problem}`);
    this.origin = origin;
  }
}

const OAUTH_ERROR_CODE = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * An OAuth error code as it may appear in a message: the provider's value
 * when it is a plain code, else `unknown_error`.
 */
export function sanitizeOAuthErrorCode(value: unknown): string {
  return typeof value === 'string' && OAUTH_ERROR_CODE.test(value) ? value : 'unknown_error';
}

/** Keys (JSON or form fields) whose values an error never keeps. */
const SECRET_KEY = /token|secret|code|password|assertion/i;

/**
 * A `key=value` pair of a form-encoded body (`application/x-www-form-urlencoded`,
 * as some providers answer, or a query string quoted in a text body): the
 * key starts the text or follows `&`, `;`, `?` or white space; the value runs
 * to the next `&`, `;`, `#` or white space.
 */
const FORM_PAIR = /(^|[&;?\s])([^&;?#=\s]+)=([^&;#\s]*)/g;

/** A form field's name as sent (`access%5Ftoken`, `client+secret` decode first). */
function formKey(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

/**
 * A body as an error keeps it: truncated to {@link MAX_KEPT_BODY} characters,
 * with the values of token-like keys (`access_token`, `refresh_token`,
 * `id_token`, `code`, `client_secret`, `code_verifier`, …) replaced by
 * `"[redacted]"`: JSON fields when it is JSON, else `key=value` pairs (a
 * form-encoded body).
 */
export function redactBody(body: string): string {
  let kept = body;
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed !== null && typeof parsed === 'object') {
      kept = JSON.stringify(parsed, (key, value: unknown) =>
        key !== '' && SECRET_KEY.test(key) && (typeof value === 'string' || typeof value === 'number') ? '[redacted]' : value,
      );
    }
  } catch {
    // Not JSON: form-encoded (or text quoting such pairs).
    kept = body.replace(FORM_PAIR, (pair, lead: string, key: string, value: string) =>
      value !== '' && SECRET_KEY.test(formKey(key)) ? `${lead}${key}=[redacted]` : pair,
    );
  }
  return kept.length > MAX_KEPT_BODY ? `${kept.slice(0, MAX_KEPT_BODY)}…` : kept;
}
