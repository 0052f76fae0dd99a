import type { AuditEvent, AuditPage, AuditQuery } from '../audit/audit';

/** The stored audit trail. Writes of tokens record their own entries (see `TokenStore`). */
export interface AuditLog {
  /** Records entries on their own (reads, failed refreshes: nothing else is written). */
  appendAudit(events: readonly AuditEvent[]): Promise<void>;

  /** A page of the audit trail, newest first. @throws `INVALID_INPUT` for a malformed cursor or page size. */
  listAudit(query: AuditQuery): Promise<AuditPage>;

  /** Deletes entries recorded before `before`. @returns how many. */
  pruneAudit(before: Date): Promise<number>;
}
