/**
 * A minimal HTTP/1.1 client over kept-alive sockets, for bursts: connections
 * are opened (and used once) beforehand, so a burst of N requests is N socket
 * writes of prepared bytes — a few milliseconds for 1,000 — and each request's
 * time runs from its own write to the last byte of its answer.
 */
import net from 'node:net';

export interface RawAnswer {
  status: number;
  body: string;
  ms: number;
}

export class RawHttpConnection {
  private buf: Buffer = Buffer.alloc(0);
  private pending: { resolve: (a: RawAnswer) => void; reject: (e: Error) => void; start: number } | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.tryParse();
    });
    const fail = (e: Error) => {
      const p = this.pending;
      this.pending = null;
      p?.reject(e);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static open(host: string, port: number): Promise<RawHttpConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port }, () => resolve(new RawHttpConnection(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends prepared request bytes; resolves with the answer. One request at a time per connection. */
  request(bytes: Buffer | string): Promise<RawAnswer> {
    if (this.pending) return Promise.reject(new Error('a request is already in flight on this connection'));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, start: performance.now() };
      this.socket.write(bytes);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private tryParse(): void {
    if (!this.pending) return;
    const headEnd = this.buf.indexOf('\r\n\r\n');
    if (headEnd < 0) return;
    const head = this.buf.subarray(0, headEnd).toString('latin1');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    let body: Buffer;
    let consumed: number;
    if (length) {
      const n = Number(length[1]);
      if (this.buf.length < headEnd + 4 + n) return;
      body = this.buf.subarray(headEnd + 4, headEnd + 4 + n);
      consumed = headEnd + 4 + n;
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const parts: Buffer[] = [];
      let at = headEnd + 4;
      for (;;) {
        const lineEnd = this.buf.indexOf('\r\n', at);
        if (lineEnd < 0) return;
        const size = parseInt(this.buf.subarray(at, lineEnd).toString('latin1'), 16);
        if (this.buf.length < lineEnd + 2 + size + 2) return;
        if (size === 0) {
          consumed = lineEnd + 4;
          break;
        }
        parts.push(this.buf.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
      body = Buffer.concat(parts);
    } else {
      return; // not expected from the gateway: wait for more (or the close)
    }
    const p = this.pending;
    this.pending = null;
    this.buf = this.buf.subarray(consumed);
    p.resolve({ status, body: body.toString('utf8'), ms: performance.now() - p.start });
  }
}

/** The bytes of a request. */
export function requestBytes(method: 'GET' | 'POST', host: string, path: string, headers: Record<string, string>, body = ''): Buffer {
  const b = Buffer.from(body, 'utf8');
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${host}`, 'Connection: keep-alive', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  if (method === 'POST') lines.push(`Content-Length: ${b.length}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), b]);
}
