import { Counter, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';

/**
 * The Prometheus metrics of a gateway, on a registry of its own (several
 * gateways in one process, as in tests, do not collide). Labels are
 * operation names and outcomes only: never a token, id or key.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly graphqlRequests = new HotCounter(this.registry, {
    name: 'tokengate_graphql_requests_total',
    help: 'GraphQL requests by operation (the root field) and outcome (ok or the error code).',
    labelNames: ['operation', 'outcome'],
  });

  readonly graphqlDuration = new HotHistogram(this.registry, {
    name: 'tokengate_graphql_request_duration_seconds',
    help: 'GraphQL request duration by operation.',
    labelNames: ['operation'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });

  readonly storeDuration = new HotHistogram(this.registry, {
    name: 'tokengate_store_operation_duration_seconds',
    help: 'Token store operation duration by operation and outcome.',
    labelNames: ['operation', 'outcome'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
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

type Labels<L extends string> = Record<L, string>;
interface Exported {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>;
}

/** The key of a label set: its values in the order of the label names (label values never contain NUL). */
function keyOf<L extends string>(names: readonly L[], labels: Labels<L>): string {
  let key = labels[names[0]!];
  for (let i = 1; i < names.length; i++) key += '\u0000' + labels[names[i]!];
  return key;
}

/** Copies the declared labels only (a caller's object is not kept). */
function pick<L extends string>(names: readonly L[], labels: Labels<L>): Labels<L> {
  const out = {} as Labels<L>;
  for (const n of names) out[n] = labels[n];
  return out;
}

/**
 * A metric for a path every request takes, in prom-client's registry and
 * exposition: prom-client's own `inc` and `observe` check and hash the label
 * set on every call (about a microsecond: a per cent of a `{ __typename }`
 * request); these look their cell up by the label values.
 */
abstract class HotMetric<L extends string, Cell extends { labels: Labels<L> }> {
  abstract readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  protected readonly cells = new Map<string, Cell>();

  constructor(
    registry: Registry,
    o: { name: string; help: string },
    private readonly labelNames: readonly L[],
  ) {
    this.name = o.name;
    this.help = o.help;
    registry.registerMetric(this as unknown as Metric);
  }

  /** The cell of a label set, made with `make` the first time. */
  protected cell(labels: Labels<L>, make: (labels: Labels<L>) => Cell): Cell {
    const key = keyOf(this.labelNames, labels);
    let cell = this.cells.get(key);
    if (!cell) this.cells.set(key, (cell = make(pick(this.labelNames, labels))));
    return cell;
  }

  protected abstract values(): Exported['values'];

  async get(): Promise<Exported> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values() };
  }

  reset(): void {
    this.cells.clear();
  }
}

/** A counter on a hot path (see {@link HotMetric}). */
export class HotCounter<L extends string> extends HotMetric<L, { labels: Labels<L>; value: number }> {
  readonly type = 'counter';

  constructor(registry: Registry, o: { name: string; help: string; labelNames: readonly L[] }) {
    super(registry, o, o.labelNames);
  }

  inc(labels: Labels<L>, by = 1): void {
    this.cell(labels, (l) => ({ labels: l, value: 0 })).value += by;
  }

  protected values(): Exported['values'] {
    return [...this.cells.values()].map((c) => ({ value: c.value, labels: { ...c.labels } }));
  }
}

/** A histogram on a hot path (see {@link HotMetric}); buckets as prom-client's (`le`: at most). */
export class HotHistogram<L extends string> extends HotMetric<L, { labels: Labels<L>; counts: Float64Array; sum: number; count: number }> {
  readonly type = 'histogram';
  private readonly buckets: readonly number[];

  constructor(registry: Registry, o: { name: string; help: string; labelNames: readonly L[]; buckets: readonly number[] }) {
    super(registry, o, o.labelNames);
    this.buckets = [...o.buckets].sort((a, b) => a - b);
  }

  observe(labels: Labels<L>, value: number): void {
    if (!Number.isFinite(value)) return;
    const cell = this.cell(labels, (l) => ({ labels: l, counts: new Float64Array(this.buckets.length), sum: 0, count: 0 }));
    const b = this.buckets;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    if (i < b.length) cell.counts[i]!++;
    cell.sum += value;
    cell.count++;
  }

  protected values(): Exported['values'] {
    const values: Exported['values'] = [];
    for (const c of this.cells.values()) {
      let acc = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        acc += c.counts[i]!;
        values.push({ value: acc, labels: { le: this.buckets[i]!, ...c.labels }, metricName: `${this.name}_bucket` });
      }
      values.push({ value: c.count, labels: { le: '+Inf', ...c.labels }, metricName: `${this.name}_bucket` });
      values.push({ value: c.sum, labels: { ...c.labels }, metricName: `${this.name}_sum` });
      values.push({ value: c.count, labels: { ...c.labels }, metricName: `${this.name}_count` });
    }
    return values;
  }
}
