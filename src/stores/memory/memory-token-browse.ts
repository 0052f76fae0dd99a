import type { TokenPage } from '../token';
import { COUNT_OF, validateStatusFilter, type StatusCounts, type TokenBrowse, type TokenFilter } from '../token-browse';
import { decodeCursor, encodeCursor, validateFilterText, validatePageSize } from '../token-rules';
import { tokenStatus } from '../token-status';
import { MemoryDatabase, copy, guarded } from './memory-database';

/** Search and status counts over the tokens in memory (a scan: the memory store is for tests and trials). */
export class MemoryTokenBrowse implements TokenBrowse {
  constructor(private readonly db: MemoryDatabase) {}

  async searchTokens(filter: TokenFilter, first: number, after?: string | null): Promise<TokenPage> {
    return guarded('searchTokens', () => {
      const size = validatePageSize(first);
      const text = validateFilterText(filter.userNameContains)?.toLowerCase() ?? null;
      const status = validateStatusFilter(filter.status);
      const afterId = after ? decodeCursor(after) : null;
      const matches: string[] = [];
      for (const id of this.db.ids()) {
        if (afterId !== null && id <= afterId) continue;
        const token = this.db.tokens.get(id)!;
        if (text !== null && !(token.userName ?? '').toLowerCase().includes(text)) continue;
        if (status !== null && tokenStatus(token, status.now.getTime(), status.windowMs) !== status.is) continue;
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
      const counts: StatusCounts = { total: 0, active: 0, expiring: 0, expired: 0, pendingGrant: 0, throttled: 0, failed: 0 };
      for (const token of this.db.tokens.values()) {
        counts.total++;
        counts[COUNT_OF[tokenStatus(token, now.getTime(), windowMs)]]++;
      }
      return counts;
    });
  }
}
