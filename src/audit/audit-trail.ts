import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../logger';
import type { TokenStore } from '../stores/token-store';
import type { AuditEvent, AuditPage, AuditQuery } from './audit';

export interface AuditTrailOptions {
  store: TokenStore;
  logger: Logger;
  /** Entries older than this many days are pruned; 0 keeps them forever. */
  retentionDays: number;
  /** How long recorded reads wait before they are written in one batch (default 1000 ms). */
  flushMs?: number;
  /** Reads waiting at most; beyond it the oldest are dropped and counted (default 10,000). */
  maxPending?: number;
  /** How often old entries are pruned (default hourly). */
  pruneEveryMs?: number;
  /** Where `tokengate_audit_entries_lost_total` (read entries dropped or not written) is registered. */
  registry?: Registry;
}

/**
 * The gateway's side of the audit trail:
 * - writes (save, delete, refresh, revoke) record their entry in the store, in
 *   the write's own transaction — not here;
 * - reads of secret fields are recorded here, asynchronously in batches: an
 *   API response never waits for the audit table. Within one batch window,
 *   identical reads (one key, one token, the same fields) become one entry
 *   with a `count`. A gateway that stops flushes what is waiting; a crash
 *   loses at most one window of read entries;
 * - entries older than the retention are pruned in the background (every
 *   gateway process does it; a prune is idempotent).
 */
export class AuditTrail {
  private pending = new Map<string, AuditEvent>();
  private timer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly flushMs: number;
  private readonly maxPending: number;
  private readonly lost: Counter<'reason'>;

  constructor(private readonly o: AuditTrailOptions) {
    this.flushMs = o.flushMs ?? 1000;
    this.maxPending = o.maxPending ?? 10_000;
    this.lost = new Counter({
      name: 'tokengate_audit_entries_lost_total',
      help: 'Audit entries of secret reads that were not written, by reason (overflow, store).',
      labelNames: ['reason'] as const,
      registers: o.registry ? [o.registry] : [],
    });
  }

  /** Starts the pruning task: a first prune shortly after start, then every `pruneEveryMs`. */
  start(): void {
    if (this.o.retentionDays <= 0 || this.pruneTimer || this.closed) return;
    const every = this.o.pruneEveryMs ?? 3_600_000;
    const tick = () => {
      void this.prune()
        .catch(() => undefined)
        .finally(() => {
          if (!this.closed) this.pruneTimer = setTimeout(tick, every).unref();
        });
    };
    this.pruneTimer = setTimeout(tick, 5_000 + Math.random() * 25_000).unref();
  }

  /**
   * Queues an entry to be written with the next batch (never blocks, never
   * throws). Meant for reads; a write records its entry in its transaction.
   */
  record(event: AuditEvent): void {
    if (this.closed) return;
    const key = [event.action, event.tokenId ?? '', event.actor.role, event.actor.name, [...(event.fields ?? [])].sort().join(','), event.outcome ?? 'OK', event.detail ?? ''].join('|');
    const same = this.pending.get(key);
    if (same) {
      same.count = (same.count ?? 1) + (event.count ?? 1);
    } else {
      if (this.pending.size >= this.maxPending) {
        const oldest = this.pending.keys().next().value as string;
        this.pending.delete(oldest);
        this.lost.inc({ reason: 'overflow' });
      }
      this.pending.set(key, { ...event, at: event.at ?? new Date(), count: event.count ?? 1 });
    }
    this.timer ??= setTimeout(() => void this.flush(), this.flushMs).unref();
  }

  /** Writes the queued entries now. Resolves when they are written (or given up on, logged). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    this.flushing = this.flushing.then(async () => {
      if (batch.length === 0) return;
      try {
        await this.o.store.appendAudit(batch);
      } catch (err) {
        this.lost.inc({ reason: 'store' }, batch.length);
        this.o.logger.warn({ entries: batch.length, err: { name: (err as Error)?.name, code: (err as { code?: unknown })?.code } }, 'could not write audit entries of secret reads');
      }
    });
    return this.flushing;
  }

  /** A page of the trail, newest first. */
  list(query: AuditQuery): Promise<AuditPage> {
    return this.o.store.listAudit(query);
  }

  /** Deletes the entries older than the retention. @returns how many. */
  async prune(now = Date.now()): Promise<number> {
    if (this.o.retentionDays <= 0) return 0;
    try {
      const n = await this.o.store.pruneAudit(new Date(now - this.o.retentionDays * 86_400_000));
      if (n > 0) this.o.logger.info({ pruned: n, retentionDays: this.o.retentionDays }, 'pruned old audit entries');
      return n;
    } catch (err) {
      this.o.logger.warn({ err: { name: (err as Error)?.name, code: (err as { code?: unknown })?.code } }, 'could not prune the audit trail');
      throw err;
    }
  }

  /** Stops pruning and writes what is waiting. */
  async close(): Promise<void> {
    if (this.pruneTimer) clearTimeout(this.pruneTimer);
    this.pruneTimer = null;
    await this.flush();
    this.closed = true;
  }
}
