import { STORE_ACTOR, decodeAuditCursor, encodeAuditCursor, normalizeEvent, type AuditEntry, type AuditEvent, type AuditPage, type AuditQuery, type AuditedWrite } from '../audit/audit';
import { TokenStoreError, type StoreOperation } from '../errors';
import { LOOKUP_SECRET_FIELDS, type LookupSecretField, type Token, type TokenInput, type TokenMatch, type TokenPage } from './token';
import type { KeyUsage, ReencryptBatch, SaveOptions, TokenStore } from './token-store';
import { MemoryGovernorStore } from './memory-governor-store';
import { MemoryProviderStore } from './memory-provider-store';
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
} from './token-rules';

type IndexedField = 'userName' | LookupSecretField;
const INDEXED: readonly IndexedField[] = ['userName', ...LOOKUP_SECRET_FIELDS];
const LABEL: Record<IndexedField, string> = { userName: 'user name', accessToken: 'access token', refreshToken: 'refresh token', grantToken: 'grant token' };

const copy = (t: Token): Token => ({
  ...t,
  expiresAt: t.expiresAt && new Date(t.expiresAt),
  lastRefreshedAt: t.lastRefreshedAt && new Date(t.lastRefreshedAt),
  failedAt: t.failedAt && new Date(t.failedAt),
  throttledUntil: t.throttledUntil && new Date(t.throttledUntil),
  createdAt: new Date(t.createdAt),
  updatedAt: new Date(t.updatedAt),
});

/**
 * The token store in process memory: for tests, demos and single-process
 * gateways that may lose their tokens on restart. Same rules as the SQL
 * stores (it runs the same contract suite); every operation is synchronous
 * under the hood, so each is atomic. Tokens are copied in and out: a caller
 * never holds a reference into the store.
 */
export class MemoryTokenStore implements TokenStore {
  readonly kind = 'memory' as const;
  private readonly tokens = new Map<string, Token>();
  private readonly indexes: Record<IndexedField, Map<string, string>> = {
    userName: new Map(),
    accessToken: new Map(),
    refreshToken: new Map(),
    grantToken: new Map(),
  };
  private readonly leases = new Map<string, { owner: string; until: number }>();
  /** Ids in listing order; rebuilt lazily after an insert or delete. */
  private sortedIds: string[] | null = null;
  /** The audit trail, oldest first; at most `maxAuditEntries` (the oldest go first). */
  private audit: AuditEntry[] = [];
  private nextAuditId = 1;

  readonly providers = new MemoryProviderStore((name) => [...this.tokens.values()].filter((t) => t.provider === name).length);
  readonly governor = new MemoryGovernorStore((id, until) => {
    const token = this.tokens.get(id);
    if (token) this.tokens.set(id, { ...token, throttledUntil: until && new Date(until) });
  });

  /** @param maxAuditEntries the most audit entries kept in memory (default 100,000). */
  constructor(private readonly maxAuditEntries = 100_000) {}

  async findToken(match: TokenMatch): Promise<Token | null> {
    return this.guard('findToken', () => {
      const rule = requireLookupRule(match);
      const token = this.byRule(rule);
      return token && clientMatches(rule, token) ? copy(token) : null;
    });
  }

  async findTokenById(id: string): Promise<Token | null> {
    return this.guard('findTokenById', () => {
      const token = this.tokens.get(validateId(id, 'findTokenById'));
      return token ? copy(token) : null;
    });
  }

