import type { FastifyPluginAsync } from 'fastify';
import { API_PREFIX, type ApiProxy } from '../proxy/api-proxy';
import type { AuthFailureLog } from './auth-failures';

export interface ApiProxyRoutesOptions {
  proxy: ApiProxy;
  /** The app's log of refused keys (shared with GraphQL and the dashboard): the proxy's 401s are counted and logged there. */
  authFailures: AuthFailureLog;
}

/**
 * `/api/{tokenId}/{path}`, every method: handed whole to the API proxy,
 * which streams the raw request and writes the raw response itself (the
 * reply is hijacked). No body parser runs: the proxy reads the body, held for
 * a replay or streamed, under its own limit. CORS and preflights of `/api/`
 * are the proxy's too; its 401s go to the app's {@link AuthFailureLog}.
 */
export const apiProxyRoutes: FastifyPluginAsync<ApiProxyRoutesOptions> = async (app, { proxy, authFailures }) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
  app.route({
    method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    url: `${API_PREFIX}*`,
    exposeHeadRoute: false,
    handler: (request, reply) => {
      // The headers set for every request (X-Request-Id, nosniff) go on the raw response the proxy writes.
      for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) reply.raw.setHeader(name, value);
      reply.hijack();
      return proxy.handle(request.raw, reply.raw, { requestId: request.id, receivedAt: request.receivedAt, remoteAddress: request.ip, authFailures });
    },
  });
};
