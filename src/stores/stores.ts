import type { AuditLog } from './audit-log';
import type { ClientStore } from './client-store';
import type { PendingConnectStore } from './connect-store';
import type { GovernorStore } from './governor-store';
import type { ProviderStore } from './provider-store';
import type { KeyRotation } from './key-rotation';
import type { LeaseStore } from './lease-store';
import type { TokenBrowse } from './token-browse';
import type { StoreKind, TokenStore } from './token-store';

/**
 * The stores of one backend (one database, or process memory), one small
 * interface per concern. A new concern is a further member here, implemented
 * by every backend, not more methods on an existing one.
 */
export interface Stores {
  /** `sqlite`, `mysql` or `memory`. */
  readonly kind: StoreKind;
  readonly tokens: TokenStore;
  readonly leases: LeaseStore;
  readonly audit: AuditLog;
  readonly keys: KeyRotation;
  /** Search by user name and counts per status (the dashboard). */
  readonly browse: TokenBrowse;
  /** The providers an admin registered. */
  readonly providers: ProviderStore;
  /** The governor's counters, shared by every process on the database. */
  readonly governor: GovernorStore;
  /** The OAuth clients an admin registered (the connect flow). */
  readonly clients: ClientStore;
  /** The connects started and waiting for their callback, shared by every process on the database. */
  readonly connects: PendingConnectStore;
  /** Resolves when the backend answers; throws a `TokenStoreError` `UNAVAILABLE` otherwise. */
  ping(): Promise<void>;
  /** Releases connections and files. */
  close(): Promise<void>;
}
