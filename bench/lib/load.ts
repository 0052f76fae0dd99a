/**
 * HTTP load from autocannon against a gateway process: a fixed number of
 * keep-alive connections, each sending its next request as soon as the last
 * one is answered (closed loop), for a fixed time.
 *
 * autocannon's own histogram keeps whole milliseconds, too coarse for 2–10 ms
 * latencies, so every response time (a float, in ms, from autocannon's
 * `response` event) is recorded here and the percentiles are exact. The first
 * `warmupFraction` of a run (connections opening, JIT) is left out of both
 * the request rate and the latencies. Every answer's body is checked: a run
 * with an error, a non-2xx answer or an unexpected body is reported as failed,
 * never as a fast run.
 */
import autocannon from 'autocannon';
import { cpuSeconds } from './proc';
import { mean, percentile, round, Samples } from './stats';

export interface LoadSpec {
  /** The gateway's base URL, `http://127.0.0.1:PORT`. */
  url: string;
  connections: number;
  seconds: number;
  /** The JSON body of each request (called per request: vary the id here). */
  body: () => string;
  /** The API key of the `Authorization: Bearer` header. */
  apiKey: string;
  /** Whether an answer's body is the expected one (cheap string checks). */
  verify: (body: string) => boolean;
  /** Leave this fraction of the run out of the figures [0.15]. */
  warmupFraction?: number;
  /** The gateway's pid: its CPU time over the run is divided by the answers (`cpuUsPerRequest`). */
  pid?: number;
  /** Send at most this many requests per second in all (open loop at a fixed rate) instead of as fast as answered. */
  overallRate?: number;
}

export interface LoadResult {
  /** Answers counted (after the warm-up). */
  requests: number;
  /** Answers per second over the measured window. */
  rps: number;
  /** Latencies in ms over the measured window. */
  p50: number;
  p99: number;
  mean: number;
  /** Requests that failed: connection errors and timeouts, non-2xx answers, unexpected bodies (whole run). */
  failures: number;
  /** The first unexpected body, for the log. */
  sample: string | null;
  seconds: number;
  /** Answers (2xx) over the whole run, warm-up included: what CPU time over the whole run is divided by. */
  totalRequests: number;
  /** CPU time (user + system) of the process `pid` per answer, in µs, over the whole run. */
  cpuUsPerRequest?: number;
}

export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const skipMs = spec.seconds * 1000 * (spec.warmupFraction ?? 0.15);
  const samples = new Samples();
  let startedAt = 0;
  let badSample: string | null = null;
  let bad = 0;
  let total = 0;
  const cpu0 = spec.pid === undefined ? 0 : cpuSeconds(spec.pid);
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        duration: spec.seconds,
        timeout: 10,
        ...(spec.overallRate ? { overallRate: spec.overallRate } : {}),
        requests: [
          {
            method: 'POST',
            path: '/graphql',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${spec.apiKey}` },
            setupRequest: (req) => {
              req.body = spec.body();
              return req;
            },
          },
        ],
        verifyBody: (body: unknown) => {
          const ok = typeof body === 'string' && spec.verify(body);
          if (!ok) {
            bad++;
            badSample ??= String(body).slice(0, 300);
          }
          return ok;
        },
      },
      (err, result) => {
        if (err) return reject(err);
        const endedAt = performance.now();
        const cpu = spec.pid === undefined ? undefined : round(((cpuSeconds(spec.pid) - cpu0) / Math.max(1, total)) * 1e6, 1);
        const windowMs = endedAt - startedAt - skipMs;
        const sorted = samples.sorted();
        resolve({
          requests: sorted.length,
          rps: round(sorted.length / (windowMs / 1000), 1),
          p50: round(percentile(sorted, 50), 3),
          p99: round(percentile(sorted, 99), 3),
          mean: round(mean(sorted), 3),
          failures: result.errors + result.timeouts + result.non2xx + Math.max(result.mismatches ?? 0, bad),
          sample: badSample,
          seconds: round(windowMs / 1000, 2),
          totalRequests: total,
          ...(cpu === undefined ? {} : { cpuUsPerRequest: cpu }),
        });
      },
    );
    startedAt = performance.now();
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode < 200 || statusCode >= 300) return;
      total++;
      if (performance.now() - startedAt >= skipMs) samples.push(responseTime);
    });
  });
}

/** A short description for the progress log. */
export function describeLoad(r: LoadResult): string {
  const cpu = r.cpuUsPerRequest === undefined ? '' : `, CPU ${Math.round(r.cpuUsPerRequest)} µs/req`;
  return `${Math.round(r.rps)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms${cpu}${r.failures ? `, ${r.failures} FAILED` : ''}`;
}
