import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../logger';

/** Options of {@link HttpDrain.drain}. */
export interface DrainOptions {
  /**
   * How long a kept-alive connection may stay idle before it is closed: one
   * that carries a request meanwhile gets its answer with `Connection: close`
   * instead, so a busy client is never cut while it sends. Default 500 ms.
   */
  idleGraceMs?: number;
  /** After this long, connections still open are closed, answers unfinished or not. Default 4 s. */
  deadlineMs?: number;
}

/**
 * A graceful stop of a Fastify app's HTTP server. Node's `server.close()`
 * destroys idle kept-alive connections at once, and a client may be writing
 * its next request on one of them right then (it sees a reset); this stops
 * listening without that, marks every answer from then on
 * `Connection: close`, lets idle connections go after a grace period, and
 * forces the rest only at a deadline.
 *
 * Construct it before `app.ready()`: it adds an `onSend` hook.
 */
export class HttpDrain {
  private draining = false;
  private done: Promise<void> | null = null;

  constructor(
    private readonly app: FastifyInstance,
    private readonly logger: Logger,
  ) {
    app.addHook('onSend', (_request, reply, payload, next) => {
      if (this.draining) void reply.header('connection', 'close');
      next(null, payload);
    });
  }

  /** Stops taking connections and resolves once every connection has closed. Idempotent. */
  drain(options: DrainOptions = {}): Promise<void> {
    this.done ??= this.run(options.idleGraceMs ?? 500, options.deadlineMs ?? 4_000);
    return this.done;
  }

  private async run(idleGraceMs: number, deadlineMs: number): Promise<void> {
    this.draining = true;
    const server = this.app.server;
    if (!server.listening) return;
    // net.Server's close: stops listening and waits for the connections, without http.Server's closeIdleConnections().
    const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()));
    let sweep: NodeJS.Timeout | undefined;
    const grace = setTimeout(() => {
      server.closeIdleConnections();
      // An answer whose headers had gone out before the drain leaves its connection kept alive: close it once idle.
      sweep = setInterval(() => server.closeIdleConnections(), 100);
    }, idleGraceMs);
    const deadline = setTimeout(() => {
      this.logger.warn({ deadlineMs }, 'requests did not finish in time; closing their connections');
      server.closeAllConnections();
    }, deadlineMs);
    try {
      await closed;
    } finally {
      clearTimeout(grace);
      clearTimeout(deadline);
      clearInterval(sweep);
    }
  }
}
