import type { Keyring } from '../../crypto/keyring';
import type { TokenPage } from '../token';
import { LIKE_ESCAPE, containsPattern, validateStatusFilter, type StatusCounts, type TokenBrowse, type TokenFilter } from '../token-browse';
import type { TokenStatus } from '../token-status';
import { decodeCursor, encodeCursor, validateFilterText, validatePageSize } from '../token-rules';
import type { SqlExecutor, SqlParam } from './sql-executor';
import { guarded } from './store-error';
import { ROW_COLUMNS, rowToToken, type TokenRow } from './token-row';

/** Search and status counts over the token table, one statement each. */
export class SqlTokenBrowse implements TokenBrowse {
  constructor(
    private readonly exec: SqlExecutor,
    private readonly keyring: Keyring,
    /** The quoted token table. */
    private readonly t: string,
  ) {}

  searchTokens(filter: TokenFilter, first: number, after?: string | null): Promise<TokenPage> {
    return guarded('searchTokens', this.exec, async () => {
      const size = validatePageSize(first);
      const text = validateFilterText(filter.userNameContains);
      const status = validateStatusFilter(filter.status);
      const afterId = after ? decodeCursor(after) : null;
      const where: string[] = [];
      const params: SqlParam[] = [];
      if (text !== null) {
        // LOWER on both sides: the MySQL table's binary collation makes LIKE case-sensitive.
        where.push(`LOWER(user_name) LIKE ? ESCAPE '${LIKE_ESCAPE}'`);
        params.push(containsPattern(text));
      }
      if (status !== null) {
        const p = statusPredicate(status.is, status.now.getTime(), status.windowMs);
        where.push(`(${p.sql})`);
        params.push(...p.params);
      }
      if (afterId !== null) {
        where.push('id > ?');
        params.push(afterId);
      }
      const rows = await this.exec.all<TokenRow>(
        `SELECT ${ROW_COLUMNS} FROM ${this.t}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ${size + 1}`,
        params,
      );
      const nodes = rows.slice(0, size).map((r) => rowToToken(r, this.keyring, 'searchTokens'));
      const last = nodes[nodes.length - 1];
      return { nodes, endCursor: last ? encodeCursor(last.id) : null, hasNextPage: rows.length > size };
    });
  }

  countByStatus(now: Date, windowMs: number): Promise<StatusCounts> {
    return guarded('countByStatus', this.exec, async () => {
      const t = now.getTime();
      const sums = COUNTED.map((status) => statusPredicate(status, t, windowMs));
      const [row] = await this.exec.all<Record<string, number | string | null>>(
        `SELECT COUNT(*) AS total, ${sums.map((p, i) => `SUM(CASE WHEN ${p.sql} THEN 1 ELSE 0 END) AS c${i}`).join(', ')} FROM ${this.t}`,
        sums.flatMap((p) => p.params),
      );
      const n = (v: number | string | null | undefined) => Number(v ?? 0);
      const [failed, throttled, active, expiring, pendingGrant] = COUNTED.map((_, i) => n(row?.[`c${i}`])) as [number, number, number, number, number];
      const total = n(row?.total);
      return { total, active, expiring, expired: total - failed - throttled - active - expiring - pendingGrant, pendingGrant, throttled, failed };
    });
  }
}

/** The statuses counted by a predicate each (`EXPIRED` is the rest). */
const COUNTED = ['FAILED', 'THROTTLED', 'ACTIVE', 'EXPIRING', 'PENDING_GRANT'] as const satisfies readonly TokenStatus[];

/**
 * The condition on a row of being in `status` at `now`: `tokenStatus`'s rules
 * in SQL, in the same order (each status excludes the ones before it).
 */
export function statusPredicate(status: TokenStatus, now: number, windowMs: number): { sql: string; params: SqlParam[] } {
  // Neither FAILED nor THROTTLED.
  const open = 'failed_at IS NULL AND (throttled_until IS NULL OR throttled_until <= ?)';
  // Holds an access token valid at `now`.
  const valid = 'access_token IS NOT NULL AND (expires_at IS NULL OR expires_at > ?)';
  const grantOnly = 'refresh_token IS NULL AND grant_token IS NOT NULL';
  switch (status) {
    case 'FAILED':
      return { sql: 'failed_at IS NOT NULL', params: [] };
    case 'THROTTLED':
      return { sql: 'failed_at IS NULL AND throttled_until > ?', params: [now] };
    case 'ACTIVE':
      return { sql: `${open} AND access_token IS NOT NULL AND (expires_at IS NULL OR expires_at > ?)`, params: [now, now + windowMs] };
    case 'EXPIRING':
      return { sql: `${open} AND access_token IS NOT NULL AND expires_at <= ? AND expires_at > ?`, params: [now, now + windowMs, now] };
    case 'PENDING_GRANT':
      return { sql: `${open} AND NOT (${valid}) AND ${grantOnly}`, params: [now, now] };
    case 'EXPIRED':
      return { sql: `${open} AND NOT (${valid}) AND NOT (${grantOnly})`, params: [now, now] };
  }
}
