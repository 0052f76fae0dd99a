import type { AuditTrail } from '../audit/audit-trail';
import type { Logger } from '../logger';
import type { ProxyCredentials } from '../proxy/proxy-credentials';
import type { GatewayContext, Principal } from '../resolvers/context.type';
import { SecretReads } from '../resolvers/secret-reads';
import type { TokenService } from '../services/token.service';
import type { ClientService } from '../services/client.service';
import type { ConnectService } from '../services/connect.service';

/** What every request's context shares: the gateway's services and its root logger. */
export interface RequestServices {
  tokens: TokenService;
  audit?: AuditTrail;
  logger: Logger;
  proxyCredentials?: ProxyCredentials;
  clients?: ClientService;
  connect?: ConnectService;
}

/**
 * The context of one GraphQL request. It holds what is the request's own
 * (who, its id, when it arrived, the secrets it read); the services are
 * getters on the prototype, as is the request's logger (a pino child
 * carrying the request id, made when something logs: at the default level
 * most requests log nothing). Apollo copies the context for each operation
 * (`Object.assign` of its own fields), so the fewer own fields, the less
 * every request costs.
 */
export class RequestContext implements GatewayContext {
  readonly secretReads = new SecretReads();
  private requestLogger: Logger | undefined;

  constructor(
    readonly principal: Principal,
    readonly requestId: string,
    readonly receivedAt: Date,
    private readonly services: RequestServices,
    readonly observation?: { observed: boolean },
  ) {}

  get tokens(): TokenService {
    return this.services.tokens;
  }
  get audit(): AuditTrail | undefined {
    return this.services.audit;
  }
  get proxyCredentials(): ProxyCredentials | undefined {
    return this.services.proxyCredentials;
  }
  get clients(): ClientService | undefined {
    return this.services.clients;
  }
  get connect(): ConnectService | undefined {
    return this.services.connect;
  }
  get logger(): Logger {
    return (this.requestLogger ??= this.services.logger.child({ reqId: this.requestId }));
  }
}
