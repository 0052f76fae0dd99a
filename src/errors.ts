/**
 * The few error classes of tokengate and the public codes they map to.
 *
 * Error *codes* are public (they are the `extensions.code` of the GraphQL
 * contract); the classes are internal. No message built here ever contains a
 * secret value: callers pass field names, ids and provider error codes only.
 */

/** Codes of the GraphQL contract (`shared/spec/graphql-api.md`, "Errors"). */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  REFRESH_FAILED: 'REFRESH_FAILED',
  UPSTREAM_UNAVAILABLE: 'UPSTREAM_UNAVAILABLE',
  /** The governor will not mint now and no valid access token is held: `extensions.retryAfter` in seconds. */
  THROTTLED: 'THROTTLED',
  /** A connect would mint one refresh token too many for that user and client. */
  REFRESH_TOKEN_LIMIT: 'REFRESH_TOKEN_LIMIT',
  /** The token store (database) does not answer: retry later (HTTP 503 with `Retry-After`); nothing was changed. */
  STORE_UNAVAILABLE: 'STORE_UNAVAILABLE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The message of `STORE_UNAVAILABLE`, the same wherever the outage is noticed. */
export const STORE_UNAVAILABLE_MESSAGE = 'The token store is unavailable; try again later';

/** Seconds a caller is told to wait (`Retry-After`) before retrying after `STORE_UNAVAILABLE`. */
export const STORE_UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/** The operations of a `TokenStore`, named in its errors. */
export type StoreOperation =
  | 'open'
  | 'findToken'
  | 'saveToken'
  | 'deleteToken'
  | 'getTokens'
  | 'deleteTokens'
  | 'findTokenById'
  | 'listTokens'
  | 'countTokens'
  | 'searchTokens'
  | 'countByStatus'
  | 'acquireLease'
  | 'releaseLease'
  | 'findRefreshCandidates'
  | 'appendAudit'
  | 'listAudit'
  | 'pruneAudit'
  | 'keyUsage'
  | 'reencrypt'
  | 'ping'
  | 'listProviders'
  | 'saveProvider'
  | 'deleteProvider'
  | 'governor'
  | 'listClients'
  | 'findClient'
  | 'saveClient'
  | 'deleteClient'
  | 'reencryptClients'
  | 'savePendingConnect'
  | 'takePendingConnect'
  | 'prunePendingConnects';

/**
 * Why a store operation failed:
 * - `INVALID_INPUT`: the caller's input breaks a rule (empty partial, a token without any token, a malformed id);
 * - `CONFLICT`: the write would make a duplicate (a secret or user name that belongs to another token) or lost a race;
 * - `UNAVAILABLE`: the database could not be reached or timed out, or kept rolling a write back as a lost race (retryable);
 * - `INTERNAL`: anything else (a bug, a corrupt row, a wrong key).
 */
export type StoreErrorKind = 'INVALID_INPUT' | 'CONFLICT' | 'UNAVAILABLE' | 'INTERNAL';

/**
 * Every failure of a `TokenStore` (Zoho's `SDKException` with code `TOKEN_STORE`).
 * Names the operation and keeps the cause; the stored data is as it was before.
 */
export class TokenStoreError extends Error {
  override readonly name = 'TokenStoreError';
  constructor(
    readonly operation: StoreOperation,
    readonly kind: StoreErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${operation}: ${message}`, options);
  }

  /** The user-facing part of the message, without the operation prefix. */
  get detail(): string {
    return this.message.slice(this.operation.length + 2);
  }
}

/** Raised when configuration is invalid; its message is the one line printed at start. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
  }
}

/** The encryption key cannot decrypt what is stored (a wrong or missing key). */
export class KeyMismatchError extends Error {
  override readonly name = 'KeyMismatchError';
}

/*
 * Domain errors: what went wrong, with its facts. Messages are written for the
 * caller (no secret, no internal detail); the server maps each class to a code.
 */

/** The request cannot be carried out as asked (the caller's input: a token without credentials, a bad value). */
export class InvalidRequestError extends Error {
  override readonly name = 'InvalidRequestError';
}

/** No token has the id. */
export class TokenNotFoundError extends Error {
  override readonly name = 'TokenNotFoundError';
}

/**
 * The provider refused a refresh with `oauthError` (e.g. `invalid_code`);
 * `permanent` when the token is now `FAILED` and needs re-authorization.
 */
export class RefreshRefusedError extends Error {
  override readonly name = 'RefreshRefusedError';
  constructor(
    readonly oauthError: string,
    readonly permanent: boolean,
  ) {
    super(`the provider refused the refresh (${oauthError}); the token needs re-authorization`);
  }
}

/** The provider (or another process's refresh) did not answer in time; the token is unchanged. */
export class ProviderUnavailableError extends Error {
  override readonly name = 'ProviderUnavailableError';
  constructor(
    message: string,
    /** Why, when the provider was asked: `timeout`, `network`, `http_503`, … */
    readonly reason: string | null = null,
  ) {
    super(message);
  }
}

/** The provider's issuing limits allow no new access token now and none valid is held: retry in `retryAfter` seconds. */
export class ThrottledError extends Error {
  override readonly name = 'ThrottledError';
  constructor(
    message: string,
    readonly retryAfter: number,
  ) {
    super(message);
  }
}

/** Concurrent writes kept changing a token while a refresh was stored: not the caller's fault. */
export class RefreshConflictError extends Error {
  override readonly name = 'RefreshConflictError';
}

/**
 * An error of the GraphQL layer (resolvers, auth): its code is one of the
 * contract's, and its message is written for the caller.
 */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra `extensions` for the caller. */
    readonly extensions: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const badInput = (message: string) => new ServiceError(ErrorCode.BAD_USER_INPUT, message);
export const notFound = (message: string) => new ServiceError(ErrorCode.NOT_FOUND, message);
export const forbidden = (message = 'your API key may not do this') => new ServiceError(ErrorCode.FORBIDDEN, message);
