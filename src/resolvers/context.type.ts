import type { AuditTrail } from '../audit/audit-trail';
import type { Role } from '../config';
import type { Logger } from '../logger';
import type { ProxyCredentials } from '../proxy/proxy-credentials';
import type { TokenService } from '../services/token.service';
import type { ClientService } from '../services/client.service';
import type { ConnectService } from '../services/connect.service';
import type { SecretReads } from './secret-reads';

/** What every resolver gets: who is asking, and the gateway's services. */
export interface GatewayContext {
  principal: Principal;
  requestId: string;
  /** When the HTTP request arrived (before any queueing in this process). */
  receivedAt: Date;
  logger: Logger;
  tokens: TokenService;
  /** The audit trail: the `auditLog` query, and the batched recording of secret reads. */
  audit?: AuditTrail;
  /** The secret fields this request returned (recorded by `secretReadsPlugin` when the response leaves). */
  secretReads?: SecretReads;
  /** Signs the API proxy's credentials (`issueProxyCredential`). */
  proxyCredentials?: ProxyCredentials;
  /** The OAuth clients of the connect flow (`saveClient`, `clients`). */
  clients?: ClientService;
  /** The connect flow (`startConnect`). */
  connect?: ConnectService;
  /** Set once the request's metrics and log line are written (shared by Apollo's per-operation copies of the context). */
  observation?: { observed: boolean };
}

/** Who a request is: the role and the name of its key (never the key). */
export interface Principal {
  role: Role;
  keyName: string;
}
