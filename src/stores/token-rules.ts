import { randomBytes } from 'node:crypto';
import { MAX_AUDIT_PAGE } from '../audit/audit';
import { TokenStoreError, type StoreOperation } from '../errors';
import { WRITABLE_FIELDS, type LookupSecretField, type Token, type TokenInput, type TokenMatch } from './token';

/**
 * The rules every store shares (`shared/spec/token-store.md`), as pure
 * functions: which lookup rule a partial token selects, how an input merges
 * into a stored token, what input is refused, and the listing cursor.
 */

/** The lookup rule a partial token selects, in Zoho's order. */
export type LookupRule = { by: 'userName'; value: string } | { by: LookupSecretField; value: string; clientId: string | null };

/** Limits on stored strings (bytes of UTF-8 would be stricter; characters are what users see). */
export const MAX_LENGTH = {
  id: 128,
  userName: 255,
  clientId: 255,
  secret: 4096,
  redirectUrl: 1024,
  apiDomain: 255,
  accountsUrl: 255,
  lastError: 255,
  client: 64,
} as const;

/** The provider of a token saved without one. */
export const DEFAULT_PROVIDER = 'zoho';

/** A provider's name: lower case, URL-safe, at most 64 characters. */
export const PROVIDER_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

/** An OAuth client's name (`saveClient`): URL-safe, at most 64 characters. */
export const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Ids are printable ASCII without spaces: exact and ordered alike on every engine. */
const ID_PATTERN = /^[\x21-\x7e]+$/;

const present = (v: string | null | undefined): v is string => typeof v === 'string' && v.length > 0;

/**
 * Zoho's `find_token` order: userName; else accessToken when clientId and
 * clientSecret are both absent; else grantToken; else refreshToken (rules 3
 * and 4 also require `clientId` to match where it is given).
 * @returns null when the partial selects no rule.
 */
export function lookupRule(match: TokenMatch): LookupRule | null {
  if (present(match.userName)) return { by: 'userName', value: match.userName };
  const clientId = present(match.clientId) ? match.clientId : null;
  if (present(match.accessToken) && clientId === null && !present(match.clientSecret)) {
    return { by: 'accessToken', value: match.accessToken, clientId: null };
  }
  if (present(match.grantToken)) return { by: 'grantToken', value: match.grantToken, clientId };
  if (present(match.refreshToken)) return { by: 'refreshToken', value: match.refreshToken, clientId };
  return null;
}

/** Whether a stored token satisfies the clientId condition of its rule. */
export function clientMatches(rule: LookupRule, token: Token): boolean {
  return rule.by === 'userName' || rule.clientId === null || token.clientId === rule.clientId;
}

/** The rule of a `findToken` call; refuses a partial that selects none. */
export function requireLookupRule(match: TokenMatch, operation: StoreOperation = 'findToken'): LookupRule {
  validateMatch(match, operation);
  const rule = lookupRule(match);
  if (!rule) {
    throw new TokenStoreError(
      operation,
      'INVALID_INPUT',
      'the partial token names no user name, access token (without client credentials), grant token or refresh token',
    );
  }
  return rule;
}

export function validateId(id: unknown, operation: StoreOperation): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_LENGTH.id || !ID_PATTERN.test(id)) {
    throw new TokenStoreError(operation, 'INVALID_INPUT', `an id is 1 to ${MAX_LENGTH.id} printable ASCII characters without spaces`);
  }
  return id;
}

function checkString(field: string, v: unknown, max: number, operation: StoreOperation): void {
  if (v === undefined || v === null) return;
  if (typeof v !== 'string') throw new TokenStoreError(operation, 'INVALID_INPUT', `${field} must be a string`);
  if (v.length > max) throw new TokenStoreError(operation, 'INVALID_INPUT', `${field} is longer than ${max} characters`);
  if (v.includes('\u0000')) throw new TokenStoreError(operation, 'INVALID_INPUT', `${field} contains a NUL character`);
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(v))
    throw new TokenStoreError(operation, 'INVALID_INPUT', `${field} is not valid Unicode (it holds a lone surrogate)`);
}

function checkDate(field: string, v: unknown, operation: StoreOperation): void {
  if (v === undefined || v === null) return;
  if (!(v instanceof Date) || Number.isNaN(v.getTime()) || v.getTime() < 0 || v.getTime() > 253402300799999) {
    throw new TokenStoreError(operation, 'INVALID_INPUT', `${field} must be a valid date between 1970 and 9999`);
  }
}

function validateMatch(match: TokenMatch, operation: StoreOperation): void {
  if (match === null || typeof match !== 'object') throw new TokenStoreError(operation, 'INVALID_INPUT', 'the partial token must be an object');
  checkString('userName', match.userName, MAX_LENGTH.userName, operation);
  checkString('clientId', match.clientId, MAX_LENGTH.clientId, operation);
  for (const f of ['accessToken', 'refreshToken', 'grantToken', 'clientSecret'] as const) checkString(f, match[f], MAX_LENGTH.secret, operation);
}

