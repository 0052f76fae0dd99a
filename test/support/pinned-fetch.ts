/**
 * A `fetch` for the `AccountsClient`'s `fetch` option ("another HTTP agent")
 * that connects to a pinned address for some host names — what an
 * `/etc/hosts` entry would do — so that a test reaches a fake server as
 * `https://accounts.zoho.uk` itself: the URL, the Host header, TLS's server
 * name and the certificate all stay that host's. Real HTTPS over a real
 * socket; nothing is answered here.
 */
import https from 'node:https';

export function pinnedFetch(pins: Record<string, { port: number; ca: string | Buffer }>): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    const pin = pins[url.hostname];
    if (url.protocol !== 'https:' || !pin) throw new TypeError(`fetch failed: ${url.hostname} is not pinned in this test`, { cause: { code: 'ENOTFOUND' } });
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => (headers[k] = v));
    const body = typeof init.body === 'string' ? init.body : '';
    return new Promise<Response>((resolve, reject) => {
      const req = https.request(
        {
          method: init.method ?? 'GET',
          host: url.hostname,
          // The pin: the host name resolves to 127.0.0.1, at the fake's port; the certificate is verified for the URL's host.
          port: pin.port,
          lookup: ((_host: string, options: { all?: boolean }, cb: (...args: unknown[]) => void) =>
            options?.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)) as never,
          path: `${url.pathname}${url.search}`,
          headers: { ...headers, host: url.host, 'content-length': String(Buffer.byteLength(body)) },
          servername: url.hostname,
          ca: pin.ca,
          agent: false,
          signal: init.signal ?? undefined,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const h = new Headers();
            for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
            resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 500, headers: h }));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }) as typeof fetch;
}
