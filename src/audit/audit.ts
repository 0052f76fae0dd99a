import type { Role } from '../config';

/**
 * The audit trail: who did what to which token, and when. An entry names the
 * action, the token id, the caller's role and API key *name* (never the key),
 * the outcome and, for a refresh, the provider's error code. It never holds a
 * secret value: `fields` lists field *names* only.
 */

/** What happened. */
export const AUDIT_ACTIONS = [
  /** `saveToken` (API), or any other write of a token through the store. */
  'SAVE',
  /** `deleteToken`: the token was deleted. */
  'DELETE',
  /** `deleteTokens`: one entry per token deleted. */
  'DELETE_ALL',
  /** A refresh or grant exchange that reached the provider (outcome and error code tell how it went). */
  'REFRESH',
  /** `revokeToken`: revoked at the provider and deleted (or not, when the provider could not be reached). */
  'REVOKE',
  /** A token written by an import (CLI). */
  'IMPORT',
  /** An API key read secret fields of the token (`fields` says which). */
  'READ_SECRET',
  /** `tokengate keys rotate` re-encrypted stored secrets under the newest key (a summary entry). */
  'KEY_ROTATION',
  /** A webhook event about the token was queued for delivery (`detail` is its type). */
  'NOTIFY',
  /** Calls through the API proxy with the token in one calendar minute (`count`; `detail`: answers by status class). */
  'PROXY',
  /** The connect flow stored the token (new, or its credentials replaced): the actor is who started the connect. */
  'CONNECT',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** How it went. */
export const AUDIT_OUTCOMES = [
  'OK',
  /** The provider refused (`errorCode` is its code, e.g. `invalid_code`). */
  'REFUSED',
  /** The provider could not be reached, timed out or failed (`errorCode` is the reason, e.g. `http_500`). */
  'UNAVAILABLE',
  /** Anything else went wrong. */
  'ERROR',
] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** Who acted: an API key's role and name, or `system` with the part of tokengate that acted (`background`, `cli`, …). */
export type AuditRole = Role | 'system';

export interface AuditActor {
  role: AuditRole;
  /** The API key's name (`role:name:key` in TOKENGATE_API_KEYS), or the system component. Never a key. */
  name: string;
  /** The request id (`X-Request-Id`) where the action came through the API. */
  requestId?: string | null;
}

/** An entry to record. The store fills `at` (now), and for writes `tokenId` and `fields` where they are absent. */
export interface AuditEvent {
  action: AuditAction;
  actor: AuditActor;
  tokenId?: string | null;
  outcome?: AuditOutcome;
  /** The provider's error code of a refused refresh, or the reason of an unavailable one. */
  errorCode?: string | null;
  /** Field names (never values): those a save wrote, or the secret fields a read returned. */
  fields?: readonly string[];
  /** A short note without secrets: `created`/`updated` for a save, the grant type of a refresh, an event type. */
  detail?: string | null;
  /** How many identical reads this entry stands for (reads are batched; default 1). */
  count?: number;
  /** When it happened (default: when it is recorded). */
  at?: Date;
}

/** A recorded entry. */
export interface AuditEntry {
  /** Increasing in the order entries are written (reads are written in batches, a little after they happen). */
  id: string;
  at: Date;
  action: AuditAction;
  tokenId: string | null;
  actorRole: AuditRole;
  actorName: string;
  outcome: AuditOutcome;
  errorCode: string | null;
  fields: string[];
  detail: string | null;
  requestId: string | null;
  count: number;
}

/** A page of the audit trail, newest first (by `at`, then `id`). */
export interface AuditPage {
  nodes: AuditEntry[];
  /** Opaque; pass as `after` for the next (older) page. Null on an empty page. */
  endCursor: string | null;
  hasNextPage: boolean;
}

/** What `listAudit` filters on. */
export interface AuditQuery {
  first: number;
  after?: string | null;
  tokenId?: string | null;
  /** Only these actions (default: all). */
  actions?: readonly AuditAction[];
}

/** Options of a store write that records its audit entry in the same transaction. */
export interface AuditedWrite {
  /** The entry to record with the write (default: action `SAVE`/`DELETE` by `system:store`). */
  audit?: AuditEvent;
}

/** The actor of writes that name none (a caller of the store that is not the API). */
export const STORE_ACTOR: AuditActor = { role: 'system', name: 'store' };

/** A part of tokengate acting on its own: `background` (refresh-ahead task), `cli`, `webhooks`, … */
export const systemActor = (name: string): AuditActor => ({ role: 'system', name });

export const MAX_AUDIT_PAGE = 1000;

/** Column limits (the SQL table's). */
export const AUDIT_LIMITS = { actorName: 64, errorCode: 255, fields: 255, detail: 255, requestId: 128 } as const;

const clip = (v: string | null | undefined, max: number): string | null =>
  v === null || v === undefined || v === '' ? null : v.length > max ? v.slice(0, max) : v;

/** An event made complete and safe to store: defaults filled, strings clipped to their columns. */
export function normalizeEvent(
  event: AuditEvent,
  defaults: { tokenId?: string | null; fields?: readonly string[]; detail?: string | null } = {},
): Omit<AuditEntry, 'id'> {
  const fields = (event.fields ?? defaults.fields ?? []).filter((f) => /^[A-Za-z_]+$/.test(f));
  return {
    at: event.at ?? new Date(),
    action: event.action,
    tokenId: event.tokenId ?? defaults.tokenId ?? null,
    actorRole: event.actor.role,
    actorName: clip(event.actor.name, AUDIT_LIMITS.actorName) ?? 'unknown',
    outcome: event.outcome ?? 'OK',
    errorCode: clip(event.errorCode, AUDIT_LIMITS.errorCode),
    fields: clip(fields.join(','), AUDIT_LIMITS.fields)?.split(',') ?? [],
    detail: clip(event.detail ?? defaults.detail, AUDIT_LIMITS.detail),
    requestId: clip(event.actor.requestId, AUDIT_LIMITS.requestId),
    count: Math.max(1, Math.floor(event.count ?? 1)),
  };
}

const CURSOR_PREFIX = 'a2:';

/** The cursor that points after an entry (the listing is by time, then id, newest first). */
export function encodeAuditCursor(entry: Pick<AuditEntry, 'id' | 'at'>): string {
  return Buffer.from(`${CURSOR_PREFIX}${entry.at.getTime()}:${entry.id}`, 'utf8').toString('base64url');
}

/** @returns the position the cursor points after, or null when it is not one `encodeAuditCursor` made. */
export function decodeAuditCursor(cursor: string): { atMs: number; id: number } | null {
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 100 || !/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^a2:(\d{1,15}):([1-9]\d{0,15})$/.exec(text);
  return m ? { atMs: Number(m[1]), id: Number(m[2]) } : null;
}
