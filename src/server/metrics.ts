import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The Prometheus metrics of a gateway, on a registry of its own (several
 * gateways in one process, as in tests, do not collide). Labels are
 * operation names and outcomes only: never a token, id or key.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly graphqlRequests = new Counter({
    name: 'tokengate_graphql_requests_total',
    help: 'GraphQL requests by operation (the root field) and outcome (ok or the error code).',
    labelNames: ['operation', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly graphqlDuration = new Histogram({
    name: 'tokengate_graphql_request_duration_seconds',
    help: 'GraphQL request duration by operation.',
    labelNames: ['operation'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly storeDuration = new Histogram({
    name: 'tokengate_store_operation_duration_seconds',
    help: 'Token store operation duration by operation and outcome.',
    labelNames: ['operation', 'outcome'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [this.registry],
  });

  readonly refreshes = new Counter({
    name: 'tokengate_refresh_total',
    help: 'Refreshes by trigger (api, background, cli, proxy) and outcome (refreshed, coalesced, not_needed, throttled, refused, unavailable, error).',
    labelNames: ['trigger', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly governorDecisions = new Counter({
    name: 'tokengate_governor_decisions_total',
    help: 'Decisions of the governor by provider and decision (allowed, refused; held, throttled, deferred: what the caller got; blocked: access_denied closed a window).',
    labelNames: ['provider', 'decision'] as const,
    registers: [this.registry],
  });

  readonly upstreamDuration = new Histogram({
    name: 'tokengate_upstream_request_duration_seconds',
    help: 'Requests to the provider token endpoint by kind (refresh, grant, revoke) and outcome.',
    labelNames: ['kind', 'outcome'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly authFailures = new Counter({
    name: 'tokengate_auth_failures_total',
    help: 'Requests refused for a missing, malformed or unknown API key or proxy credential (GraphQL, the API proxy, the dashboard sign-in), by reason (missing, malformed, unknown_key, expired).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly proxyRequests = new Counter({
    name: 'tokengate_proxy_requests_total',
    help: 'Requests through the API proxy (/api/) by the status class of the answer (2xx, 3xx, 4xx, 5xx; aborted: the caller left first).',
    labelNames: ['status_class'] as const,
    registers: [this.registry],
  });

  readonly proxyDuration = new Histogram({
    name: 'tokengate_proxy_request_duration_seconds',
    help: 'Duration of requests through the API proxy, until the last byte of the answer, by status class.',
    labelNames: ['status_class'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'tokengate_' });
  }
}
