import { Counter, Histogram, Registry } from 'prom-client';
import { HotCounter, HotHistogram } from '../../src/server/metrics';

/**
 * The hot-path counter and histogram of the GraphQL requests must expose
 * exactly what prom-client's own would for the same observations (names,
 * labels, cumulative buckets with `le` as "at most", sum and count).
 */
describe('HotCounter and HotHistogram', () => {
  const buckets = [0.0005, 0.001, 0.0025, 0.01, 1];
  const observations: Array<[string, number]> = [
    ['tokens', 0.0005],
    ['tokens', 0.0004],
    ['tokens', 0.00051],
    ['saveToken', 0.003],
    ['tokens', 2],
    ['saveToken', 1],
    ['introspection', 0],
  ];

  const exposition = async (registry: Registry) => (await registry.metrics()).trim();

  it('expose what prom-client would for the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const hotCounter = new HotCounter(ours, { name: 'req_total', help: 'h', labelNames: ['operation', 'outcome'] });
    const hotHistogram = new HotHistogram(ours, { name: 'dur_seconds', help: 'h', labelNames: ['operation'], buckets });
    const counter = new Counter({ name: 'req_total', help: 'h', labelNames: ['operation', 'outcome'], registers: [theirs] });
    const histogram = new Histogram({ name: 'dur_seconds', help: 'h', labelNames: ['operation'], buckets, registers: [theirs] });
    for (const [operation, seconds] of observations) {
      const outcome = seconds > 1 ? 'NOT_FOUND' : 'ok';
      hotCounter.inc({ operation, outcome });
      counter.inc({ operation, outcome });
      hotHistogram.observe({ operation }, seconds);
      histogram.observe({ operation }, seconds);
    }
    expect(await exposition(ours)).toBe(await exposition(theirs));
    expect(await exposition(ours)).toContain('dur_seconds_bucket{le="0.0005",operation="tokens"} 2');
    expect(await exposition(ours)).toContain('req_total{operation="tokens",outcome="ok"} 3');
  });

  it('keep label sets apart, copy no extra label, and reset', async () => {
    const registry = new Registry();
    const c = new HotCounter(registry, { name: 'c_total', help: 'h', labelNames: ['a', 'b'] });
    c.inc({ a: 'x', b: 'yz' });
    c.inc({ a: 'xy', b: 'z' });
    c.inc({ a: 'x', b: 'yz', extra: 'no' } as { a: string; b: string });
    const text = await exposition(registry);
    expect(text).toContain('c_total{a="x",b="yz"} 2');
    expect(text).toContain('c_total{a="xy",b="z"} 1');
    expect(text).not.toContain('extra');
    registry.resetMetrics();
    expect(await exposition(registry)).not.toContain('c_total{');
  });
});
