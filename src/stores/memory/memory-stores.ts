import { decodeAuditCursor, encodeAuditCursor, normalizeEvent, type AuditEntry, type AuditEvent, type AuditPage, type AuditQuery } from '../../audit/audit';
import { TokenStoreError } from '../../errors';
import type { AuditLog } from '../audit-log';
import type { KeyRotation, KeyUsage, ReencryptBatch } from '../key-rotation';
import type { LeaseStore } from '../lease-store';
import type { Stores } from '../stores';
import { validateAuditPage, validateId } from '../token-rules';
import { MemoryDatabase, guarded } from './memory-database';
import { MemoryTokenBrowse } from './memory-token-browse';
import { MemoryTokenStore } from './memory-token-store';
import { MemoryGovernorStore } from './memory-governor-store';
import { MemoryProviderStore } from './memory-provider-store';
import { MemoryClientStore, MemoryConnectStore } from './memory-client-store';

/** Refresh leases in memory (one process: they only coordinate its own callers). */
export class MemoryLeaseStore implements LeaseStore {
  constructor(private readonly db: MemoryDatabase) {}

  async acquireLease(id: string, owner: string, ttlMs: number): Promise<boolean> {
    if (!this.db.tokens.has(id)) return false;
    const now = Date.now();
    const lease = this.db.leases.get(id);
    if (lease && lease.owner !== owner && lease.until >= now) return false;
    this.db.leases.set(id, { owner, until: now + ttlMs });
    return true;
  }

  async releaseLease(id: string, owner: string): Promise<void> {
    if (this.db.leases.get(id)?.owner === owner) this.db.leases.delete(id);
  }

  async findRefreshCandidates(before: Date, limit: number): Promise<string[]> {
    const cutoff = before.getTime();
    return [...this.db.tokens.values()]
      .filter((t) => t.failedAt === null && (t.refreshToken !== null || t.grantToken !== null) && (t.expiresAt === null || t.expiresAt.getTime() < cutoff))
      .sort((a, b) => (a.expiresAt?.getTime() ?? -1) - (b.expiresAt?.getTime() ?? -1))
      .slice(0, Math.max(1, Math.floor(limit)))
      .map((t) => t.id);
  }
}

/** The audit trail in memory, bounded by the database's `maxAuditEntries`. */
export class MemoryAuditLog implements AuditLog {
  constructor(private readonly db: MemoryDatabase) {}

  async appendAudit(events: readonly AuditEvent[]): Promise<void> {
    await guarded('appendAudit', () => this.db.record(events.map((e) => normalizeEvent(e))));
  }

  async listAudit(query: AuditQuery): Promise<AuditPage> {
    return guarded('listAudit', () => {
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
      const before = (e: AuditEntry) => {
        if (!cursor) return true;
        const at = e.at.getTime();
        return at < cursor.atMs || (at === cursor.atMs && Number(e.id) < cursor.id);
      };
      const matching = this.db.audit
        .filter((e) => (tokenId === null || e.tokenId === tokenId) && (!actions || actions.has(e.action)) && before(e))
        .sort((a, b) => b.at.getTime() - a.at.getTime() || Number(b.id) - Number(a.id));
      const nodes = matching.slice(0, first).map((e) => ({ ...e, at: new Date(e.at), fields: [...e.fields] }));
      const last = nodes[nodes.length - 1];
      return { nodes, endCursor: last ? encodeAuditCursor(last) : null, hasNextPage: matching.length > first };
    });
  }

  async pruneAudit(before: Date): Promise<number> {
    return guarded('pruneAudit', () => {
      const cutoff = before.getTime();
      const kept = this.db.audit.filter((e) => e.at.getTime() >= cutoff);
      const n = this.db.audit.length - kept.length;
      this.db.audit = kept;
      return n;
    });
  }
}

/** Nothing is encrypted in memory: no key in use, nothing to re-encrypt. */
export class MemoryKeyRotation implements KeyRotation {
  async keyUsage(): Promise<KeyUsage[]> {
    return [];
  }

  async reencryptBatch(): Promise<ReencryptBatch> {
    return { scanned: 0, reencrypted: 0, skipped: 0, failed: [], lastId: null };
  }
}

/** The stores of one process's memory. */
export function memoryStores(db = new MemoryDatabase()): Stores {
  return {
    kind: 'memory',
    tokens: new MemoryTokenStore(db),
    leases: new MemoryLeaseStore(db),
    audit: new MemoryAuditLog(db),
    keys: new MemoryKeyRotation(),
    browse: new MemoryTokenBrowse(db),
    providers: new MemoryProviderStore((name) => [...db.tokens.values()].filter((t) => t.provider === name).length),
    governor: new MemoryGovernorStore((id, until) => {
      const token = db.tokens.get(id);
      // Not a write of the token: no new version, no index change.
      if (token) db.tokens.set(id, { ...token, throttledUntil: until && new Date(until) });
    }),
    clients: new MemoryClientStore(db),
    connects: new MemoryConnectStore(),
    ping: async () => undefined,
    close: async () => undefined,
  };
}
