import type { Keyring } from '../../crypto/keyring';
import type { TokenPage } from '../token';
import { LIKE_ESCAPE, containsPattern, type StatusCounts, type TokenBrowse, type TokenFilter } from '../token-browse';
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
      const afterId = after ? decodeCursor(after) : null;
      const where: string[] = [];
      const params: SqlParam[] = [];
      if (text !== null) {
        // LOWER on both sides: the MySQL table's binary collation makes LIKE case-sensitive.
        where.push(`LOWER(user_name) LIKE ? ESCAPE '${LIKE_ESCAPE}'`);
        params.push(containsPattern(text));
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
      const valid = 'access_token IS NOT NULL AND (expires_at IS NULL OR expires_at > ?)';
      const [row] = await this.exec.all<Record<string, number | string | null>>(
        `SELECT COUNT(*) AS total,
           SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END) AS failed,
           SUM(CASE WHEN failed_at IS NULL AND access_token IS NOT NULL AND (expires_at IS NULL OR expires_at > ?) THEN 1 ELSE 0 END) AS active,
           SUM(CASE WHEN failed_at IS NULL AND access_token IS NOT NULL AND expires_at <= ? AND expires_at > ? THEN 1 ELSE 0 END) AS expiring,
           SUM(CASE WHEN failed_at IS NULL AND NOT (${valid}) AND refresh_token IS NULL AND grant_token IS NOT NULL THEN 1 ELSE 0 END) AS pending_grant
         FROM ${this.t}`,
        [t + windowMs, t + windowMs, t, t],
      );
      const n = (v: number | string | null | undefined) => Number(v ?? 0);
      const c = { total: n(row?.total), failed: n(row?.failed), active: n(row?.active), expiring: n(row?.expiring), pendingGrant: n(row?.pending_grant) };
      return { ...c, expired: c.total - c.failed - c.active - c.expiring - c.pendingGrant };
    });
  }
}
