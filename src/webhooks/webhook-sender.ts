import { Counter, type Registry } from 'prom-client';
import { systemClock, type Clock } from '../clock';
import type { Logger } from '../logger';
import type { WebhookEvent } from './webhook-event';
import { SIGNATURE_HEADER, signWebhook } from './webhook-signature';

export interface WebhookSenderOptions {
  url: string;
  secret: string;
  logger: Logger;
  /** Attempts per event, the first included (default 8). */
  maxAttempts?: number;
  /** Delay before the first retry; doubling, with jitter, at most `maxBackoffMs` (default 1000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Timeout of one attempt (default 5000 ms). */
  timeoutMs?: number;
  /** Events waiting or in delivery at most; more are dropped and logged (default 1000). */
  maxQueued?: number;
  /** Requests in flight at most (default 4). */
  concurrency?: number;
  /** Where `tokengate_webhook_deliveries_total` is registered. */
  registry?: Registry;
  /** The waits between attempts, and the grace of `close` [the real clock]. */
  clock?: Clock;
}

/** Statuses worth another attempt: the receiver is down or busy. Any other 4xx (and 3xx) is final. */
const RETRYABLE = (status: number) => status >= 500 || status === 408 || status === 429;

/**
 * Delivers webhook events: `send` queues and returns at once (nothing ever
 * waits on a delivery), a few deliveries run at a time in the background,
 * each POSTed as JSON with a fresh `Tokengate-Signature` and retried with
 * exponential backoff and jitter on a network error, a timeout, a 5xx, 408
 * or 429, up to `maxAttempts`. Events live in this process's memory only: a
 * process that stops gives up what is still pending (logged). Deliveries
 * are at least once; the event id is stable, so receivers dedupe on it.
 */
export class WebhookSender {
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly timeoutMs: number;
  private readonly maxQueued: number;
  private readonly concurrency: number;
  private readonly stopping = new AbortController();
  private readonly pending = new Set<Promise<void>>();
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly deliveries: Counter<'type' | 'outcome'>;
  private readonly clock: Clock;

  constructor(private readonly o: WebhookSenderOptions) {
    this.clock = o.clock ?? systemClock;
    this.maxAttempts = o.maxAttempts ?? 8;
    this.backoffMs = o.backoffMs ?? 1000;
    this.maxBackoffMs = o.maxBackoffMs ?? 60_000;
    this.timeoutMs = o.timeoutMs ?? 5000;
    this.maxQueued = o.maxQueued ?? 1000;
    this.concurrency = o.concurrency ?? 4;
    this.deliveries = new Counter({
      name: 'tokengate_webhook_deliveries_total',
      help: 'Webhook deliveries by event type and outcome (delivered, retried, gave_up, dropped).',
      labelNames: ['type', 'outcome'] as const,
      registers: o.registry ? [o.registry] : [],
    });
  }

  /** Queues an event for delivery. Never throws, never blocks. @returns false when it was dropped. */
  send(event: WebhookEvent): boolean {
    if (this.stopping.signal.aborted || this.pending.size >= this.maxQueued) {
      this.deliveries.inc({ type: event.type, outcome: 'dropped' });
      this.o.logger.warn(
        { eventId: event.id, type: event.type, tokenId: event.token.id },
        'webhook event dropped: the queue is full or the gateway is stopping',
      );
      return false;
    }
    const task = this.deliver(event).finally(() => this.pending.delete(task));
    this.pending.add(task);
    return true;
  }

  /** Resolves when every queued event was delivered or given up on (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Stops: waits up to `graceMs` for deliveries under way, then abandons the rest (logged). */
  async close(graceMs = 2000): Promise<void> {
    const done = this.idle();
    const graceOver = new AbortController();
    const timer = this.clock.sleep(graceMs, { signal: graceOver.signal, ref: false }).catch(() => undefined);
    await Promise.race([done, timer]);
    graceOver.abort();
    if (this.pending.size > 0) this.o.logger.warn({ events: this.pending.size }, 'gateway stopping: abandoning webhook deliveries still pending');
    this.stopping.abort();
    await done;
  }

  private async deliver(event: WebhookEvent): Promise<void> {
    const body = JSON.stringify(event);
    for (let attempt = 1; ; attempt++) {
      const result = await this.withSlot(() => this.attempt(event, body, attempt));
      if (result.ok) {
        this.deliveries.inc({ type: event.type, outcome: 'delivered' });
        this.o.logger.info({ eventId: event.id, type: event.type, tokenId: event.token.id, attempt }, 'webhook delivered');
        return;
      }
      const final = !result.retryable || attempt >= this.maxAttempts || this.stopping.signal.aborted;
      if (final) {
        this.deliveries.inc({ type: event.type, outcome: 'gave_up' });
        this.o.logger.warn(
          { eventId: event.id, type: event.type, tokenId: event.token.id, attempt, failure: result.failure },
          'webhook delivery failed; giving up',
        );
        return;
      }
      this.deliveries.inc({ type: event.type, outcome: 'retried' });
      const delay = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** (attempt - 1)) * (0.75 + Math.random() * 0.5);
      this.o.logger.debug(
        { eventId: event.id, type: event.type, attempt, failure: result.failure, retryInMs: Math.round(delay) },
        'webhook delivery failed; retrying',
      );
      try {
        await this.clock.sleep(delay, { signal: this.stopping.signal, ref: false });
      } catch {
        this.deliveries.inc({ type: event.type, outcome: 'gave_up' });
        return; // stopping
      }
    }
  }

  private async attempt(event: WebhookEvent, body: string, attempt: number): Promise<{ ok: true } | { ok: false; retryable: boolean; failure: string }> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    try {
      const res = await fetch(this.o.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.any([timeout, this.stopping.signal]),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'tokengate-webhooks/1',
          'tokengate-event': event.type,
          'tokengate-delivery': event.id,
          'tokengate-attempt': String(attempt),
          [SIGNATURE_HEADER.toLowerCase()]: signWebhook(this.o.secret, body),
        },
        body,
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return { ok: true };
      return { ok: false, retryable: RETRYABLE(res.status), failure: `http_${res.status}` };
    } catch (err) {
      const failure = timeout.aborted ? 'timeout' : ((err as { cause?: { code?: string } })?.cause?.code ?? (err as Error)?.name ?? 'error');
      return { ok: false, retryable: true, failure: String(failure) };
    }
  }

  private async withSlot<T>(fn: () => Promise<T>): Promise<T> {
    // A slot freed while others wait passes straight to the first of them.
    if (this.active >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
