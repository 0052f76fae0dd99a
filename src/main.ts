import 'reflect-metadata';
import { loadConfig, type Config } from './config';
import { ConfigError, TokenStoreError } from './errors';

import { createLogger, exitAfterFlush, prettyDestination } from './logger';
import { createGateway } from './server/gateway';

/**
 * The gateway process: reads the configuration, builds the gateway, listens,
 * and on SIGTERM or SIGINT stops (see `Gateway.close`: connections, requests
 * and refreshes in flight, the store) and exits 0, or 1 when something could
 * not be closed; leaving waits at most a second for the log to be written.
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
  const logger = createLogger(config.logLevel, config.logFormat === 'pretty' ? prettyDestination() : undefined);
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
    gateway.close().then(
      () => {
        logger.info('stopped');
        exitAfterFlush(logger, 0);
      },
      (err: Error) => {
        logger.error({ err: { name: err.name, code: (err as { code?: unknown }).code } }, 'could not stop cleanly');
        exitAfterFlush(logger, 1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (require.main === module) {
  void main();
}
