import type { AuditEntry } from '../../audit/audit';
import { TokenStoreError, type StoreOperation } from '../../errors';
import { LOOKUP_SECRET_FIELDS, type Token } from '../token';
import type { UniqueField } from '../upsert';

export const UNIQUE_FIELDS: readonly UniqueField[] = ['userName', ...LOOKUP_SECRET_FIELDS];

/** A copy of a token: a caller never holds a reference into the store. */
export const copy = (t: Token): Token => ({
  ...t,
  expiresAt: t.expiresAt && new Date(t.expiresAt),
  lastRefreshedAt: t.lastRefreshedAt && new Date(t.lastRefreshedAt),
  failedAt: t.failedAt && new Date(t.failedAt),
  throttledUntil: t.throttledUntil && new Date(t.throttledUntil),
  createdAt: new Date(t.createdAt),
  updatedAt: new Date(t.updatedAt),
});

/** The state the memory stores share: what the tables are for the SQL stores. */
export class MemoryDatabase {
  readonly tokens = new Map<string, Token>();
  /** Each unique field's value → the id of the token holding it. */
  readonly indexes: Record<UniqueField, Map<string, string>> = {
    userName: new Map(),
    accessToken: new Map(),
    refreshToken: new Map(),
    grantToken: new Map(),
  };
  readonly leases = new Map<string, { owner: string; until: number }>();
  /** The audit trail, oldest first; at most `maxAuditEntries` (the oldest go first). */
  audit: AuditEntry[] = [];
  private nextAuditId = 1;
  /** Ids in listing order; rebuilt lazily after an insert or delete. */
  private sortedIds: string[] | null = null;

  /** @param maxAuditEntries the most audit entries kept (default 100,000). */
  constructor(readonly maxAuditEntries = 100_000) {}

  /** Stores a token (a copy), replacing the one with its id. */
  put(token: Token): void {
    const previous = this.tokens.get(token.id);
    if (previous) this.unindex(previous);
    else this.sortedIds = null;
    const stored = copy(token);
    this.tokens.set(token.id, stored);
    for (const field of UNIQUE_FIELDS) if (stored[field] !== null) this.indexes[field].set(stored[field]!, stored.id);
  }

  delete(id: string): boolean {
    const token = this.tokens.get(id);
    if (!token) return false;
    this.unindex(token);
    this.tokens.delete(id);
    this.leases.delete(id);
    this.sortedIds = null;
    return true;
  }

  clear(): void {
    this.tokens.clear();
    for (const index of Object.values(this.indexes)) index.clear();
    this.leases.clear();
    this.sortedIds = null;
  }

  /** Ids in plain code-unit order: the same as the SQL stores' binary collation for ASCII ids. */
  ids(): string[] {
    this.sortedIds ??= [...this.tokens.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return this.sortedIds;
  }

  record(entries: ReadonlyArray<Omit<AuditEntry, 'id'>>): void {
    for (const e of entries) this.audit.push({ ...e, id: String(this.nextAuditId++) });
    if (this.audit.length > this.maxAuditEntries) this.audit.splice(0, this.audit.length - this.maxAuditEntries);
  }

  private unindex(token: Token): void {
    for (const field of UNIQUE_FIELDS) if (token[field] !== null) this.indexes[field].delete(token[field]!);
  }
}

/** Runs a memory store operation, turning every failure into a `TokenStoreError` that names it. */
export async function guarded<T>(operation: StoreOperation, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TokenStoreError) throw err.operation === operation ? err : new TokenStoreError(operation, err.kind, err.detail, { cause: err });
    throw new TokenStoreError(operation, 'INTERNAL', 'the memory store failed', { cause: err });
  }
}