  async saveToken(input: TokenInput, options: SaveOptions = {}): Promise<Token> {
    return this.guard('saveToken', () => {
      validateInput(input);
      let existing: Token | null;
      let id: string;
      if (input.id) {
        id = input.id;
        existing = this.tokens.get(id) ?? null;
      } else {
        const rule = saveRule(input);
        existing = rule ? this.byRule(rule) : null;
        if (rule && existing && !clientMatches(rule, existing)) {
          throw new TokenStoreError('saveToken', 'CONFLICT', `the ${LABEL[rule.by]} is already stored with another client's token`);
        }
        id = existing?.id ?? generateId();
      }
      if (options.ifVersion !== undefined && existing?.version !== options.ifVersion) {
        throw new TokenStoreError('saveToken', 'CONFLICT', 'the token changed since it was read');
      }
      const token = mergeToken(existing && copy(existing), input, id, new Date());
      options.complete?.(token, existing && copy(existing));
      for (const field of INDEXED) {
        const value = token[field];
        const holder = value === null ? undefined : this.indexes[field].get(value);
        if (holder !== undefined && holder !== id) {
          throw new TokenStoreError('saveToken', 'CONFLICT', `the ${LABEL[field]} is already stored with another token`);
        }
      }
      // Checked everything: from here on nothing can fail.
      if (existing) this.unindex(existing);
      else this.sortedIds = null;
      this.tokens.set(id, token);
      this.index(token);
      this.record([normalizeEvent(options.audit ?? { action: 'SAVE', actor: STORE_ACTOR }, { tokenId: id, fields: givenFields(input), detail: existing ? 'updated' : 'created' })]);
      return copy(token);
    });
  }

  async deleteToken(id: string, options: AuditedWrite = {}): Promise<boolean> {
    return this.guard('deleteToken', () => {
      const token = this.tokens.get(validateId(id, 'deleteToken'));
      if (!token) return false;
      this.unindex(token);
      this.tokens.delete(id);
      this.leases.delete(id);
      this.sortedIds = null;
      this.record([normalizeEvent(options.audit ?? { action: 'DELETE', actor: STORE_ACTOR }, { tokenId: id })]);
      return true;
    });
  }

  async getTokens(): Promise<Token[]> {
    return this.guard('getTokens', () => this.ids().map((id) => copy(this.tokens.get(id)!)));
  }

  async deleteTokens(options: AuditedWrite = {}): Promise<number> {
    return this.guard('deleteTokens', () => {
      const n = this.tokens.size;
      const entry = normalizeEvent(options.audit ?? { action: 'DELETE_ALL', actor: STORE_ACTOR });
      this.record(this.ids().map((tokenId) => ({ ...entry, tokenId })));
      this.tokens.clear();
      for (const index of Object.values(this.indexes)) index.clear();
      this.leases.clear();
      this.sortedIds = null;
      return n;
    });
  }

  async countTokens(): Promise<number> {
    return this.guard('countTokens', () => this.tokens.size);
  }

