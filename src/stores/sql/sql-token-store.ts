import type { AuditEntry, AuditedWrite } from '../../audit/audit';
import { STORE_ACTOR, normalizeEvent } from '../../audit/audit';
import type { Keyring } from '../../crypto/keyring';
import { plainHash } from '../../crypto/keyring';
import type { StoreOperation } from '../../errors';
import { LOOKUP_SECRET_FIELDS, type Token, type TokenInput, type TokenMatch, type TokenPage } from '../token';
import { clientMatches, decodeCursor, encodeCursor, requireLookupRule, validateId, validatePageSize, type LookupRule } from '../token-rules';
import type { SaveOptions, TokenStore } from '../token-store';
import { upsertToken, type UniqueField, type UpsertBackend } from '../upsert';
import { retryLostRaces } from '../lost-races';
import type { SqlAuditLog } from './sql-audit-log';
import type { SqlExecutor, SqlParam } from './sql-executor';
import { guarded, lostRace } from './store-error';
import { ROW_COLUMNS, WRITE_COLUMNS, hashColumnOf, rowToToken, rowValues, type TokenRow } from './token-row';

const UPDATE_SET = WRITE_COLUMNS.map((c) => `${c} = ?`).join(', ');
const INSERT_COLUMNS = ['id', ...WRITE_COLUMNS];

/**
 * The token store over SQL (SQLite and MySQL/MariaDB share it): secrets
 * encrypted by the `Keyring`, lookups through hash columns, every write one
 * transaction, duplicates made impossible by unique indexes.
 */
export class SqlTokenStore implements TokenStore {
  private readonly upsert: UpsertBackend<SqlExecutor>;
  /**
   * The lookups' SQL, made once: a statement is found by its text, and a
   * text built per call is hashed and compared in full every time.
   */
  private readonly sql = new Map<string, string>();

  /** @param t the quoted token table */
  constructor(
    private readonly exec: SqlExecutor,
    private readonly keyring: Keyring,
    private readonly t: string,
    private readonly audit: SqlAuditLog,
  ) {
    this.upsert = this.upsertBackend();
  }

  findToken(match: TokenMatch): Promise<Token | null> {
    return guarded('findToken', this.exec, async () => {
      const rule = requireLookupRule(match);
      const token = await this.findByRule(this.exec, rule, false, 'findToken');
      return token && clientMatches(rule, token) ? token : null;
    });
  }

  findTokenById(id: string): Promise<Token | null> {
    return guarded('findTokenById', this.exec, async () => this.findById(this.exec, validateId(id, 'findTokenById'), false, 'findTokenById'));
  }

  saveToken(input: TokenInput, options: SaveOptions = {}): Promise<Token> {
    return guarded('saveToken', this.exec, () => upsertToken(this.upsert, input, options));
  }

  deleteToken(id: string, options: AuditedWrite = {}): Promise<boolean> {
    return guarded('deleteToken', this.exec, async () => {
      validateId(id, 'deleteToken');
      return retryLostRaces(
        () =>
          this.exec.transaction(async (tx) => {
            const deleted = (await tx.run(`DELETE FROM ${this.t} WHERE id = ?`, [id])) > 0;
            if (deleted) await this.audit.insert(tx, [normalizeEvent(options.audit ?? { action: 'DELETE', actor: STORE_ACTOR }, { tokenId: id })]);
            return deleted;
          }),
        (err) => lostRace(this.exec, err),
      );
    });
  }

