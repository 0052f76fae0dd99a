import type { Keyring } from '../../crypto/keyring';
import type { Stores } from '../stores';
import { auditTableOf } from './migrations/audit-log';
import { SqlAuditLog } from './sql-audit-log';
import { quoteIdent } from './sql-dialect';
import type { SqlExecutor } from './sql-executor';
import { SqlKeyRotation } from './sql-key-rotation';
import { SqlLeaseStore } from './sql-lease-store';
import { SqlTokenBrowse } from './sql-token-browse';
import { SqlTokenStore } from './sql-token-store';
import { SqlGovernorStore } from './sql-governor-store';
import { SqlProviderStore } from './sql-provider-store';
import { guarded } from './store-error';
import { SqlClientStore } from './sql-client-store';
import { SqlConnectStore } from './sql-connect-store';

/** The stores of one SQL database (SQLite or MySQL/MariaDB), over its token table and the audit table beside it. */
export function sqlStores(exec: SqlExecutor, keyring: Keyring, table: string, onClose: () => Promise<void>): Stores {
  const t = quoteIdent(exec.dialect, table);
  const audit = new SqlAuditLog(exec, quoteIdent(exec.dialect, auditTableOf(table)));
  return {
    kind: exec.dialect,
    tokens: new SqlTokenStore(exec, keyring, t, audit),
    leases: new SqlLeaseStore(exec, t),
    audit,
    keys: new SqlKeyRotation(exec, keyring, t),
    browse: new SqlTokenBrowse(exec, keyring, t),
    providers: new SqlProviderStore(exec, table),
    governor: new SqlGovernorStore(exec, table),
    clients: new SqlClientStore(exec, keyring, table, t),
    connects: new SqlConnectStore(exec, keyring, table),
    ping: () =>
      guarded('ping', exec, async () => {
        await exec.all('SELECT 1 AS ok');
      }),
    close: async () => {
      await exec.close();
      await onClose();
    },
  };
}
