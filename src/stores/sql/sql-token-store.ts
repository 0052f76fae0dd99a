import { setTimeout as sleep } from 'node:timers/promises';
import type { Keyring } from '../../crypto/keyring';
import { plainHash } from '../../crypto/keyring';
import { KeyMismatchError, TokenStoreError, type StoreOperation } from '../../errors';
import { LOOKUP_SECRET_FIELDS, type LookupSecretField, type Token, type TokenInput, type TokenMatch, type TokenPage } from '../token';
import type { SaveOptions, StoreKind, TokenStore } from '../token-store';
import {
  clientMatches,
  decodeCursor,
  encodeCursor,
  generateId,
  mergeToken,
  requireLookupRule,
  saveRule,
  validateId,
  validateInput,
  validatePageSize,
  type LookupRule,
} from '../token-rules';
import { nowMsExpression, quoteIdent } from './sql-dialect';
import type { SqlExecutor, SqlParam } from './sql-executor';
import { ROW_COLUMNS, WRITE_COLUMNS, rowToToken, rowValues, type TokenRow } from './token-row';

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

/** How often a save is tried again after losing a race to a concurrent writer. */
const SAVE_ATTEMPTS = 8;

/** Signals inside a transaction that a concurrent writer got there first. */
class LostRace extends Error {}

/**
 * The token store over SQL (SQLite and MySQL/MariaDB share it): secrets
 * encrypted by the `Keyring`, lookups through hash columns, every write one
 * transaction, duplicates made impossible by unique indexes and resolved by
 * retrying the upsert.
 */
export class SqlTokenStore implements TokenStore {
  private readonly t: string;
  private readonly now: string;

  constructor(
    readonly kind: Extract<StoreKind, 'sqlite' | 'mysql'>,
    private readonly exec: SqlExecutor,
    private readonly keyring: Keyring,
    table: string,
    private readonly onClose: () => Promise<void>,
  ) {
    this.t = quoteIdent(exec.dialect, table);
    this.now = nowMsExpression(exec.dialect);
  }

  findToken(match: TokenMatch): Promise<Token | null> {
    return this.guard('findToken', async () => {
      const rule = requireLookupRule(match);
      const token = await this.findByRule(this.exec, rule, false);
      return token && clientMatches(rule, token) ? token : null;
    });
  }

  findTokenById(id: string): Promise<Token | null> {
    return this.guard('findTokenById', async () => this.findById(this.exec, validateId(id, 'findTokenById'), false));
  }

