import { createHash } from 'node:crypto';
import type { Counter } from 'prom-client';
import type { Logger } from '../logger';

/** Why a request was not authenticated. */
export type AuthFailureReason = 'missing' | 'malformed' | 'unknown_key';

/** One refused request: what may be logged about it (never the key). */
export interface AuthFailure {
  authorization: string | undefined;
  remoteAddress: string | undefined;
  requestId: string;
}

export interface AuthFailureLogOptions {
  logger: Logger;
  /** `tokengate_auth_failures_total{reason}`: every failure counts, logged or not. */
  counter: Counter<'reason'>;
  /** Log lines per window; the failures past it are counted and summed up in one line when the window ends. Default 20. */
  maxLinesPerWindow?: number;
  /** Default 60 s. */
  windowMs?: number;
  /** The clock (tests). */
  now?: () => number;
}

/** The reason of a refused `Authorization` header, and a short hash of the presented key (when there is one). */
export function describeAuthorization(authorization: string | undefined): { reason: AuthFailureReason; keyHash?: string } {
  if (!authorization) return { reason: 'missing' };
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  if (!m) return { reason: 'malformed' };
  // 48 bits of SHA-256: enough to tell repeated attempts with one key apart from many keys, and to compare with a key one holds.
  return { reason: 'unknown_key', keyHash: createHash('sha256').update(m[1]!, 'utf8').digest('hex').slice(0, 12) };
}

/**
 * Logs requests refused for a missing or wrong API key: one `warn` line each
 * with the reason, a hash of the presented key (never the key or a part of
 * it), the remote address and the request id, at most `maxLinesPerWindow` a
 * window; past that, one line per window says how many were not logged, so a
 * flood cannot fill the disk. Every failure counts in the metric.
 */
export class AuthFailureLog {
  private readonly maxLines: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private windowStart = -Infinity;
  private lines = 0;
  private suppressed = 0;
  private summaryTimer: NodeJS.Timeout | null = null;

  constructor(private readonly o: AuthFailureLogOptions) {
    this.maxLines = o.maxLinesPerWindow ?? 20;
    this.windowMs = o.windowMs ?? 60_000;
    this.now = o.now ?? Date.now;
  }

  record(failure: AuthFailure): void {
    const { reason, keyHash } = describeAuthorization(failure.authorization);
    this.o.counter.inc({ reason });
    const now = this.now();
    if (now - this.windowStart >= this.windowMs) {
      this.flushSummary();
      this.windowStart = now;
      this.lines = 0;
    }
    if (this.lines < this.maxLines) {
      this.lines++;
      this.o.logger.warn({ reason, keyHash, remoteAddress: failure.remoteAddress, reqId: failure.requestId }, 'request refused: missing or wrong API key');
      return;
    }
    this.suppressed++;
    if (!this.summaryTimer) {
      this.summaryTimer = setTimeout(() => this.flushSummary(), Math.max(0, this.windowStart + this.windowMs - now));
      this.summaryTimer.unref();
    }
  }

  /** Writes the line for failures not logged in the window so far, if any. */
  flushSummary(): void {
    if (this.summaryTimer) clearTimeout(this.summaryTimer);
    this.summaryTimer = null;
    if (this.suppressed === 0) return;
    this.o.logger.warn(
      { notLogged: this.suppressed, windowSeconds: this.windowMs / 1000 },
      `${this.suppressed} more requests refused for a missing or wrong API key were not logged`,
    );
    this.suppressed = 0;
  }
}
