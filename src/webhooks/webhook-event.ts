import { createHash } from 'node:crypto';
import type { Token } from '../stores/token';
import { tokenStatus, type TokenStatus } from '../stores/token-status';

/**
 * - `token.failed`: a refresh failed permanently (e.g. `invalid_code`): the token needs re-authorization;
 * - `token.refresh_failing`: refreshes of the token have failed transiently (provider unreachable, 5xx,
 *   timeouts) for longer than `TOKENGATE_WEBHOOK_FAILING_AFTER_SECONDS`;
 * - `token.recovered`: a `FAILED` token was saved with new credentials or refreshed successfully;
 * - `token.connected`: the connect flow stored the token (a new one, or new credentials of an existing one).
 */
export type WebhookEventType = 'token.failed' | 'token.refresh_failing' | 'token.recovered' | 'token.connected';

/** The JSON body of a delivery. It never carries a secret. */
export interface WebhookEvent {
  /** The same for every delivery (and every gateway process) of one occurrence: receivers dedupe on it. */
  id: string;
  type: WebhookEventType;
  /** ISO 8601. */
  occurredAt: string;
  token: {
    id: string;
    userName: string | null;
    status: TokenStatus;
    /** The provider's error code of the last failed refresh (`invalid_code`, …), or null. */
    lastError: string | null;
  };
  /** `token.refresh_failing` only: since when refreshes have failed, and the last failure's reason (`http_500`, `timeout`, …). */
  failingSince?: string;
  reason?: string;
}

/** Builds an event. `anchor` identifies the occurrence (a failure's time, a version), so every process names it alike. */
export function tokenEvent(
  type: WebhookEventType,
  token: Token,
  refreshAheadMs: number,
  anchor: string,
  extra: Pick<WebhookEvent, 'failingSince' | 'reason'> = {},
): WebhookEvent {
  const id = 'evt_' + createHash('sha256').update(`${type}|${token.id}|${anchor}`, 'utf8').digest('base64url').slice(0, 32);
  return {
    id,
    type,
    occurredAt: new Date().toISOString(),
    token: { id: token.id, userName: token.userName, status: tokenStatus(token, Date.now(), refreshAheadMs), lastError: token.lastError },
    ...extra,
  };
}
