import type { FastifyPluginAsync } from 'fastify';
import type { Stores } from '../stores/stores';
import type { Metrics } from './metrics';

export interface HealthRoutesOptions {
  stores: Stores;
  metrics: Metrics;
}

const STATUS_BODY = { type: 'object', properties: { status: { type: 'string' }, store: { type: 'string' } }, required: ['status'] } as const;

/**
 * `/healthz` (the process answers), `/readyz` (the store answers within 2 s;
 * else 503) and `/metrics` (Prometheus text). No API key: they say nothing
 * about tokens.
 */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { stores, metrics }) => {
  app.get('/healthz', { schema: { response: { 200: STATUS_BODY } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { response: { 200: STATUS_BODY, 503: STATUS_BODY } } }, async (_request, reply) => {
    try {
      await withTimeout(stores.ping(), 2_000);
      return { status: 'ready', store: stores.kind };
    } catch {
      return reply.code(503).send({ status: 'unavailable', store: stores.kind });
    }
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
};

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms)))]).finally(() => clearTimeout(timer));
}
