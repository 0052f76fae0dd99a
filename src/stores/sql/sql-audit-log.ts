import {
  AUDIT_ACTIONS,
  AUDIT_OUTCOMES,
  decodeAuditCursor,
  encodeAuditCursor,
  normalizeEvent,
  type AuditAction,
  type AuditEntry,
  type AuditEvent,
  type AuditOutcome,
  type AuditPage,
  type AuditQuery,
  type AuditRole,
} from '../../audit/audit';
import { TokenStoreError } from '../../errors';
import type { AuditLog } from '../audit-log';
import { validateAuditPage, validateId } from '../token-rules';
import { retryLostRaces } from '../lost-races';
import type { SqlExecutor, SqlParam } from './sql-executor';
import { guarded, lostRace } from './store-error';

type NewEntry = Omit<AuditEntry, 'id'>;

/** The columns an insert sets, each with its value. */
const COLUMNS: ReadonlyArray<readonly [string, (e: NewEntry) => SqlParam]> = [
  ['occurred_at', (e) => e.at.getTime()],
  ['action', (e) => e.action],
  ['token_id', (e) => e.tokenId],
  ['actor_role', (e) => e.actorRole],
  ['actor_name', (e) => e.actorName],
  ['outcome', (e) => e.outcome],
  ['error_code', (e) => e.errorCode],
  ['field_names', (e) => (e.fields.length > 0 ? e.fields.join(',') : null)],
  ['detail', (e) => e.detail],
  ['request_id', (e) => e.requestId],
  ['repeat_count', (e) => e.count],
];
const INSERT_COLUMNS = COLUMNS.map(([c]) => c).join(', ');
const SELECT = `id, ${INSERT_COLUMNS}`;
const ROW = `(${COLUMNS.map(() => '?').join(', ')})`;
/** Rows per INSERT statement. */
const CHUNK = 100;
/** Rows per DELETE statement when pruning (short statements, short locks). */
const PRUNE_CHUNK = 5000;

interface AuditRow {
  id: number | string;
  occurred_at: number | string;
  action: string;
  token_id: string | null;
  actor_role: string;
  actor_name: string;
  outcome: string;
  error_code: string | null;
  field_names: string | null;
  detail: string | null;
  request_id: string | null;
  repeat_count: number | string;
}

const entryOf = (r: AuditRow): AuditEntry => ({
  id: String(r.id),
  at: new Date(Number(r.occurred_at)),
  action: (AUDIT_ACTIONS as readonly string[]).includes(r.action) ? (r.action as AuditAction) : 'SAVE',
  tokenId: r.token_id,
  actorRole: r.actor_role as AuditRole,
  actorName: r.actor_name,
  outcome: (AUDIT_OUTCOMES as readonly string[]).includes(r.outcome) ? (r.outcome as AuditOutcome) : 'ERROR',
  errorCode: r.error_code,
  fields: r.field_names ? r.field_names.split(',') : [],
  detail: r.detail,
  requestId: r.request_id,
  count: Number(r.repeat_count),
});

/** The audit trail in the `<table>_audit` table beside the token table. */
export class SqlAuditLog implements AuditLog {
  /** @param a the quoted audit table */
  constructor(
    private readonly exec: SqlExecutor,
    private readonly a: string,
  ) {}

  appendAudit(events: readonly AuditEvent[]): Promise<void> {
    return guarded('appendAudit', this.exec, async () => {
      if (events.length === 0) return;
      const entries = events.map((e) => normalizeEvent(e));
      // One transaction for the whole batch: one commit (one fsync), not one per chunk.
      await retryLostRaces(
        () => (entries.length <= CHUNK ? this.insert(this.exec, entries) : this.exec.transaction((tx) => this.insert(tx, entries))),
        (err) => lostRace(this.exec, err),
      );
    });
  }

  listAudit(query: AuditQuery): Promise<AuditPage> {
    return guarded('listAudit', this.exec, async () => {
      const first = validateAuditPage(query.first);
      const terms: string[] = [];
      const params: SqlParam[] = [];
      if (query.tokenId !== undefined && query.tokenId !== null) {
        terms.push('token_id = ?');
        params.push(validateId(query.tokenId, 'listAudit'));
      }
      if (query.actions && query.actions.length > 0) {
        terms.push(`action IN (${query.actions.map(() => '?').join(', ')})`);
        params.push(...query.actions);
      }
      if (query.after !== undefined && query.after !== null) {
        const cursor = decodeAuditCursor(query.after);
        if (cursor === null) throw new TokenStoreError('listAudit', 'INVALID_INPUT', 'the cursor is not one this API returned');
        terms.push('(occurred_at < ? OR (occurred_at = ? AND id < ?))');
        params.push(cursor.atMs, cursor.atMs, cursor.id);
      }
      const where = terms.length > 0 ? ` WHERE ${terms.join(' AND ')}` : '';
      const rows = await this.exec.all<AuditRow>(`SELECT ${SELECT} FROM ${this.a}${where} ORDER BY occurred_at DESC, id DESC LIMIT ${first + 1}`, params);
      const nodes = rows.slice(0, first).map(entryOf);
      const last = nodes[nodes.length - 1];
      return { nodes, endCursor: last ? encodeAuditCursor(last) : null, hasNextPage: rows.length > first };
    });
  }

  pruneAudit(before: Date): Promise<number> {
    return guarded('pruneAudit', this.exec, async () => {
      const cutoff = before.getTime();
      let total = 0;
      for (;;) {
        // Chunks keep every statement (and its locks) short on a large table.
        const n =
          this.exec.dialect === 'mysql'
            ? await this.exec.run(`DELETE FROM ${this.a} WHERE occurred_at < ? ORDER BY id LIMIT ${PRUNE_CHUNK}`, [cutoff])
            : await this.exec.run(`DELETE FROM ${this.a} WHERE id IN (SELECT id FROM ${this.a} WHERE occurred_at < ? ORDER BY id LIMIT ${PRUNE_CHUNK})`, [
                cutoff,
              ]);
        total += n;
        if (n < PRUNE_CHUNK) return total;
      }
    });
  }

  /** Inserts entries with `exec` (a transaction of the write they record). */
  async insert(exec: SqlExecutor, entries: readonly NewEntry[]): Promise<void> {
    for (let i = 0; i < entries.length; i += CHUNK) {
      const chunk = entries.slice(i, i + CHUNK);
      await exec.run(
        `INSERT INTO ${this.a} (${INSERT_COLUMNS}) VALUES ${chunk.map(() => ROW).join(', ')}`,
        chunk.flatMap((e) => COLUMNS.map(([, value]) => value(e))),
      );
    }
  }

  /** Inserts `entry` once per row of the quoted token table `t`, with that row's id, written by the database. */
  async insertPerToken(exec: SqlExecutor, entry: NewEntry, t: string): Promise<void> {
    const others = COLUMNS.filter(([c]) => c !== 'token_id');
    const select = COLUMNS.map(([c]) => (c === 'token_id' ? 'id' : '?')).join(', ');
    await exec.run(
      `INSERT INTO ${this.a} (${INSERT_COLUMNS}) SELECT ${select} FROM ${t}`,
      others.map(([, value]) => value(entry)),
    );
  }
}
