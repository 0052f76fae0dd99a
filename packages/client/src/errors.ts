/**
 * The error of every failed client call. `code` is the API's
 * `extensions.code` (`UNAUTHENTICATED`, `FORBIDDEN`, `BAD_USER_INPUT`,
 * `NOT_FOUND`, `REFRESH_FAILED`, `UPSTREAM_UNAVAILABLE`, `THROTTLED` (the
 * provider's issuing limits allow no new access token now: retry after
 * `retryAfter` seconds), `STORE_UNAVAILABLE` (the gateway's database does not
 * answer: retry after `retryAfter` seconds),
 * `INTERNAL_SERVER_ERROR`, graphql-js's `GRAPHQL_VALIDATION_FAILED`, …), or,
 * when no answer came, one of the client's own: `NETWORK_ERROR` (the gateway
 * could not be reached), `TIMEOUT`, `BAD_RESPONSE` (an answer that is not the
 * API's). The message never holds the API key or a secret.
 */
export class TokengateError extends Error {
  override readonly name = 'TokengateError';
  /** The API's `extensions.code`, or a client code (see the class comment). */
  readonly code: TokengateErrorCode;
  /** The provider's OAuth error code, with `REFRESH_FAILED` (e.g. `invalid_code`). */
  readonly oauthError: string | undefined;
  /** The HTTP status of the answer; undefined when none came. */
  readonly status: number | undefined;
  /**
   * Seconds to wait before retrying: the answer's `Retry-After` header (with
   * `STORE_UNAVAILABLE`), else the error's `extensions.retryAfter` (with
   * `THROTTLED`); undefined when neither.
   */
  readonly retryAfter: number | undefined;
  /** The gateway's `X-Request-Id` of the request, to find it in the gateway's log. */
  readonly requestId: string | undefined;
  /** Every error of the answer (the first is this one). */
  readonly errors: ReadonlyArray<{ message: string; code: string; path?: ReadonlyArray<string | number> }>;

  constructor(
    code: TokengateErrorCode,
    message: string,
    details: {
      oauthError?: string;
      status?: number;
      retryAfter?: number;
      requestId?: string;
      errors?: ReadonlyArray<{ message: string; code: string; path?: ReadonlyArray<string | number> }>;
      cause?: unknown;
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.oauthError = details.oauthError;
    this.status = details.status;
    this.retryAfter = details.retryAfter;
    this.requestId = details.requestId;
    this.errors = details.errors ?? [{ message, code }];
  }
}

/** The codes of the API contract, and the client's own. Other strings may come from newer gateways. */
export type TokengateErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'REFRESH_FAILED'
  | 'UPSTREAM_UNAVAILABLE'
  | 'THROTTLED'
  | 'STORE_UNAVAILABLE'
  | 'INTERNAL_SERVER_ERROR'
  | 'GRAPHQL_PARSE_FAILED'
  | 'GRAPHQL_VALIDATION_FAILED'
  | 'BAD_REQUEST'
  | 'NETWORK_ERROR'
  | 'TIMEOUT'
  | 'BAD_RESPONSE'
  | (string & {});

/** Whether `err` is a `TokengateError`, optionally of one of `codes`. */
export function isTokengateError(err: unknown, ...codes: TokengateErrorCode[]): err is TokengateError {
  return err instanceof TokengateError && (codes.length === 0 || codes.includes(err.code));
}