  async listTokens(first: number, after?: string | null): Promise<TokenPage> {
    return this.guard('listTokens', () => {
      validatePageSize(first);
      const afterId = after ? decodeCursor(after) : null;
      const ids = this.ids();
      let start = 0;
      if (afterId !== null) {
        // Binary search for the first id greater than the cursor's.
        let lo = 0;
        let hi = ids.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (ids[mid]! <= afterId) lo = mid + 1;
          else hi = mid;
        }
        start = lo;
      }
      const nodes = ids.slice(start, start + first).map((id) => copy(this.tokens.get(id)!));
      const last = nodes[nodes.length - 1];
      return { nodes, endCursor: last ? encodeCursor(last.id) : null, hasNextPage: start + first < ids.length };
    });
  }

  async acquireLease(id: string, owner: string, ttlMs: number): Promise<boolean> {
    if (!this.tokens.has(id)) return false;
    const now = Date.now();
    const lease = this.leases.get(id);
    if (lease && lease.owner !== owner && lease.until >= now) return false;
    this.leases.set(id, { owner, until: now + ttlMs });
    return true;
  }

  async releaseLease(id: string, owner: string): Promise<void> {
    if (this.leases.get(id)?.owner === owner) this.leases.delete(id);
  }

  async findRefreshCandidates(before: Date, limit: number): Promise<string[]> {
    const cutoff = before.getTime();
    return [...this.tokens.values()]
      .filter((t) => t.failedAt === null && (t.refreshToken !== null || t.grantToken !== null) && (t.expiresAt === null || t.expiresAt.getTime() < cutoff))
      .sort((a, b) => (a.expiresAt?.getTime() ?? -1) - (b.expiresAt?.getTime() ?? -1))
      .slice(0, Math.max(1, Math.floor(limit)))
      .map((t) => t.id);
  }

  async appendAudit(events: readonly AuditEvent[]): Promise<void> {
    this.guard('appendAudit', () => this.record(events.map((e) => normalizeEvent(e))));
  }

  async listAudit(query: AuditQuery): Promise<AuditPage> {
    return this.guard('listAudit', () => {
      const first = validateAuditPage(query.first);
      let cursor: { atMs: number; id: number } | null = null;
      if (query.after !== undefined && query.after !== null) {
        cursor = decodeAuditCursor(query.after);
        if (cursor === null) throw new TokenStoreError('listAudit', 'INVALID_INPUT', 'the cursor is not one this API returned');
      }
      const tokenId = query.tokenId ?? null;
      if (tokenId !== null) validateId(tokenId, 'listAudit');
      const actions = query.actions && query.actions.length > 0 ? new Set(query.actions) : null;
      // Newest first by time, then id (as the SQL stores): batched reads are written after the fact.
      const key = (e: AuditEntry): [number, number] => [e.at.getTime(), Number(e.id)];
      const before = (e: AuditEntry) => {
        if (!cursor) return true;
        const [at, id] = key(e);
        return at < cursor.atMs || (at === cursor.atMs && id < cursor.id);
      };
      const matching = this.audit
        .filter((e) => (tokenId === null || e.tokenId === tokenId) && (!actions || actions.has(e.action)) && before(e))
        .sort((a, b) => b.at.getTime() - a.at.getTime() || Number(b.id) - Number(a.id));
      const nodes = matching.slice(0, first).map((e) => ({ ...e, at: new Date(e.at), fields: [...e.fields] }));
      const last = nodes[nodes.length - 1];
      return { nodes, endCursor: last ? encodeAuditCursor(last) : null, hasNextPage: matching.length > first };
    });
  }

  async pruneAudit(before: Date): Promise<number> {
    return this.guard('pruneAudit', () => {
      const cutoff = before.getTime();
      const kept = this.audit.filter((e) => e.at.getTime() >= cutoff);
      const n = this.audit.length - kept.length;
      this.audit = kept;
      return n;
    });
  }

  /** Nothing is encrypted in memory. */
  async keyUsage(): Promise<KeyUsage[]> {
    return [];
  }

  /** Nothing is encrypted in memory: nothing to re-encrypt. */
  async reencryptBatch(): Promise<ReencryptBatch> {
    return { scanned: 0, reencrypted: 0, skipped: 0, failed: [], lastId: null };
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}

  private record(entries: ReadonlyArray<Omit<AuditEntry, 'id'>>): void {
    for (const e of entries) this.audit.push({ ...e, id: String(this.nextAuditId++) });
    if (this.audit.length > this.maxAuditEntries) this.audit.splice(0, this.audit.length - this.maxAuditEntries);
  }

  private ids(): string[] {
    // Plain code-unit order: the same as the SQL stores' binary collation for ASCII ids.
    this.sortedIds ??= [...this.tokens.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return this.sortedIds;
  }

  private byRule(rule: LookupRule): Token | null {
    const id = this.indexes[rule.by].get(rule.value);
    return id === undefined ? null : (this.tokens.get(id) ?? null);
  }

  private index(token: Token): void {
    for (const field of INDEXED) if (token[field] !== null) this.indexes[field].set(token[field]!, token.id);
  }

  private unindex(token: Token): void {
    for (const field of INDEXED) if (token[field] !== null) this.indexes[field].delete(token[field]!);
  }

  private guard<T>(operation: StoreOperation, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof TokenStoreError) throw err.operation === operation ? err : new TokenStoreError(operation, err.kind, err.detail, { cause: err });
      throw new TokenStoreError(operation, 'INTERNAL', 'the memory store failed', { cause: err });
    }
  }
}
