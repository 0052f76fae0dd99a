import type { Keyring } from '../../crypto/keyring';
import { plainHash } from '../../crypto/keyring';
import {
  AUDIT_ACTIONS,
  AUDIT_OUTCOMES,
  STORE_ACTOR,
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
  type AuditedWrite,
} from '../../audit/audit';
import { KeyMismatchError, TokenStoreError, type StoreOperation } from '../../errors';
import { auditTableOf } from '../../migrations/audit-log';
import { LOOKUP_SECRET_FIELDS, type LookupSecretField, type Token, type TokenInput, type TokenMatch, type TokenPage } from '../token';
import type { KeyUsage, ReencryptBatch, SaveOptions, StoreKind, TokenStore } from '../token-store';
import {
  clientMatches,
  decodeCursor,
  encodeCursor,
  generateId,
  givenFields,
  mergeToken,
  requireLookupRule,
  saveRule,
  validateId,
  validateAuditPage,
  validateInput,
  validatePageSize,
  type LookupRule,
} from '../token-rules';
import { nowMsExpression, quoteIdent } from './sql-dialect';
import type { SqlExecutor, SqlParam } from './sql-executor';
import { lostRace, retryLostRaces } from './lost-races';
import { LostRace, toStoreError } from './store-error';
import { ROW_COLUMNS, SECRET_WRITE_COLUMNS, WRITE_COLUMNS, decryptRow, rowToToken, rowValues, secretRowValues, type TokenRow } from './token-row';

const HASH_COLUMN: Record<LookupSecretField, string> = {
  accessToken: 'access_token_hash',
  refreshToken: 'refresh_token_hash',
  grantToken: 'grant_token_hash',
};

const FIELD_LABEL: Record<'userName' | LookupSecretField, string> = {
  userName: 'user name',
  accessToken: 'access token',
  refreshToken: 'refresh token',
  grantToken: 'grant token',
};

/** The audit columns an insert sets, in the order of `auditValues`. */
const AUDIT_COLUMNS = 'occurred_at, action, token_id, actor_role, actor_name, outcome, error_code, field_names, detail, request_id, repeat_count';
const AUDIT_SELECT = `id, ${AUDIT_COLUMNS}`;
/** Audit rows per INSERT statement. */
const AUDIT_CHUNK = 100;
/** Audit rows per DELETE statement when pruning (short statements, short locks). */
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

const auditValues = (e: Omit<AuditEntry, 'id'>): SqlParam[] => [
  e.at.getTime(),
  e.action,
  e.tokenId,
  e.actorRole,
  e.actorName,
  e.outcome,
  e.errorCode,
  e.fields.length > 0 ? e.fields.join(',') : null,
  e.detail,
  e.requestId,
  e.count,
];

