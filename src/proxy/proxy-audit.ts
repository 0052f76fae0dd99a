import type { AuditActor } from '../audit/audit';
import type { AuditTrail } from '../audit/audit-trail';

const MINUTE = 60_000;

interface MinuteTally {
  tokenId: string;
  minute: number;
  count: number;
  byClass: Map<string, number>;
  actors: Map<string, AuditActor>;
}

/**
 * The audit of proxied calls: at most one `PROXY` entry per token per
 * calendar minute, with how many calls it stands for and their answers by
 * status class. Entries are handed to the audit trail when their minute
 * ends, or at shutdown (`close`). Never a path or a query value: a proxied
 * call's path may carry record ids and search terms.
 */
export class ProxyAudit {
  private tallies = new Map<string, MinuteTally>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly trail: Pick<AuditTrail, 'record'>,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Counts one call with a token (one whose id named a token the caller may use). */
  record(tokenId: string, actor: AuditActor, statusClass: string): void {
    if (this.closed) return;
    const now = this.clock();
    const minute = now - (now % MINUTE);
    const key = `${minute}|${tokenId}`;
    let tally = this.tallies.get(key);
    if (!tally) {
      tally = { tokenId, minute, count: 0, byClass: new Map(), actors: new Map() };
      this.tallies.set(key, tally);
    }
    tally.count += 1;
    tally.byClass.set(statusClass, (tally.byClass.get(statusClass) ?? 0) + 1);
    if (tally.actors.size < 8) tally.actors.set(`${actor.role}:${actor.name}`, { role: actor.role, name: actor.name });
    // Wake up just after this minute ends.
    this.timer ??= setTimeout(
      () => {
        this.timer = null;
        this.flush(this.clock());
      },
      minute + MINUTE - now + 50,
    ).unref();
  }

  /** Hands the entries of every minute that ended before `now` (all of them by default) to the audit trail. */
  flush(now = Infinity): void {
    for (const [key, t] of this.tallies) {
      if (t.minute + MINUTE > now) continue;
      this.tallies.delete(key);
      const actors = [...t.actors.values()];
      const classes = [...t.byClass.entries()]
        .sort()
        .map(([c, n]) => `${c}:${n}`)
        .join(' ');
      const stamp = new Date(t.minute).toISOString().slice(0, 16) + 'Z';
      this.trail.record({
        action: 'PROXY',
        tokenId: t.tokenId,
        actor: actors.length === 1 ? actors[0]! : { role: 'system', name: 'proxy' },
        count: t.count,
        at: new Date(t.minute),
        detail: `${stamp} ${classes}${actors.length > 1 ? `; callers: ${actors.map((a) => a.name).join(', ')}` : ''}`,
      });
    }
    if (this.tallies.size > 0 && !this.timer && now !== Infinity) {
      const at = this.clock();
      this.timer = setTimeout(
        () => {
          this.timer = null;
          this.flush(this.clock());
        },
        MINUTE - (at % MINUTE) + 50,
      ).unref();
    }
  }

  /** Writes what is counted (the current minute too) and stops counting. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.flush();
    this.closed = true;
  }
}
