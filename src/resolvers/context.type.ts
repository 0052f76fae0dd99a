import type { Logger } from '../logger';
import type { Principal } from '../server/api-keys';
import type { TokenService } from '../services/token.service';

/** What every resolver gets: who is asking, and the gateway's services. */
export interface GatewayContext {
  principal: Principal;
  requestId: string;
  /** When the HTTP request arrived (before any queueing in this process). */
  receivedAt: Date;
  logger: Logger;
  tokens: TokenService;
}