  getTokens(): Promise<Token[]> {
    return guarded('getTokens', this.exec, async () => {
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
    return guarded('deleteTokens', this.exec, () =>
      retryLostRaces(
        () =>
          this.exec.transaction(async (tx) => {
            // One entry per token, written by the database from the rows themselves, then the one DELETE.
            await this.audit.insertPerToken(tx, normalizeEvent(options.audit ?? { action: 'DELETE_ALL', actor: STORE_ACTOR }), this.t);
            return tx.run(`DELETE FROM ${this.t}`);
          }),
        (err) => lostRace(this.exec, err),
      ),
    );
  }

  countTokens(): Promise<number> {
    return guarded('countTokens', this.exec, async () => {
      const [{ n }] = await this.exec.all<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${this.t}`);
      return Number(n);
    });
  }

  listTokens(first: number, after?: string | null): Promise<TokenPage> {
    return guarded('listTokens', this.exec, () => this.page(validatePageSize(first), after ?? null));
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

  private lookupSql(key: string, make: () => string): string {
    let sql = this.sql.get(key);
    if (sql === undefined) this.sql.set(key, (sql = make()));
    return sql;
  }

  private async findById(exec: SqlExecutor, id: string, lock: boolean, operation: StoreOperation): Promise<Token | null> {
    const sql = this.lookupSql(`id${lock ? exec.forUpdate : ''}`, () => `SELECT ${ROW_COLUMNS} FROM ${this.t} WHERE id = ?${lock ? exec.forUpdate : ''}`);
    const rows = await exec.all<TokenRow>(sql, [id]);
    return rows[0] ? rowToToken(rows[0], this.keyring, operation) : null;
  }

  private async findByRule(exec: SqlExecutor, rule: LookupRule, lock: boolean, operation: StoreOperation): Promise<Token | null> {
    const hashes = rule.by === 'userName' ? [plainHash(rule.value)] : this.keyring.lookupHashes(rule.value);
    const sql = this.lookupSql(
      `${rule.by}:${hashes.length}${lock ? exec.forUpdate : ''}`,
      () => `SELECT ${ROW_COLUMNS} FROM ${this.t} WHERE ${hashColumnOf(rule.by)} IN (${hashes.map(() => '?').join(', ')}) LIMIT 1${lock ? exec.forUpdate : ''}`,
    );
    const rows = await exec.all<TokenRow>(sql, hashes);
    return rows[0] ? rowToToken(rows[0], this.keyring, operation) : null;
  }

  /** The user name and secrets of `token` that another row holds (under any accepted key). */
  private async findClashes(tx: SqlExecutor, token: Token): Promise<UniqueField[]> {
    const checks: Array<{ field: UniqueField; column: string; hashes: string[] }> = [];
    if (token.userName !== null) checks.push({ field: 'userName', column: hashColumnOf('userName'), hashes: [plainHash(token.userName)] });
    for (const field of LOOKUP_SECRET_FIELDS) {
      const value = token[field];
      if (value !== null) checks.push({ field, column: hashColumnOf(field), hashes: this.keyring.lookupHashes(value) });
    }
    if (checks.length === 0) return [];
    const params: SqlParam[] = [token.id];
    const terms = checks.map((c) => {
      params.push(...c.hashes);
      return `${c.column} IN (${c.hashes.map(() => '?').join(', ')})`;
    });
    const cols = checks.map((c) => c.column).join(', ');
    const rows = await tx.all<Record<string, string | null>>(`SELECT ${cols} FROM ${this.t} WHERE id <> ? AND (${terms.join(' OR ')}) LIMIT 1`, params);
    const row = rows[0];
    if (!row) return [];
    const clashes = checks.filter((c) => row[c.column] !== null && c.hashes.includes(row[c.column]!)).map((c) => c.field);
    return clashes.length > 0 ? clashes : [checks[0]!.field];
  }

  private upsertBackend(): UpsertBackend<SqlExecutor> {
    const exec = this.exec;
    return {
      transaction: (fn) => exec.transaction(fn),
      findById: (tx, id) => this.findById(tx, id, true, 'saveToken'),
      findByRule: (tx, rule) => this.findByRule(tx, rule, true, 'saveToken'),
      findClashes: (tx, token) => this.findClashes(tx, token),
      insert: async (tx, token) => {
        await tx.run(`INSERT INTO ${this.t} (${INSERT_COLUMNS.join(', ')}) VALUES (${INSERT_COLUMNS.map(() => '?').join(', ')})`, [
          token.id,
          ...rowValues(token, this.keyring),
        ]);
      },
      update: async (tx, token, version) =>
        (await tx.run(`UPDATE ${this.t} SET ${UPDATE_SET} WHERE id = ? AND version = ?`, [...rowValues(token, this.keyring), token.id, version])) === 1,
      recordAudit: (tx, entries: ReadonlyArray<Omit<AuditEntry, 'id'>>) => this.audit.insert(tx, entries),
      // With one key, the unique indexes on the hash columns see every duplicate: the write itself is the
      // check. With several (a rotation), a secret may be stored under another key's hash, which no index sees.
      checkDuplicatesFirst: this.keyring.keyIds.length > 1,
      classify: (err) => {
        const kind = exec.classify(err);
        return kind === 'unique' || kind === 'retry' ? kind : 'other';
      },
    };
  }
}
