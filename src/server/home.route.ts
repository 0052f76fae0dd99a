import type { FastifyPluginAsync } from 'fastify';
import { preferredMediaType } from './accept';

export interface HomeRouteOptions {
  /** Whether `/graphql` shows the playground to a browser. */
  playground: boolean;
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tokengate</title></head>
<body><h1>tokengate</h1><p>An OAuth token gateway. Its GraphQL API is at <code>POST /graphql</code>
(with <code>Authorization: Bearer &lt;API key&gt;</code>); the playground is off here.</p></body></html>
`;

/**
 * `GET /`: a browser goes to the playground (302 to `/graphql`), or, with the
 * playground off, gets a page saying what this is; any other client a line
 * of JSON. One small route: a dashboard replaces it by registering its own
 * plugin at `/` instead.
 */
export const homeRoute: FastifyPluginAsync<HomeRouteOptions> = async (app, { playground }) => {
  app.get('/', async (request, reply) => {
    if (preferredMediaType(request.headers.accept, ['application/json', 'text/html']) === 'text/html') {
      if (playground) return reply.redirect('/graphql', 302);
      return reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'none'").send(PAGE);
    }
    return reply.type('application/json; charset=utf-8').send('{"service":"tokengate","graphql":"/graphql"}');
  });
};
