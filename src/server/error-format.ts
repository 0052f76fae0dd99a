import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { ErrorCode, ServiceError, STORE_UNAVAILABLE_MESSAGE, TokenStoreError } from '../errors';
import type { Logger } from '../logger';

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
 * stack trace, and no internal message; unexpected errors are logged here
 * (by name, code and stack) and answered with a generic one.
 */
export function createErrorFormatter(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    const base = { locations: formatted.locations, path: formatted.path };
    if (original instanceof ServiceError) {
      return { ...base, message: original.message, extensions: { ...original.extensions, code: original.code } };
    }
    if (original instanceof TokenStoreError) {
      if (original.kind === 'INVALID_INPUT' || original.kind === 'CONFLICT') {
        return { ...base, message: original.detail, extensions: { code: ErrorCode.BAD_USER_INPUT } };
      }
      if (original.kind === 'UNAVAILABLE') {
        logger.error({ err: errorForLog(original) }, 'token store unavailable');
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

/** What a log line keeps of an error: name, code, stack, causes, and the message with quoted input values removed. */
export function errorForLog(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { value: typeof err };
  const cause = (err as { cause?: unknown }).cause;
  return {
    name: err.name,
    message: scrubValues(err.message),
    code: (err as { code?: unknown }).code,
    stack: err.stack,
    ...(cause ? { cause: errorForLog(cause) } : {}),
  };
}
