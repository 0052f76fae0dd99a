import type { AuditTrail } from '../audit/audit-trail';
import type { Logger } from '../logger';
import type { ProxyCredentials } from '../proxy/proxy-credentials';
import type { GatewayContext } from '../resolvers/context.type';
import { SecretReads } from '../resolvers/secret-reads';
import type { TokenService } from '../services/token.service';
import type { Principal } from '../resolvers/context.type';
import type { ClientService } from '../services/client.service';
import type { ConnectService } from '../services/connect.service';

/**
 * The context of one GraphQL request. Its logger (a pino child carrying the
 * request id) is made when something logs: at the default level most
 * requests log nothing. The getter sits on the prototype, so Apollo's
 * per-operation copy of the context (`Object.assign` of its own fields)
 * keeps it lazy.
 */
export class RequestContext implements GatewayContext {
  readonly secretReads = new SecretReads();
  private requestLogger: Logger | undefined;

  constructor(
    readonly principal: Principal,
    readonly requestId: string,
    readonly receivedAt: Date,
    readonly tokens: TokenService,
    readonly audit: AuditTrail | undefined,
    private readonly rootLogger: Logger,
    readonly proxyCredentials?: ProxyCredentials,
    services: { clients?: ClientService; connect?: ConnectService } = {},
  ) {
    this.clients = services.clients;
    this.connect = services.connect;
  }

  readonly clients?: ClientService;
  readonly connect?: ConnectService;

  get logger(): Logger {
    return (this.requestLogger ??= this.rootLogger.child({ reqId: this.requestId }));
  }
}
