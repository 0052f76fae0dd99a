import { systemActor, type AuditAction } from '../audit/audit';
import { systemClock, type Clock } from '../clock';
import type { Logger } from '../logger';
import type { TokenEvents } from '../oauth/token-events';
import type { Token } from '../stores/token';
import type { AuditLog } from '../stores/audit-log';
import { tokenEvent, type WebhookEvent } from './webhook-event';
import type { WebhookSender } from './webhook-sender';

export interface WebhookNotifierOptions {
  store: AuditLog;
  sender: WebhookSender;
  logger: Logger;
  refreshAheadMs: number;
  /** `token.refresh_failing` once transient failures have lasted this long. */
  failingAfterMs: number;
  /** Whose `now` the threshold is measured by [the real clock]. */
  clock?: Clock;
}

const WEBHOOKS = systemActor('webhooks');
/** Audit entries looked at, newest first, to find where a run of transient failures began. */
const SCAN_PAGES = 10;
const SCAN_PAGE = 200;

/**
 * Turns token events into webhook events, and notes each one it queues in
 * the audit trail (`NOTIFY`, detail = the event type).
 *
 * "Failing transiently for longer than N seconds" is read from the audit
 * trail, which every gateway process writes to: the run of `REFRESH`
 * entries with outcome `UNAVAILABLE` since the last other refresh outcome
 * began at `failingSince`. Once `now - failingSince` passes the threshold,
 * the first process to see it queues `token.refresh_failing`, unless a
 * `NOTIFY` of it was recorded since `failingSince` — so one run of failures
 * makes one event, whichever processes fail it. (Two processes deciding in
 * the same instant make two deliveries with the same event id.)
 */
export class WebhookNotifier implements TokenEvents {
  private readonly checking = new Set<string>();
  /** Checks and audit notes under way. */
  private readonly pending = new Set<Promise<void>>();
  private readonly clock: Clock;

  constructor(private readonly o: WebhookNotifierOptions) {
    this.clock = o.clock ?? systemClock;
  }

  /** Resolves once the checks and `NOTIFY` entries started so far are done (the events themselves are the sender's). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private track(task: Promise<void>): void {
    const tracked = task.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  failed(token: Token): void {
    this.track(this.emit(tokenEvent('token.failed', token, this.o.refreshAheadMs, `failed@${token.failedAt?.getTime() ?? token.version}`)));
  }

  recovered(token: Token): void {
    this.track(this.emit(tokenEvent('token.recovered', token, this.o.refreshAheadMs, `v${token.version}`)));
  }

  connected(token: Token): void {
    this.track(this.emit(tokenEvent('token.connected', token, this.o.refreshAheadMs, `connect@${token.id}@v${token.version}`)));
  }

  refreshUnavailable(token: Token, reason: string): void {
    if (this.checking.has(token.id)) return;
    this.checking.add(token.id);
    this.track(
      this.checkFailing(token, reason)
        .catch((err: unknown) =>
          this.o.logger.warn(
            { tokenId: token.id, err: { name: (err as Error)?.name, code: (err as { code?: unknown })?.code } },
            'could not check how long refreshes have been failing',
          ),
        )
        .finally(() => this.checking.delete(token.id)),
    );
  }

  private async checkFailing(token: Token, reason: string): Promise<void> {
    let since: Date | null = null;
    let notified = false;
    let after: string | null = null;
    scan: for (let page = 0; page < SCAN_PAGES; page++) {
      const entries = await this.o.store.listAudit({ first: SCAN_PAGE, after, tokenId: token.id, actions: ['REFRESH', 'NOTIFY'] satisfies AuditAction[] });
      for (const e of entries.nodes) {
        if (e.action === 'NOTIFY') {
          if (e.detail === 'token.refresh_failing') notified = true;
          continue;
        }
        if (e.outcome !== 'UNAVAILABLE') break scan;
        since = e.at;
      }
      if (!entries.hasNextPage) break;
      after = entries.endCursor;
    }
    if (!since || notified || this.clock.now() - since.getTime() < this.o.failingAfterMs) return;
    await this.emit(
      tokenEvent('token.refresh_failing', token, this.o.refreshAheadMs, `since@${since.getTime()}`, { failingSince: since.toISOString(), reason }),
    );
  }

  /** Queues the event; resolves once its `NOTIFY` entry is written (or failed to be, logged). */
  private async emit(event: WebhookEvent): Promise<void> {
    if (!this.o.sender.send(event)) return;
    await this.o.store
      .appendAudit([{ action: 'NOTIFY', actor: WEBHOOKS, tokenId: event.token.id, detail: event.type }])
      .catch(() => this.o.logger.warn({ tokenId: event.token.id, type: event.type }, 'could not record a webhook event in the audit trail'));
  }
}
