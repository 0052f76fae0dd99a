import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../logger';
import type { AuditLog } from '../stores/audit-log';
import type { AuditEvent, AuditPage, AuditQuery } from './audit';

export interface AuditTrailOptions {
  store: AuditLog;
  logger: Logger;
  /** Entries older than this many days are pruned; 0 keeps them forever. */
  retentionDays: number;
  /** How long recorded reads wait at most before they are written in one batch (default 1000 ms). */
  flushMs?: number;
  /** A batch is written as soon as this many distinct reads wait, without waiting for `flushMs` (default 1,000). */
  batchSize?: number;
  /**
   * Entries waiting for the store at most — queued plus in batches handed to
   * the store and not yet written (default 100,000). Only beyond it (the
   * store is down or far too slow) is a new entry dropped and counted.
   */
  maxBacklog?: number;
  /**
   * Above this many entries waiting for the store, a response that read
   * secrets waits (see `backpressure`) until the backlog is back under it
   * (default 5 × `batchSize`; at least `batchSize`).
   */
  waitAbove?: number;
  /** The longest a response waits for the backlog to drain (default 10,000 ms). */
  maxWaitMs?: number;
  /** Lost entries are logged at most once per this interval, with how many since the last warning (default 60,000 ms). */
  warnEveryMs?: number;
  /** How often old entries are pruned (default hourly). */
  pruneEveryMs?: number;
  /** Where `tokengate_audit_entries_lost_total` (read entries dropped or not written) is registered. */
  registry?: Registry;
  /** The clock `warnEveryMs` is measured by, in epoch ms [Date.now]; tests pass a controlled one. */
  now?: () => number;
}

type LostReason = 'overflow' | 'store';

/**
 * The gateway's side of the audit trail:
 * - writes (save, delete, refresh, revoke) record their entry in the store, in
 *   the write's own transaction — not here;
 * - reads of secret fields are recorded here, asynchronously in batches:
 *   within one batch window (`flushMs`), identical reads (one key, one token,
 *   the same fields) become one entry with a `count`. A batch is written when
 *   the window ends or as soon as `batchSize` distinct entries wait (a burst
 *   — an admin paging through every token — is written as it comes, in
 *   batches, one at a time, each in one transaction, instead of piling up).
 *   Nothing is dropped because of a burst: only when `maxBacklog` entries are
 *   already waiting for the store (down or far too slow) are new ones
 *   dropped, counted and logged (at most once per `warnEveryMs`). A normal
 *   response never waits for the audit table; when the backlog passes
 *   `waitAbove`, a response that read secrets waits for it to drain
 *   (`backpressure`), so a client reading secrets faster than the audit
 *   table accepts them is slowed to its pace rather than its reads going
 *   unrecorded. A gateway that stops writes what is waiting; a crash loses
 *   what was waiting (normally under one window);
 * - entries older than the retention are pruned in the background (every
 *   gateway process does it; a prune is idempotent).
 */
export class AuditTrail {
  private pending = new Map<string, AuditEvent>();
  /** Entries in batches handed to the store and not yet written (or given up on). */
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  /** The batches handed to the store, written one after the other; never rejects. */
  private flushing: Promise<void> = Promise.resolve();
  private waiters = new Set<() => void>();
  private closed = false;
  private lastWarnAt = -Infinity;
  private unreported: Record<LostReason, number> = { overflow: 0, store: 0 };
  private readonly flushMs: number;
  private readonly batchSize: number;
  private readonly maxBacklog: number;
  private readonly waitAbove: number;
  private readonly maxWaitMs: number;
  private readonly warnEveryMs: number;
  private readonly lost: Counter<'reason'>;