/** Refuses malformed input before anything is read or written. */
export function validateInput(input: TokenInput, operation: StoreOperation = 'saveToken'): void {
  if (input === null || typeof input !== 'object') throw new TokenStoreError(operation, 'INVALID_INPUT', 'the token must be an object');
  if (input.id !== undefined && input.id !== null) validateId(input.id, operation);
  validateMatch(input, operation);
  checkString('redirectUrl', input.redirectUrl, MAX_LENGTH.redirectUrl, operation);
  checkString('apiDomain', input.apiDomain, MAX_LENGTH.apiDomain, operation);
  checkString('accountsUrl', input.accountsUrl, MAX_LENGTH.accountsUrl, operation);
  checkString('lastError', input.lastError, MAX_LENGTH.lastError, operation);
  for (const f of ['expiresAt', 'lastRefreshedAt', 'failedAt', 'throttledUntil'] as const) checkDate(f, input[f], operation);
  if (input.client !== undefined && input.client !== null && (typeof input.client !== 'string' || !CLIENT_NAME.test(input.client))) {
    throw new TokenStoreError(operation, 'INVALID_INPUT', 'client must be a client name: letters, digits, _ or -, at most 64');
  }
  if (input.provider !== undefined && (typeof input.provider !== 'string' || !PROVIDER_NAME.test(input.provider))) {
    throw new TokenStoreError(
      operation,
      'INVALID_INPUT',
      'provider must be a provider name: a lower-case letter, then lower-case letters, digits, _ or -, at most 64',
    );
  }
}

/** The row an upsert targets when it has no id: the first lookup rule the input selects. */
export function saveRule(input: TokenInput): LookupRule | null {
  return lookupRule(input);
}

/**
 * Merges an input into the stored token (or a new one): absent fields keep
 * their value, `null` clears, empty strings count as null. Refuses a result
 * that holds no access, refresh or grant token.
 */
export function mergeToken(existing: Token | null, input: TokenInput, id: string, now: Date): Token {
  const base: Token = existing ?? {
    id,
    userName: null,
    clientId: null,
    clientSecret: null,
    refreshToken: null,
    accessToken: null,
    grantToken: null,
    expiresAt: null,
    redirectUrl: null,
    apiDomain: null,
    accountsUrl: null,
    lastRefreshedAt: null,
    lastError: null,
    failedAt: null,
    provider: DEFAULT_PROVIDER,
    throttledUntil: null,
    client: null,
    createdAt: now,
    updatedAt: now,
    version: 0,
  };
  const merged: Token = { ...base, updatedAt: now, version: base.version + 1 };
  const target = merged as unknown as Record<string, unknown>;
  for (const field of WRITABLE_FIELDS) {
    const value = input[field];
    if (value === undefined) continue;
    target[field] = value === '' ? null : value;
  }
  if (!merged.accessToken && !merged.refreshToken && !merged.grantToken) {
    throw new TokenStoreError(
      'saveToken',
      'INVALID_INPUT',
      'a token needs an access token, a refresh token or a grant token (Zoho: "Given user authentication details not found")',
    );
  }
  return merged;
}

/** A random, URL-safe id (never `max(id)+1`). */
export function generateId(): string {
  return randomBytes(12).toString('base64url');
}

const CURSOR_PREFIX = 'c1:';

/** The opaque cursor that points after `id`. */
export function encodeCursor(id: string): string {
  return Buffer.from(CURSOR_PREFIX + id, 'utf8').toString('base64url');
}

/** @throws TokenStoreError `INVALID_INPUT` for anything `encodeCursor` did not make. */
export function decodeCursor(cursor: string): string {
  const fail = () => new TokenStoreError('listTokens', 'INVALID_INPUT', 'the cursor is not one this API returned');
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 400 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw fail();
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!text.startsWith(CURSOR_PREFIX)) throw fail();
  const id = text.slice(CURSOR_PREFIX.length);
  if (id.length === 0 || id.length > MAX_LENGTH.id || !ID_PATTERN.test(id)) throw fail();
  return id;
}

export const MAX_PAGE_SIZE = 1000;

/** The text of a user-name search: null for none (absent or blank). @throws `INVALID_INPUT` past 255 characters. */
export function validateFilterText(text: string | null | undefined): string | null {
  if (text === null || text === undefined || text.trim() === '') return null;
  if (text.length > 255) throw new TokenStoreError('searchTokens', 'INVALID_INPUT', 'a search is at most 255 characters');
  return text.trim();
}

export function validatePageSize(first: number): number {
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw new TokenStoreError('listTokens', 'INVALID_INPUT', `first must be between 1 and ${MAX_PAGE_SIZE}`);
  }
  return first;
}

/** @throws TokenStoreError `INVALID_INPUT` unless an audit page size is 1..MAX_AUDIT_PAGE. */
export function validateAuditPage(first: number): number {
  if (!Number.isInteger(first) || first < 1 || first > MAX_AUDIT_PAGE) {
    throw new TokenStoreError('listAudit', 'INVALID_INPUT', `first must be between 1 and ${MAX_AUDIT_PAGE}`);
  }
  return first;
}

/** The names of the fields a save was given (never their values), for its audit entry. */
export function givenFields(input: TokenInput): string[] {
  return WRITABLE_FIELDS.filter((f) => input[f] !== undefined);
}
