import type { ApolloServer } from '@apollo/server';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { AuditTrail } from '../audit/audit-trail';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { ApiProxy } from '../proxy/api-proxy';
import type { ProxyCredentials } from '../proxy/proxy-credentials';
import type { GatewayContext } from '../resolvers/context.type';
import type { TokenService } from '../services/token.service';
import type { ClientService } from '../services/client.service';
import type { ConnectService } from '../services/connect.service';
import { connectRoutes } from './connect.routes';
import type { Stores } from '../stores/stores';
import type { ApiKeys } from './api-keys';
import { apiProxyRoutes } from './api-proxy.routes';
import { AuthFailureLog } from './auth-failures';
import type { DashboardSessions } from './dashboard-session';
import { dashboardRoutes } from './dashboard.routes';
import { graphqlRoutes } from './graphql.routes';
import { healthRoutes } from './health.routes';
import type { Metrics } from './metrics';
import { requestIdOf } from './request-id';

declare module 'fastify' {
  interface FastifyRequest {
    /** When the request arrived (before any queueing in this process). */
    receivedAt: Date;
  }
}

export interface HttpAppParts {
  config: Config;
  /** The Apollo server, started by the time the app's plugins run (`app.ready()`). */
  apollo: () => ApolloServer<GatewayContext>;
  apiKeys: ApiKeys;
  /** Sessions of the dashboard's people (a cookie instead of an API key, on the gateway's own origin). */
  sessions: DashboardSessions;
  tokens: TokenService;
  /** The OAuth clients of the connect flow. */
  clients: ClientService;
  /** The connect flow (`startConnect`, `/oauth/callback`). */
  connect: ConnectService;
  audit: AuditTrail;
  stores: Stores;
  metrics: Metrics;
  logger: Logger;
  /** The API proxy (`/api/`). */
  proxy: ApiProxy;
  /** Signs proxy credentials (`issueProxyCredential`). */
  proxyCredentials: ProxyCredentials;
}

/**
 * Creates the gateway's Fastify instance, not listening: request ids, the
 * common headers, error and not-found answers, and the routes, each group a
 * plugin of its own (`/healthz`, `/readyz`, `/metrics`; `/graphql` with the
 * playground; `/api/`, the API proxy; `/oauth/callback`, the connect flow;
 * `/`, the dashboard). A later feature is one more `app.register(plugin, opts)`
 * here.
 *
 * Fastify logs through the gateway's pino logger (`reqId` on every line of a
 * request), but not each request: the GraphQL plugin writes one line per
 * operation.
 */
export function createHttpApp(parts: HttpAppParts): FastifyInstance {
  const { config, logger } = parts;
  const app = Fastify({
    // Its child loggers (one per request) are made when the request logs (see LazyLogger).
    loggerInstance: LazyLogger.of(logger) as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'reqId' }),
    genReqId: requestIdOf,
    requestIdHeader: false,
    // A `__proto__` key in a body is dropped (it could otherwise reach an object's prototype).
    onProtoPoisoning: 'remove',
    bodyLimit: config.bodyLimitBytes,
    trustProxy: false,
    // Requests that arrive while the server closes are answered (with `Connection: close`), not refused with 503.
    return503OnClosing: false,
    keepAliveTimeout: 65_000,
    requestTimeout: 60_000,
    routerOptions: { ignoreTrailingSlash: true, caseSensitive: false },
  });
  app.server.headersTimeout = 66_000;

  app.decorateRequest('receivedAt', null as unknown as Date);
  app.addHook('onRequest', (request, reply, done) => {
    request.receivedAt = new Date();
    reply.header('x-request-id', request.id).header('x-content-type-options', 'nosniff');
    done();
  });

  app.setNotFoundHandler({}, (_request, reply) => {
    void reply.code(404).type('application/json; charset=utf-8').send('{"error":"not found"}');
  });
  app.setErrorHandler((err: FastifyError, _request, reply) => {
    const given = err.statusCode ?? 500;
    const status = given >= 400 && given < 500 ? given : 500;
    if (status === 500) logger.error({ err: { name: err.name, code: err.code, stack: err.stack } }, 'HTTP request failed');
    const message =
      status === 413 ? `The request body is larger than ${config.bodyLimitBytes} bytes` : status === 500 ? 'Internal server error' : 'The request is malformed';
    void reply
      .code(status)
      .type('application/json; charset=utf-8')
      .send(JSON.stringify({ errors: [{ message, extensions: { code: status === 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST' } }] }));
  });

  // One log of refused keys and credentials for every route that authenticates: one count, one rate limit.
  const authFailures = new AuthFailureLog({ logger, counter: parts.metrics.authFailures });
  void app.register(healthRoutes, { stores: parts.stores, metrics: parts.metrics });
  void app.register(graphqlRoutes, { ...parts, authFailures });
  void app.register(apiProxyRoutes, { proxy: parts.proxy, authFailures });
  void app.register(connectRoutes, { connect: parts.connect });
  // The dashboard answers `/` (the playground stays at /graphql).
  void app.register(dashboardRoutes, {
    sessions: parts.sessions,
    logger,
    authFailures,
    publicUrl: config.connect.publicUrl,
    playground: config.playground,
  });
  return app;
}

type LogArgs = Parameters<Logger['info']>;

/**
 * The gateway's logger as Fastify's, and each request's: a logger made only
 * when something logs (at the default level most requests never do, and a
 * pino child with its redaction set up costs a few µs of every request).
 * A child with options is one Fastify makes when it starts (with its
 * serializers) or for a route's own level: made at once. A child with
 * bindings only (a request's, with its id) stays lazy, whether or not its
 * parent was made. (A `childLoggerFactory` would do the same, but Fastify
 * then checks every request's child for each log method.)
 */
class LazyLogger {
  private constructor(
    private readonly parent: Logger,
    private readonly bindings: Record<string, unknown>,
    private made: Logger | null,
  ) {}

  /** A logger that exists already (the gateway's, or a child made with options). */
  static of(logger: Logger): LazyLogger {
    return new LazyLogger(logger, {}, logger);
  }

  private get logger(): Logger {
    return (this.made ??= this.parent.child(this.bindings));
  }
  get level(): string {
    return (this.made ?? this.parent).level;
  }
  set level(level: string) {
    this.logger.level = level;
  }
  isLevelEnabled(level: string): boolean {
    return (this.made ?? this.parent).isLevelEnabled(level);
  }
  fatal(...args: LogArgs): void {
    if (this.isLevelEnabled('fatal')) this.logger.fatal(...args);
  }
  error(...args: LogArgs): void {
    if (this.isLevelEnabled('error')) this.logger.error(...args);
  }
  warn(...args: LogArgs): void {
    if (this.isLevelEnabled('warn')) this.logger.warn(...args);
  }
  info(...args: LogArgs): void {
    if (this.isLevelEnabled('info')) this.logger.info(...args);
  }
  debug(...args: LogArgs): void {
    if (this.isLevelEnabled('debug')) this.logger.debug(...args);
  }
  trace(...args: LogArgs): void {
    if (this.isLevelEnabled('trace')) this.logger.trace(...args);
  }
  silent(): void {}
  child(bindings: Record<string, unknown>, options?: object): LazyLogger {
    if (options && !isEmpty(options)) return LazyLogger.of(this.logger.child(bindings, options));
    return this.made ? new LazyLogger(this.made, bindings, null) : new LazyLogger(this.parent, { ...this.bindings, ...bindings }, null);
  }
}

const isEmpty = (o: object) => Object.keys(o).length === 0;
