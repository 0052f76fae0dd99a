import { createHash } from 'node:crypto';
import type { Counter } from 'prom-client';
import type { Logger } from '../logger';

/**
 * Why a request was not authenticated: no credentials, an `Authorization`
 * header that is not `Bearer <…>`, a key (or proxy credential) nobody
 * knows, or a proxy credential past its expiry.
 */
export type AuthFailureReason = 'missing' | 'malformed' | 'unknown_key' | 'expired';

/** Where a request was refused: `/graphql`, the API proxy (`/api/`), or the dashboard's sign-in. */
export type AuthFailureRoute = 'graphql' | 'api' | 'dashboard';

/** One refused request: what may be logged about it (never the key). */
export interface AuthFailure {
  /** The `Authorization` header as sent (GraphQL, the API proxy). */
  authorization?: string | undefined;
  /** A key sent another way (the dashboard's sign-in form): then it is the reason (`unknown_key`) and its hash, not the header. */
  presentedKey?: string;
  /** When the route knows better than the header tells (a proxy credential that has `expired`). */
  reason?: AuthFailureReason;
  /** Which route refused it (logged, not a label of the metric). */
  route?: AuthFailureRoute;
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

/** 48 bits of SHA-256: enough to tell repeated attempts with one key apart from many keys, and to compare with a key one holds. */
function keyHashOf(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 12);
}

/** The reason of a refused `Authorization` header, and a short hash of the presented key (when there is one). */
export function describeAuthorization(authorization: string | undefined): { reason: AuthFailureReason; keyHash?: string } {
  if (!authorization) return { reason: 'missing' };
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  if (!m) return { reason: 'malformed' };
  return { reason: 'unknown_key', keyHash: keyHashOf(m[1]!) };
}

/** What a failure is logged and counted as: its reason, and the hash of the key or credential presented, if any. */
function describe(failure: AuthFailure): { reason: AuthFailureReason; keyHash?: string } {
  const described =
    failure.presentedKey !== undefined
      ? { reason: 'unknown_key' as const, keyHash: keyHashOf(failure.presentedKey) }
      : describeAuthorization(failure.authorization);
  return failure.reason ? { ...described, reason: failure.reason } : described;
}

/**
 * Logs requests refused for a missing or wrong API key (or proxy
 * credential): one `warn` line each with the reason, a hash of the presented
 * key (never the key or a part of it), the route, the remote address and the
 * request id, at most `maxLinesPerWindow` a window; past that, one line per
 * window says how many were not logged, so a flood cannot fill the disk.
 * Every failure counts in the metric. One per HTTP app, shared by every route
 * that authenticates (GraphQL, the API proxy, the dashboard's sign-in), so a
 * flood on one cannot buy more lines on another.
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
    const { reason, keyHash } = describe(failure);
    this.o.counter.inc({ reason });
    const now = this.now();
    if (now - this.windowStart >= this.windowMs) {
      this.flushSummary();
      this.windowStart = now;
      this.lines = 0;
    }
    if (this.lines < this.maxLines) {
      this.lines++;
      this.o.logger.warn(
        { reason, keyHash, route: failure.route, remoteAddress: failure.remoteAddress, reqId: failure.requestId },
        'request refused: missing or wrong API key',
      );
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
