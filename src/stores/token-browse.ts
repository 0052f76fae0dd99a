import type { TokenPage } from './token';
import { TokenStoreError } from '../errors';
import type { TokenStatus } from './token-status';

/** How many tokens are in each state at one instant (the dashboard's counts). */
export interface StatusCounts {
  total: number;
  active: number;
  expiring: number;
  expired: number;
  pendingGrant: number;
  throttled: number;
  failed: number;
}

/** The key of `StatusCounts` that counts each status. */
export const COUNT_OF: Readonly<Record<TokenStatus, Exclude<keyof StatusCounts, 'total'>>> = {
  ACTIVE: 'active',
  EXPIRING: 'expiring',
  EXPIRED: 'expired',
  PENDING_GRANT: 'pendingGrant',
  THROTTLED: 'throttled',
  FAILED: 'failed',
};

/** Only tokens in status `is` at `now` (`windowMs` being the refresh-ahead window), as `tokenStatus` derives it. */
export interface StatusFilter {
  is: TokenStatus;
  now: Date;
  windowMs: number;
}

/** Refuses a status filter that names no status. */
export function validateStatusFilter(filter: StatusFilter | null | undefined): StatusFilter | null {
  if (filter === null || filter === undefined) return null;
  if (!Object.hasOwn(COUNT_OF, filter.is))
    throw new TokenStoreError('searchTokens', 'INVALID_INPUT', `no such status: ${JSON.stringify(String(filter.is).slice(0, 32))}`);
  return filter;
}

/** Filters of a token listing. */
export interface TokenFilter {
  /** Only tokens whose user name contains this text (case-insensitive, at most 255 characters). */
  userNameContains?: string | null;
  /** Only tokens in this status. */
  status?: StatusFilter | null;
}

/**
 * What a person browsing many tokens needs beyond Zoho's listing: a search by
 * user name, paged like `listTokens`, and counts per state, each one query
 * over the table (never every token loaded).
 */
export interface TokenBrowse {
  /** A page of the tokens matching `filter`, in id order after the cursor `after`. */
  searchTokens(filter: TokenFilter, first: number, after?: string | null): Promise<TokenPage>;
  /** Counts per state at `now`, `windowMs` being the refresh-ahead window that makes a token `EXPIRING`. */
  countByStatus(now: Date, windowMs: number): Promise<StatusCounts>;
}

/** The escape character of `containsPattern` (`!`: a backslash is read differently by SQLite and MySQL). */
export const LIKE_ESCAPE = '!';

/** The `LIKE … ESCAPE '!'` pattern of a contains-search, its wildcards taken literally. */
export function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[!%_]/g, (c) => `!${c}`)}%`;
}