  saveToken(input: TokenInput, options: SaveOptions = {}): Promise<Token> {
    return this.guard('saveToken', async () => {
      validateInput(input);
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.exec.transaction((tx) => this.upsert(tx, input, options));
        } catch (err) {
          const raced = err instanceof LostRace || ['unique', 'retry'].includes(this.exec.classify(err));
          if (!raced || attempt >= SAVE_ATTEMPTS) throw err;
          await sleep(Math.random() * 5 * attempt);
        }
      }
    });
  }

  private async upsert(tx: SqlExecutor, input: TokenInput, options: SaveOptions): Promise<Token> {
    let existing: Token | null = null;
    let id: string;
    let rule: LookupRule | null = null;
    if (input.id) {
      id = input.id;
      existing = await this.findById(tx, id, true);
    } else {
      rule = saveRule(input);
      existing = rule ? await this.findByRule(tx, rule, true) : null;
      id = existing?.id ?? generateId();
    }
    if (options.ifVersion !== undefined && existing?.version !== options.ifVersion) {
      throw new TokenStoreError('saveToken', 'CONFLICT', 'the token changed since it was read');
    }
    const token = mergeToken(existing, input, id, new Date());
    options.complete?.(token);
    await this.assertNoDuplicate(tx, token, rule);
    const values = rowValues(token, this.keyring);
    if (existing) {
      const set = WRITE_COLUMNS.map((c) => `${c} = ?`).join(', ');
      const changed = await tx.run(`UPDATE ${this.t} SET ${set} WHERE id = ? AND version = ?`, [...values, id, existing.version]);
      if (changed !== 1) throw new LostRace();
    } else {
      const cols = ['id', ...WRITE_COLUMNS];
      await tx.run(`INSERT INTO ${this.t} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`, [id, ...values]);
    }
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
    const clash = checks.find((c) => row[c.column] !== null && c.hashes.includes(row[c.column]!)) ?? checks[0]!;
    if (rule && rule.by === clash.field) throw new LostRace();
    throw new TokenStoreError('saveToken', 'CONFLICT', `the ${FIELD_LABEL[clash.field]} is already stored with another token`);
  }

  deleteToken(id: string): Promise<boolean> {
    return this.guard('deleteToken', async () => (await this.exec.run(`DELETE FROM ${this.t} WHERE id = ?`, [validateId(id, 'deleteToken')])) > 0);
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

  deleteTokens(): Promise<number> {
    return this.guard('deleteTokens', () => this.exec.run(`DELETE FROM ${this.t}`));
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
    const [{ n }] = await this.exec.all<{ n: number | string }>(`SELECT COUNT(*) AS n FROM ${this.t}`);
    const nodes = rows.slice(0, first).map((r) => rowToToken(r, this.keyring));
    const last = nodes[nodes.length - 1];
    return { nodes, totalCount: Number(n), endCursor: last ? encodeCursor(last.id) : null, hasNextPage: rows.length > first };
  }

  acquireLease(id: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.guard('acquireLease', async () => {
      const changed = await this.exec.run(
        `UPDATE ${this.t} SET lease_owner = ?, lease_until = ${this.now} + ? WHERE id = ? AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ${this.now})`,
        [owner, Math.round(ttlMs), id, owner],
      );
      return changed === 1;
    });
  }

  releaseLease(id: string, owner: string): Promise<void> {
    return this.guard('releaseLease', async () => {
      await this.exec.run(`UPDATE ${this.t} SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?`, [id, owner]);
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

  private async findById(exec: SqlExecutor, id: string, lock: boolean): Promise<Token | null> {
    const rows = await exec.all<TokenRow>(`SELECT ${ROW_COLUMNS} FROM ${this.t} WHERE id = ?${lock ? exec.forUpdate : ''}`, [id]);
    return rows[0] ? rowToToken(rows[0], this.keyring) : null;
  }

  private async findByRule(exec: SqlExecutor, rule: LookupRule, lock: boolean): Promise<Token | null> {
    const suffix = lock ? exec.forUpdate : '';
    if (rule.by === 'userName') {
      const rows = await exec.all<TokenRow>(`SELECT ${ROW_COLUMNS} FROM ${this.t} WHERE user_name_hash = ?${suffix}`, [plainHash(rule.value)]);
      return rows[0] ? rowToToken(rows[0], this.keyring) : null;
    }
    const hashes = this.keyring.lookupHashes(rule.value);
    const rows = await exec.all<TokenRow>(
      `SELECT ${ROW_COLUMNS} FROM ${this.t} WHERE ${HASH_COLUMN[rule.by]} IN (${hashes.map(() => '?').join(', ')}) LIMIT 1${suffix}`,
      hashes,
    );
    return rows[0] ? rowToToken(rows[0], this.keyring) : null;
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

/** Maps anything a store operation threw to a `TokenStoreError`, keeping the cause. */
export function toStoreError(operation: StoreOperation, err: unknown, exec?: SqlExecutor): TokenStoreError {
  if (err instanceof TokenStoreError) {
    return err.operation === operation ? err : new TokenStoreError(operation, err.kind, err.detail, { cause: err });
  }
  if (err instanceof LostRace) {
    return new TokenStoreError(operation, 'CONFLICT', 'concurrent writes of this token kept winning; try again', { cause: err });
  }
  if (err instanceof KeyMismatchError) {
    return new TokenStoreError(operation, 'INTERNAL', 'a stored secret does not decrypt with the configured encryption keys', { cause: err });
  }
  switch (exec?.classify(err)) {
    case 'unavailable':
      return new TokenStoreError(operation, 'UNAVAILABLE', 'the database is not reachable', { cause: err });
    case 'unique':
    case 'retry':
      return new TokenStoreError(operation, 'CONFLICT', 'a concurrent write won; try again', { cause: err });
    default:
      return new TokenStoreError(operation, 'INTERNAL', 'the database failed', { cause: err });
  }
}
