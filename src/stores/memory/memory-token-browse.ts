import type { Token, TokenPage } from '../token';
import type { StatusCounts, TokenBrowse, TokenFilter } from '../token-browse';
import { decodeCursor, encodeCursor, validateFilterText, validatePageSize } from '../token-rules';
import { MemoryDatabase, copy, guarded } from './memory-database';

/** Search and status counts over the tokens in memory (a scan: the memory store is for tests and trials). */
export class MemoryTokenBrowse implements TokenBrowse {
  constructor(private readonly db: MemoryDatabase) {}

  async searchTokens(filter: TokenFilter, first: number, after?: string | null): Promise<TokenPage> {
    return guarded('searchTokens', () => {
      const size = validatePageSize(first);
      const text = validateFilterText(filter.userNameContains)?.toLowerCase() ?? null;
      const afterId = after ? decodeCursor(after) : null;
      const matches: string[] = [];
      for (const id of this.db.ids()) {
        if (afterId !== null && id <= afterId) continue;
        if (text !== null && !(this.db.tokens.get(id)!.userName ?? '').toLowerCase().includes(text)) continue;
        matches.push(id);
        if (matches.length > size) break;
      }
      const nodes = matches.slice(0, size).map((id) => copy(this.db.tokens.get(id)!));
      const last = nodes[nodes.length - 1];
      return { nodes, endCursor: last ? encodeCursor(last.id) : null, hasNextPage: matches.length > size };
    });
  }

  async countByStatus(now: Date, windowMs: number): Promise<StatusCounts> {
    return guarded('countByStatus', () => {
      const counts: StatusCounts = { total: 0, active: 0, expiring: 0, expired: 0, pendingGrant: 0, failed: 0 };
      for (const token of this.db.tokens.values()) {
        counts.total++;
        counts[stateOf(token, now.getTime(), windowMs)]++;
      }
      return counts;
    });
  }
}

/** The same rules as the SQL counts and the API's status. */
function stateOf(t: Token, now: number, windowMs: number): Exclude<keyof StatusCounts, 'total'> {
  if (t.failedAt) return 'failed';
  const expires = t.expiresAt?.getTime() ?? null;
  if (t.accessToken !== null && (expires === null || expires > now + windowMs)) return 'active';
  if (t.accessToken !== null && expires !== null && expires > now) return 'expiring';
  if (t.refreshToken === null && t.grantToken !== null) return 'pendingGrant';
  return 'expired';
}
