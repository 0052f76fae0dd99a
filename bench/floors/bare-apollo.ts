/**
 * A bare Apollo Server 5 answering `{ __typename }` over HTTP, on express 5
 * (`@as-integrations/express5`) or Fastify 5 (`@as-integrations/fastify`):
 * the floors the gateway's own HTTP stack is measured against. No API key,
 * no plugins, no logging. `node bare-apollo.js express|fastify` listens on
 * 127.0.0.1:$PORT and prints `listening` once it does.
 */
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import express from 'express';
import Fastify from 'fastify';
import http from 'node:http';

const typeDefs = 'type Query { ok: Boolean }';

async function main(): Promise<void> {
  const kind = process.argv[2];
  const port = Number(process.env.PORT ?? 0);
  if (kind === 'express') {
    const apollo = new ApolloServer({ typeDefs });
    await apollo.start();
    const app = express();
    app.use('/graphql', express.json(), expressMiddleware(apollo));
    const server = http.createServer(app);
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  } else if (kind === 'fastify') {
    const app = Fastify({ keepAliveTimeout: 65_000 });
    const apollo = new ApolloServer({ typeDefs, plugins: [fastifyApolloDrainPlugin(app)] });
    await apollo.start();
    await app.register(fastifyApollo(apollo));
    await app.listen({ port, host: '127.0.0.1' });
  } else {
    throw new Error('usage: bare-apollo express|fastify');
  }
  process.stdout.write('listening\n');
  process.on('SIGTERM', () => process.exit(0));
}

void main();
