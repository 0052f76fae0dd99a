import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request the receiver got: the raw body, as a receiver must verify it. */
export interface ReceivedDelivery {
  at: number;
  headers: http.IncomingHttpHeaders;
  rawBody: string;
  body: any;
  /** The status it was answered with. */
  status: number;
}

/** A webhook receiver for tests: a real HTTP server on 127.0.0.1. */
export interface WebhookReceiver {
  url: string;
  deliveries: ReceivedDelivery[];
  /** Answers the next `times` requests with `status` (then 200 again). */
  failNext(status: number, times: number): void;
  /** Holds every answer this long (ms). */
  delay(ms: number): void;
  /** Holds every answer until `release()`. */
  hold(): void;
  release(): void;
  /** Resolves when `n` deliveries arrived (rejects after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<ReceivedDelivery[]>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const deliveries: ReceivedDelivery[] = [];
  let failures: { status: number; left: number } | null = null;
  let delayMs = 0;
  let held: Promise<void> | null = null;
  let releaseHeld = () => {};
  const sockets = new Set<Socket>();
  const waiters: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let status = 200;
      if (failures && failures.left > 0) {
        status = failures.status;
        failures.left--;
      }
      const rawBody = Buffer.concat(chunks).toString('utf8');
      let body: unknown = null;
      try {
        body = JSON.parse(rawBody);
      } catch {
        // kept raw
      }
      deliveries.push({ at: Date.now(), headers: req.headers, rawBody, body, status });
      for (const w of waiters.splice(0)) w();
      void (held ?? Promise.resolve()).then(() =>
        setTimeout(() => {
          res.writeHead(status, { 'content-type': 'text/plain' });
          res.end(status === 200 ? 'ok' : 'nope');
        }, delayMs),
      );
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/tokengate`,
    deliveries,
    failNext(status, times) {
      failures = { status, left: times };
    },
    delay(ms) {
      delayMs = ms;
    },
    hold() {
      held ??= new Promise<void>((resolve) => (releaseHeld = resolve));
    },
    release() {
      releaseHeld();
      held = null;
    },
    async waitFor(n, timeoutMs = 10_000) {
      if (deliveries.length < n) {
        // Woken by each delivery as it arrives; the timer only bounds the wait.
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`expected ${n} webhook deliveries, got ${deliveries.length}`)), timeoutMs);
        });
        try {
          while (deliveries.length < n) await Promise.race([new Promise<void>((resolve) => waiters.push(resolve)), timedOut]);
        } finally {
          clearTimeout(timer);
        }
      }
      return deliveries.slice(0, n);
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