const auditEntryOf = (r: AuditRow): AuditEntry => ({
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

/**
 * The token store over SQL (SQLite and MySQL/MariaDB share it): secrets
 * encrypted by the `Keyring`, lookups through hash columns, every write one
 * transaction, duplicates made impossible by unique indexes and resolved by
 * retrying the upsert.
 */
export class SqlTokenStore implements TokenStore {
  private readonly t: string;
  /** The audit table. */
  private readonly a: string;
  private readonly now: string;
  /**
   * With one key, the unique indexes on the hash columns see every duplicate: the
   * write itself is the check, and the query that names the clash runs only when it
   * fails. With several keys (a rotation), a secret may be stored under another
   * key's hash, which no index sees: the check runs first.
   */
  private readonly checkDuplicatesFirst: boolean;

  constructor(
    readonly kind: Extract<StoreKind, 'sqlite' | 'mysql'>,
    private readonly exec: SqlExecutor,
    private readonly keyring: Keyring,
    table: string,
    private readonly onClose: () => Promise<void>,
  ) {
    this.t = quoteIdent(exec.dialect, table);
    this.a = quoteIdent(exec.dialect, auditTableOf(table));
    this.now = nowMsExpression(exec.dialect);
    this.checkDuplicatesFirst = keyring.keyIds.length > 1;
  }

  findToken(match: TokenMatch): Promise<Token | null> {
    return this.guard('findToken', async () => {
      const rule = requireLookupRule(match);
      const token = await this.findByRule(this.exec, rule, false, 'findToken');
      return token && clientMatches(rule, token) ? token : null;
    });
  }

  findTokenById(id: string): Promise<Token | null> {
    return this.guard('findTokenById', async () => this.findById(this.exec, validateId(id, 'findTokenById'), false, 'findTokenById'));
  }

  saveToken(input: TokenInput, options: SaveOptions = {}): Promise<Token> {
    return this.guard('saveToken', async () => {
      validateInput(input);
      // A concurrent insert of the same key (unique clash, LostRace) is a lost race too: the retry finds and updates its row.
      return retryLostRaces(
        this.exec,
        () => this.exec.transaction((tx) => this.upsert(tx, input, options)),
        (err) => err instanceof LostRace || this.exec.classify(err) === 'unique',
      );
    });
  }

  private async upsert(tx: SqlExecutor, input: TokenInput, options: SaveOptions): Promise<Token> {
    let existing: Token | null = null;
    let id: string;
    let rule: LookupRule | null = null;
    if (input.id) {
      id = input.id;
      existing = await this.findById(tx, id, true, 'saveToken');
    } else {
      rule = saveRule(input);
      existing = rule ? await this.findByRule(tx, rule, true, 'saveToken') : null;
      if (rule && existing && !clientMatches(rule, existing)) {
        throw new TokenStoreError('saveToken', 'CONFLICT', `the ${FIELD_LABEL[rule.by]} is already stored with another client's token`);
      }
      id = existing?.id ?? generateId();
    }
    if (options.ifVersion !== undefined && existing?.version !== options.ifVersion) {
      throw new TokenStoreError('saveToken', 'CONFLICT', 'the token changed since it was read');
    }
    const token = mergeToken(existing, input, id, new Date());
    options.complete?.(token, existing);
    if (this.checkDuplicatesFirst) await this.assertNoDuplicate(tx, token, rule);
    const values = rowValues(token, this.keyring);
    try {
      if (existing) {
        const set = WRITE_COLUMNS.map((c) => `${c} = ?`).join(', ');
        const changed = await tx.run(`UPDATE ${this.t} SET ${set} WHERE id = ? AND version = ?`, [...values, id, existing.version]);
        if (changed !== 1) throw new LostRace();
      } else {
        const cols = ['id', ...WRITE_COLUMNS];
        await tx.run(`INSERT INTO ${this.t} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`, [id, ...values]);
      }
    } catch (err) {
      if (!this.checkDuplicatesFirst && tx.classify(err) === 'unique') await this.assertNoDuplicate(tx, token, rule);
      throw err;
    }
    const audit = options.audit ?? { action: 'SAVE', actor: STORE_ACTOR };
    await this.insertAudit(tx, [normalizeEvent(audit, { tokenId: id, fields: givenFields(input), detail: existing ? 'updated' : 'created' })]);
    return token;
  }

  /**
   * Refuses a write whose user name or secrets another row holds (under any
   * accepted key). A clash on the very key the upsert looked up and did not
   * find is a concurrent insert committed meanwhile: a lost race, retried.
   */
  private async assertNoDuplicate(tx: SqlExecutor, token: Token, rule: LookupRule | null): Promise<void> {
    const terms: string[] = [];
    const params: SqlParam[] = [token.id];
    const checks: Array<{ field: 'userName' | LookupSecretField; column: string; hashes: string[] }> = [];
    if (token.userName !== null) checks.push({ field: 'userName', column: 'user_name_hash', hashes: [plainHash(token.userName)] });
    for (const field of LOOKUP_SECRET_FIELDS) {
      const value = token[field];
      if (value !== null) checks.push({ field, column: HASH_COLUMN[field], hashes: this.keyring.lookupHashes(value) });
    }
    if (checks.length === 0) return;
    for (const c of checks) {
      terms.push(`${c.column} IN (${c.hashes.map(() => '?').join(', ')})`);
      params.push(...c.hashes);
    }
    const cols = checks.map((c) => c.column).join(', ');
    const rows = await tx.all<Record<string, string | null>>(`SELECT ${cols} FROM ${this.t} WHERE id <> ? AND (${terms.join(' OR ')}) LIMIT 1`, params);
    const row = rows[0];
    if (!row) return;
    const clashes = checks.filter((c) => row[c.column] !== null && c.hashes.includes(row[c.column]!));
    // The row holds the key this upsert looked up: it was inserted meanwhile, and the retry updates it.
    if (rule && clashes.some((c) => c.field === rule.by)) throw new LostRace();
    const clash = clashes[0] ?? checks[0]!;
    throw new TokenStoreError('saveToken', 'CONFLICT', `the ${FIELD_LABEL[clash.field]} is already stored with another token`);
  }

  deleteToken(id: string, options: AuditedWrite = {}): Promise<boolean> {
    return this.guard('deleteToken', async () => {
      validateId(id, 'deleteToken');
      return retryLostRaces(this.exec, () =>
        this.exec.transaction(async (tx) => {
          const deleted = (await tx.run(`DELETE FROM ${this.t} WHERE id = ?`, [id])) > 0;
          if (deleted) await this.insertAudit(tx, [normalizeEvent(options.audit ?? { action: 'DELETE', actor: STORE_ACTOR }, { tokenId: id })]);
          return deleted;
        }),
      );
    });
  }

  getTokens(): Promise<Token[]> {
    return this.guard('getTokens', async () => {
      const all: Token[] = [];
      let after: string | null = null;
      for (;;) {
        const page = await this.page(1000, after);
        all.push(...page.nodes);
        if (!page.hasNextPage) return all;
        after = page.endCursor;
      }
    });
  }

  deleteTokens(options: AuditedWrite = {}): Promise<number> {
    return this.guard('deleteTokens', () =>
      retryLostRaces(this.exec, () =>
        this.exec.transaction(async (tx) => {
          // One entry per token, written by the database from the rows themselves, then the one DELETE.
          const e = normalizeEvent(options.audit ?? { action: 'DELETE_ALL', actor: STORE_ACTOR });
          const values = auditValues(e);
          const placeholders = values.map((_, i) => (i === 2 ? 'id' : '?')).join(', ');
          await tx.run(`INSERT INTO ${this.a} (${AUDIT_COLUMNS}) SELECT ${placeholders} FROM ${this.t}`, values.filter((_, i) => i !== 2));
          return tx.run(`DELETE FROM ${this.t}`);
        }),
      ),
    );
  }

  appendAudit(events: readonly AuditEvent[]): Promise<void> {
    return this.guard('appendAudit', async () => {
      if (events.length === 0) return;
      const entries = events.map((e) => normalizeEvent(e));
      // One transaction for the whole batch: one commit (one fsync), not one per chunk.
      await retryLostRaces(this.exec, () =>
        entries.length <= AUDIT_CHUNK ? this.insertAudit(this.exec, entries) : this.exec.transaction((tx) => this.insertAudit(tx, entries)),
      );
    });
  }

  listAudit(query: AuditQuery): Promise<AuditPage> {
    return this.guard('listAudit', async () => {
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
      const rows = await this.exec.all<AuditRow>(`SELECT ${AUDIT_SELECT} FROM ${this.a}${where} ORDER BY occurred_at DESC, id DESC LIMIT ${first + 1}`, params);
      const nodes = rows.slice(0, first).map(auditEntryOf);
      const last = nodes[nodes.length - 1];
      return { nodes, endCursor: last ? encodeAuditCursor(last) : null, hasNextPage: rows.length > first };
    });
  }

  pruneAudit(before: Date): Promise<number> {
    return this.guard('pruneAudit', async () => {
      const cutoff = before.getTime();
      let total = 0;
      for (;;) {
        // Chunks keep every statement (and its locks) short on a large table.
        const n =
          this.exec.dialect === 'mysql'
            ? await this.exec.run(`DELETE FROM ${this.a} WHERE occurred_at < ? ORDER BY id LIMIT ${PRUNE_CHUNK}`, [cutoff])
            : await this.exec.run(`DELETE FROM ${this.a} WHERE id IN (SELECT id FROM ${this.a} WHERE occurred_at < ? ORDER BY id LIMIT ${PRUNE_CHUNK})`, [cutoff]);
        total += n;
        if (n < PRUNE_CHUNK) return total;
      }
    });
  }

  keyUsage(): Promise<KeyUsage[]> {
    return this.guard('keyUsage', async () => {
      const rows = await this.exec.all<{ key_id: string; n: number | string }>(`SELECT key_id, COUNT(*) AS n FROM ${this.t} WHERE key_id IS NOT NULL GROUP BY key_id`);
      return rows.map((r) => ({ keyId: r.key_id, tokens: Number(r.n) }));
    });
  }

  reencryptBatch(limit: number, after: string | null): Promise<ReencryptBatch> {
    return this.guard('reencrypt', async () => {
      const n = Math.max(1, Math.min(10_000, Math.floor(limit)));
      const current = this.keyring.currentKeyId;
      const rows = await this.exec.all<TokenRow & { key_id: string }>(
        `SELECT ${ROW_COLUMNS}, key_id FROM ${this.t} WHERE key_id IS NOT NULL AND key_id <> ?${after === null ? '' : ' AND id > ?'} ORDER BY id LIMIT ${n}`,
        after === null ? [current] : [current, after],
      );
      const result: ReencryptBatch = { scanned: rows.length, reencrypted: 0, skipped: 0, failed: [], lastId: rows.length > 0 ? rows[rows.length - 1]!.id : null };
      const updates: Array<{ id: string; version: number; keyId: string; values: SqlParam[] }> = [];
      for (const row of rows) {
        try {
          const token = decryptRow(row, this.keyring);
          updates.push({ id: row.id, version: token.version, keyId: row.key_id, values: secretRowValues(token, this.keyring) });
        } catch (err) {
          if (!(err instanceof KeyMismatchError)) throw err;
          result.failed.push(row.id);
        }
      }
      if (updates.length === 0) return result;
      const set = SECRET_WRITE_COLUMNS.map((c) => `${c} = ?`).join(', ');
      const changed = await this.exec.transaction(async (tx) => {
        let count = 0;
        // Compare-and-swap on version and key: a row written since it was read keeps what its writer stored.
        for (const u of updates) count += await tx.run(`UPDATE ${this.t} SET ${set} WHERE id = ? AND version = ? AND key_id = ?`, [...u.values, u.id, u.version, u.keyId]);
        return count;
      });
      result.reencrypted = changed;
      result.skipped = updates.length - changed;
      return result;
    });
  }

  private async insertAudit(exec: SqlExecutor, entries: ReadonlyArray<Omit<AuditEntry, 'id'>>): Promise<void> {
    for (let i = 0; i < entries.length; i += AUDIT_CHUNK) {
      const chunk = entries.slice(i, i + AUDIT_CHUNK);
      const row = `(${AUDIT_COLUMNS.split(',').map(() => '?').join(', ')})`;
      await exec.run(`INSERT INTO ${this.a} (${AUDIT_COLUMNS}) VALUES ${chunk.map(() => row).join(', ')}`, chunk.flatMap(auditValues));
    }
  }

  countTokens(): Promise<number> {
    return this.guard('countTokens', async () => {
      const [{ n }] = await this.exec.all<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${this.t}`);
      return Number(n);
    });
  }

  listTokens(first: number, after?: string | null): Promise<TokenPage> {
    return this.guard('listTokens', () => this.page(validatePageSize(first), after ?? null));
  }

  private async page(first: number, after: string | null): Promise<TokenPage> {
    const afterId = after === null ? null : decodeCursor(after);
    // `first` is a validated integer; inlined because MySQL rejects some parameter types in LIMIT.
    const rows = await this.exec.all<TokenRow>(
      afterId === null
        ? `SELECT ${ROW_COLUMNS} FROM ${this.t} ORDER BY id LIMIT ${first + 1}`
        : `SELECT ${ROW_COLUMNS} FROM ${this.t} WHERE id > ? ORDER BY id LIMIT ${first + 1}`,
      afterId === null ? [] : [afterId],
    );
    const nodes = rows.slice(0, first).map((r) => rowToToken(r, this.keyring, 'listTokens'));
    const last = nodes[nodes.length - 1];
    return { nodes, endCursor: last ? encodeCursor(last.id) : null, hasNextPage: rows.length > first };
  }

  acquireLease(id: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.guard('acquireLease', async () => {
      try {
        const changed = await this.exec.run(
          `UPDATE ${this.t} SET lease_owner = ?, lease_until = ${this.now} + ? WHERE id = ? AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ${this.now})`,
          [owner, Math.round(ttlMs), id, owner],
        );
        return changed === 1;
      } catch (err) {
        // Rolled back as a lost race (on Galera: another node took the lease at the same moment): not acquired.
        if (lostRace(this.exec, err)) return false;
        throw err;
      }
    });
  }

  releaseLease(id: string, owner: string): Promise<void> {
    return this.guard('releaseLease', async () => {
      await retryLostRaces(this.exec, () => this.exec.run(`UPDATE ${this.t} SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?`, [id, owner]));
    });
  }

  findRefreshCandidates(before: Date, limit: number): Promise<string[]> {
    return this.guard('findRefreshCandidates', async () => {
      const rows = await this.exec.all<{ id: string }>(
        `SELECT id FROM ${this.t} WHERE failed_at IS NULL AND (refresh_token_hash IS NOT NULL OR grant_token_hash IS NOT NULL)` +
          ` AND (expires_at IS NULL OR expires_at < ?) ORDER BY expires_at LIMIT ${Math.max(1, Math.floor(limit))}`,
        [before.getTime()],
      );
      return rows.map((r) => r.id);
    });
  }

  ping(): Promise<void> {
    return this.guard('ping', async () => {
      await this.exec.all('SELECT 1 AS ok');
    });
  }

  async close(): Promise<void> {
    await this.exec.close();
    await this.onClose();
  }

  private async findById(exec: SqlExecutor, id: string, lock: boolean, operation: StoreOperation): Promise<Token | null> {
    const rows = await exec.all<TokenRow>(`SELECT ${ROW_COLUMNS} FROM ${this.t} WHERE id = ?${lock ? exec.forUpdate : ''}`, [id]);
    return rows[0] ? rowToToken(rows[0], this.keyring, operation) : null;
  }

  private async findByRule(exec: SqlExecutor, rule: LookupRule, lock: boolean, operation: StoreOperation): Promise<Token | null> {
    const suffix = lock ? exec.forUpdate : '';
    if (rule.by === 'userName') {
      const rows = await exec.all<TokenRow>(`SELECT ${ROW_COLUMNS} FROM ${this.t} WHERE user_name_hash = ?${suffix}`, [plainHash(rule.value)]);
      return rows[0] ? rowToToken(rows[0], this.keyring, operation) : null;
    }
    const hashes = this.keyring.lookupHashes(rule.value);
    const rows = await exec.all<TokenRow>(
      `SELECT ${ROW_COLUMNS} FROM ${this.t} WHERE ${HASH_COLUMN[rule.by]} IN (${hashes.map(() => '?').join(', ')}) LIMIT 1${suffix}`,
      hashes,
    );
    return rows[0] ? rowToToken(rows[0], this.keyring, operation) : null;
  }

  /** Runs an operation, turning every failure into a `TokenStoreError` that names it. */
  private async guard<T>(operation: StoreOperation, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toStoreError(operation, err, this.exec);
    }
  }
}