  constructor(private readonly o: AuditTrailOptions) {
    this.flushMs = o.flushMs ?? 1000;
    this.batchSize = Math.max(1, o.batchSize ?? 1000);
    this.maxBacklog = Math.max(this.batchSize, o.maxBacklog ?? 100_000);
    this.waitAbove = Math.max(this.batchSize, o.waitAbove ?? 5 * this.batchSize);
    this.maxWaitMs = o.maxWaitMs ?? 10_000;
    this.warnEveryMs = o.warnEveryMs ?? 60_000;
    this.lost = new Counter({
      name: 'tokengate_audit_entries_lost_total',
      help: 'Audit entries of secret reads that were not written, by reason (overflow, store).',
      labelNames: ['reason'] as const,
      registers: o.registry ? [o.registry] : [],
    });
  }

  /** Entries waiting for the store: queued, or handed to it and not yet written. */
  get backlog(): number {
    return this.pending.size + this.inFlight;
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
    const key = [
      event.action,
      event.tokenId ?? '',
      event.actor.role,
      event.actor.name,
      [...(event.fields ?? [])].sort().join(','),
      event.outcome ?? 'OK',
      event.detail ?? '',
    ].join('|');
    const same = this.pending.get(key);
    if (same) {
      same.count = (same.count ?? 1) + (event.count ?? 1);
      return;
    }
    if (this.backlog >= this.maxBacklog) {
      // The store is down or far behind: the entries already waiting keep their place.
      this.lose('overflow', 1);
      return;
    }
    this.pending.set(key, { ...event, at: event.at ?? new Date(), count: event.count ?? 1 });
    if (this.pending.size >= this.batchSize) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.flushMs).unref();
  }

  /**
   * Hands the queued entries to the store now. Resolves when every batch
   * handed so far is written (or given up on, counted and logged); never rejects.
   */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.size > 0) {
      const batch = [...this.pending.values()];
      this.pending = new Map();
      this.inFlight += batch.length;
      this.flushing = this.flushing.then(() => this.write(batch));
    }
    return this.flushing;
  }

  /**
   * For a response that recorded secret reads: `null` (nothing to wait for)
   * while at most `waitAbove` entries wait for the store — always, unless the
   * store has fallen behind; otherwise a promise that resolves once the
   * backlog is back under it, or after `maxWaitMs`, or when the trail closes.
   * Never rejects.
   */
  backpressure(): Promise<void> | null {
    if (this.closed || this.backlog <= this.waitAbove) return null;
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timeout);
        this.waiters.delete(done);
        resolve();
      };
      const timeout = setTimeout(done, this.maxWaitMs).unref();
      this.waiters.add(done);
    });
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

  /** Stops pruning and writes what is waiting (also what is recorded meanwhile). */
  async close(): Promise<void> {
    if (this.pruneTimer) clearTimeout(this.pruneTimer);
    this.pruneTimer = null;
    do {
      await this.flush();
    } while (this.pending.size > 0);
    this.closed = true;
    for (const done of [...this.waiters]) done();
  }

  private async write(batch: AuditEvent[]): Promise<void> {
    try {
      await this.o.store.appendAudit(batch);
    } catch (err) {
      this.lose('store', batch.length, err);
    } finally {
      this.inFlight -= batch.length;
      if (this.backlog <= this.waitAbove) for (const done of [...this.waiters]) done();
    }
  }

  /** Counts lost entries; logs them at most once per `warnEveryMs`, with how many since the last warning. */
  private lose(reason: LostReason, n: number, err?: unknown): void {
    this.lost.inc({ reason }, n);
    this.unreported[reason] += n;
    const now = (this.o.now ?? Date.now)();
    if (now - this.lastWarnAt < this.warnEveryMs) return;
    this.lastWarnAt = now;
    const lost = this.unreported;
    this.unreported = { overflow: 0, store: 0 };
    const e = err as { name?: unknown; code?: unknown } | undefined;
    this.o.logger.warn(
      { lost, backlog: this.backlog, maxBacklog: this.maxBacklog, ...(err !== undefined ? { err: { name: e?.name, code: e?.code } } : {}) },
      reason === 'overflow' ? 'audit entries of secret reads dropped: too many waiting for the store' : 'could not write audit entries of secret reads',
    );
  }
}
