import { HeaderMap, type ApolloServer } from '@apollo/server';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import cors from '@fastify/cors';
import type { FastifyPluginAsync, RouteHandlerMethod } from 'fastify';
import { GraphQLError } from 'graphql';
import type { AuditTrail } from '../audit/audit-trail';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { ProxyCredentials } from '../proxy/proxy-credentials';
import type { GatewayContext } from '../resolvers/context.type';
import type { TokenService } from '../services/token.service';
import type { ClientService } from '../services/client.service';
import type { ConnectService } from '../services/connect.service';
import type { ApiKeys } from './api-keys';
import type { AuthFailureLog } from './auth-failures';
import type { DashboardSessions } from './dashboard-session';
import { sessionPrincipal } from './dashboard.routes';
import { createPlaygroundHandler } from './playground';
import type { Metrics } from './metrics';
import { observeRefused } from './observability.plugin';
import { RequestContext, type RequestServices } from './request-context';

export interface GraphqlRoutesOptions {
  config: Config;
  /** Started before this plugin runs. */
  apollo: () => ApolloServer<GatewayContext>;
  apiKeys: ApiKeys;
  sessions: DashboardSessions;
  tokens: TokenService;
  clients: ClientService;
  connect: ConnectService;
  audit: AuditTrail;
  logger: Logger;
  proxyCredentials: ProxyCredentials;
  /** The app's log of refused keys (shared with the API proxy and the dashboard). */
  authFailures: AuthFailureLog;
  /** Where the requests refused before GraphQL ran are counted. */
  metrics: Metrics;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The GraphQL request's observation (see RequestContext), once its context was made. */
    graphqlObservation: { observed: boolean } | null;
  }
}

/** Headers a browser on a configured origin may send, and read back. */
const CORS_ALLOWED_HEADERS = ['authorization', 'content-type', 'apollo-require-preflight', 'x-apollo-operation-name', 'x-request-id'];

/**
 * `/graphql`: the GraphQL API (Apollo, with its CSRF prevention) and, when
 * enabled, the playground for a browser navigating there. Every answer is
 * `Cache-Control: no-store` (the playground page revalidates instead); CORS
 * only for the configured origins. A request without a valid API key gets
 * 401 with `WWW-Authenticate: Bearer` and an `UNAUTHENTICATED` error, and is
 * logged (rate-limited) and counted (see {@link AuthFailureLog}).
 */
export const graphqlRoutes: FastifyPluginAsync<GraphqlRoutesOptions> = async (
  app,
  { config, apollo, apiKeys, sessions, tokens, clients, connect, audit, logger, proxyCredentials, authFailures, metrics },
) => {
  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigins,
      methods: 'GET,POST,OPTIONS',
      allowedHeaders: CORS_ALLOWED_HEADERS.join(','),
      exposedHeaders: ['x-request-id'],
      maxAge: 600,
      strictPreflight: false,
    });
  }
  app.addHook('onRequest', (_request, reply, done) => {
    reply.header('cache-control', 'no-store');
    done();
  });
  // A request answered with an error before an operation ran is counted and logged here (the others by the observability concern).
  app.decorateRequest('graphqlObservation', null);
  app.addHook('onResponse', (request, reply, done) => {
    if (reply.statusCode >= 400 && !request.graphqlObservation?.observed) observeRefused(metrics, logger, request, reply.statusCode);
    done();
  });
  // Bodies that are not JSON reach Apollo unparsed, which refuses them (CSRF prevention, or a 400).
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));

  const services: RequestServices = { tokens, audit, logger, proxyCredentials, clients, connect };
  const api = fastifyApolloHandler(apollo(), {
    context: async (request) => {
      // An API key when one is sent; else the dashboard's session cookie, only from the gateway's own pages.
      const authorization = request.headers.authorization;
      const principal = authorization !== undefined ? apiKeys.authenticate(authorization) : sessionPrincipal(sessions, request);
      if (!principal) {
        authFailures.record({ authorization: request.headers.authorization, route: 'graphql', remoteAddress: request.ip, requestId: request.id });
        throw new GraphQLError('A valid API key is required: Authorization: Bearer <key>', {
          extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: new HeaderMap([['www-authenticate', 'Bearer']]) } } as unknown as Record<
            string,
            unknown
          >,
        });
      }
      return new RequestContext(principal, request.id, request.receivedAt, services, (request.graphqlObservation = { observed: false }));
    },
  }) as RouteHandlerMethod;

  app.route({
    method: ['GET', 'POST'],
    url: '/graphql',
    handler: config.playground ? createPlaygroundHandler({ endpoint: '/graphql', title: 'tokengate' }, api) : api,
  });
  // Apollo answers every other method (405, or 400 for CSRF prevention) and every path below /graphql.
  app.route({ method: ['PUT', 'DELETE', 'PATCH', 'OPTIONS'], url: '/graphql', handler: api });
  app.route({ method: ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'], url: '/graphql/*', handler: api });
};
