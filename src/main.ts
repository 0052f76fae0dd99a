import 'reflect-metadata';
import { loadConfig, type Config } from './config';
import { ConfigError, TokenStoreError } from './errors';
import { createLogger } from './logger';
import { createGateway } from './server/gateway';

/**
 * The gateway process: reads the configuration, builds the gateway, listens,
 * and on SIGTERM or SIGINT stops taking connections, lets requests in flight
 * finish, and closes the store.
 */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tokengate: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  let gateway;
  try {
    gateway = await createGateway(config, { logger });
  } catch (err) {
    const detail = err instanceof TokenStoreError ? err.message : (err as Error).message;
    logger.fatal({ err: { name: (err as Error).name, code: (err as { code?: unknown }).code } }, `cannot start: ${detail}`);
    process.stderr.write(`tokengate: cannot start: ${detail}\n`);
    process.exit(1);
  }

  // The HTTP server of the gateway's Fastify app (timeouts set there), listening here.
  const server = gateway.app.server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  }).catch((err: NodeJS.ErrnoException) => {
    logger.fatal({ code: err.code }, `cannot listen on ${config.host}:${config.port}`);
    process.stderr.write(`tokengate: cannot listen on ${config.host}:${config.port}: ${err.code ?? err.message}\n`);
    process.exit(1);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ host: config.host, port, store: config.store, playground: config.playground }, `tokengate serving on http://${config.host}:${port}/graphql`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: finishing requests in flight');
    const force = setTimeout(() => {
      logger.warn('requests did not finish in 10 s; closing their connections');
      server.closeAllConnections();
    }, 10_000).unref();
    server.close(() => {
      clearTimeout(force);
      gateway
        .close()
        .then(() => {
          logger.info('stopped');
          logger.flush(() => process.exit(0));
        })
        .catch(() => logger.flush(() => process.exit(1)));
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (require.main === module) {
  void main();
}
