import type { BaseContext } from '@apollo/server';
import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import {
  ErrorCode,
  InvalidRequestError,
  ProviderUnavailableError,
  RefreshConflictError,
  ThrottledError,
  RefreshRefusedError,
  ServiceError,
  STORE_UNAVAILABLE_MESSAGE,
  TokenNotFoundError,
  STORE_UNAVAILABLE_RETRY_AFTER_SECONDS,
  TokenStoreError,
} from '../errors';
import type { Logger } from '../logger';
import type { RequestConcern, RequestHooks } from '../resolvers/request-hooks';

/** Codes that Apollo and graphql-js produce for a bad request, passed through (after scrubbing). */
const REQUEST_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  ErrorCode.UNAUTHENTICATED,
  ErrorCode.FORBIDDEN,
]);

const GENERIC = 'Internal server error';

/**
 * Removes the input values graphql-js quotes in its messages ("got invalid
 * value …", "cannot represent …: <value>", "Unexpected Name …"): a caller's
 * secret must not come back in an error, nor reach the log.
 */
export function scrubValues(message: string): string {
  return message
    .replace(/got invalid value .*?(?=; |$)/s, 'got an invalid value')
    .replace(/(\w+ cannot represent)[^;]*/gs, '$1 this value')
    .replace(/(Expected value of type "[^"]*"), found .*?(?=; |$)/gs, '$1')
    .replace(/^Syntax Error: .*$/s, (m) => m.replace(/"(?:[^"\\]|\\.)*"/g, '"…"'));
}

/**
 * Apollo's `formatError`: the one place where anything thrown becomes an
 * error of the contract. Every error leaves with an `extensions.code`, no
 * stack trace, and no internal message. A store outage is
 * `STORE_UNAVAILABLE` (logged without a stack: it is the database's state,
 * not a bug); anything unexpected is logged with its stack (the only log
 * lines that carry one) and answered with a generic error.
 */
export function createErrorFormatter(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    const base = { locations: formatted.locations, path: formatted.path };
    const api = apiErrorOf(original);
    if (api) return { ...base, message: api.message, extensions: { ...api.extensions, code: api.code } };
    if (original instanceof TokenStoreError) {
      if (original.kind === 'INVALID_INPUT' || original.kind === 'CONFLICT') {
        return { ...base, message: original.detail, extensions: { code: ErrorCode.BAD_USER_INPUT } };
      }
      if (original.kind === 'UNAVAILABLE') {
        // Not under `err`: pino's error serializer would add a `stack` field of its own.
        logger.error({ error: errorForLog(original, { stack: false }) }, 'token store unavailable');
        return { ...base, message: STORE_UNAVAILABLE_MESSAGE, extensions: { code: ErrorCode.STORE_UNAVAILABLE } };
      }
      logger.error({ err: errorForLog(original) }, 'token store failure');
      return { ...base, message: GENERIC, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && REQUEST_CODES.has(code)) {
      const message = code === ErrorCode.UNAUTHENTICATED ? 'A valid API key is required: Authorization: Bearer <key>' : scrubValues(formatted.message);
      return { ...base, message, extensions: { code } };
    }
    logger.error({ err: errorForLog(original) }, 'unexpected error in a GraphQL request');
    return { ...base, message: GENERIC, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
  };
}

/** The API error of a domain error (or a `ServiceError`): its contract code, message and extra extensions; null for anything else. */
export function apiErrorOf(err: unknown): { code: ErrorCode; message: string; extensions: Record<string, unknown> } | null {
  const of = (code: ErrorCode, extensions: Record<string, unknown> = {}) => ({ code, message: (err as Error).message, extensions });
  if (err instanceof ServiceError) return of(err.code, err.extensions);
  if (err instanceof InvalidRequestError) return of(ErrorCode.BAD_USER_INPUT);
  if (err instanceof TokenNotFoundError) return of(ErrorCode.NOT_FOUND);
  if (err instanceof RefreshRefusedError) return of(ErrorCode.REFRESH_FAILED, { oauthError: err.oauthError });
  if (err instanceof ProviderUnavailableError) return of(ErrorCode.UPSTREAM_UNAVAILABLE, err.reason === null ? {} : { reason: err.reason });
  if (err instanceof RefreshConflictError) return of(ErrorCode.INTERNAL_SERVER_ERROR);
  if (err instanceof ThrottledError) return of(ErrorCode.THROTTLED, { retryAfter: err.retryAfter });
  return null;
}

/**
 * Answers HTTP 503 with `Retry-After` when an error of the response is
 * `STORE_UNAVAILABLE` (set on Apollo's response, so it holds for any HTTP
 * binding): a script or a load balancer can tell "retry later" from a bug.
 */
export function storeUnavailable<C extends BaseContext>(retryAfterSeconds = STORE_UNAVAILABLE_RETRY_AFTER_SECONDS): RequestConcern<C> {
  const hooks: RequestHooks<C> = {
    willSendResponse({ response }) {
      const errors = response.body.kind === 'single' ? response.body.singleResult.errors : response.body.initialResult.errors;
      if (!errors?.some((e) => e.extensions?.code === ErrorCode.STORE_UNAVAILABLE)) return;
      response.http.status = 503;
      response.http.headers.set('retry-after', String(retryAfterSeconds));
    },
  };
  return () => hooks;
}

/**
 * What a log line keeps of an error: name, code, causes, the message with
 * quoted input values removed, and the stack unless `stack: false`.
 */
export function errorForLog(err: unknown, options: { stack?: boolean } = {}): Record<string, unknown> {
  if (!(err instanceof Error)) return { value: typeof err };
  const cause = (err as { cause?: unknown }).cause;
  return {
    name: err.name,
    message: scrubValues(err.message),
    code: (err as { code?: unknown }).code,
    ...(options.stack === false ? {} : { stack: err.stack }),
    ...(cause ? { cause: errorForLog(cause, options) } : {}),
  };
}
