/**
 * A fake Zoho CRM API, run in a process of its own (`startFakeZohoApi` in
 * fake-zoho-api.ts compiles and starts this file). Self-contained: Node's
 * built-ins only. It prints `listening <port>` once it listens on 127.0.0.1.
 *
 * Every API route wants `Authorization: Zoho-oauthtoken <token>` (401
 * `AUTHENTICATION_FAILURE` otherwise) and answers 401 `INVALID_OAUTHTOKEN`
 * for a token it was told to invalidate. Routes:
 * - `GET /crm/v8/Leads[/{id}]`: records, with Zoho's rate-limit headers (and a
 *   `Set-Cookie` and CORS headers of its own, which the gateway must drop);
 * - `POST|PUT|PATCH /crm/v8/Leads`: echoes the records it was sent;
 * - `GET /crm/v8/bulk/download?mb=N`: N MB streamed (with back-pressure);
 * - `* /echo/...`: the request as it arrived (method, path, query, headers, body size);
 * - `GET /slow`: never answers.
 * Control (no auth): `POST /__fake/invalidate` `{"token"}`, `GET /__fake/requests`,
 * `POST /__fake/reset`.
 */
import http from 'node:http';
import { createHash } from 'node:crypto';

interface RecordedRequest {
  method: string;
  path: string;
  query: string;
  authorization: string | null;
  headers: http.IncomingHttpHeaders;
  bodyBytes: number;
  bodySha256: string;
  at: number;
}

const invalidated = new Set<string>();
let recorded: RecordedRequest[] = [];

const LEADS = [
  { id: '5725767000000411001', Last_Name: 'Lovelace', First_Name: 'Ada', Company: 'Analytical Engines' },
  { id: '5725767000000411002', Last_Name: 'Hopper', First_Name: 'Grace', Company: 'Compilers Inc' },
];

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function streamMegabytes(res: http.ServerResponse, mb: number): void {
  const chunk = Buffer.alloc(64 * 1024, 'z');
  const total = mb * 16; // 64 KB chunks
  let sent = 0;
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(mb * 1024 * 1024), 'x-ratelimit-remaining': '99' });
  const pump = () => {
    while (sent < total) {
      sent += 1;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    res.end();
  };
  pump();
}

const server = http.createServer((req, res) => {
  void (async () => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    if (path.startsWith('/__fake/')) {
      const body = await readBody(req);
      if (path === '/__fake/invalidate') {
        invalidated.add(String(JSON.parse(body.toString('utf8')).token));
        return json(res, 200, { ok: true });
      }
      if (path === '/__fake/requests') return json(res, 200, recorded);
      if (path === '/__fake/reset') {
        recorded = [];
        invalidated.clear();
        return json(res, 200, { ok: true });
      }
      return json(res, 404, { code: 'NOT_FOUND' });
    }

    const isBulk = path === '/crm/v8/bulk/download';
    const body = isBulk || path === '/slow' ? Buffer.alloc(0) : await readBody(req);
    const authorization = req.headers.authorization ?? null;
    recorded.push({
      method: req.method ?? 'GET',
      path,
      query: url.search,
      authorization,
      headers: req.headers,
      bodyBytes: body.length,
      bodySha256: createHash('sha256').update(body).digest('hex'),
      at: Date.now(),
    });
    const m = /^Zoho-oauthtoken (\S+)$/.exec(authorization ?? '');
    if (!m) return json(res, 401, { code: 'AUTHENTICATION_FAILURE', details: {}, message: 'Authentication failed', status: 'error' });
    if (invalidated.has(m[1]!)) return json(res, 401, { code: 'INVALID_OAUTHTOKEN', details: {}, message: 'invalid oauth token', status: 'error' });

    if (path === '/slow') return; // never answers
    if (isBulk) return streamMegabytes(res, Number(url.searchParams.get('mb') ?? '1'));
    if (path.startsWith('/echo')) {
      return json(res, 200, {
        method: req.method,
        path,
        query: url.search,
        headers: req.headers,
        bodyBytes: body.length,
        body: body.length <= 4096 ? body.toString('utf8') : null,
      });
    }
    if (path === '/crm/v8/Leads' || path.startsWith('/crm/v8/Leads/')) {
      const rate = {
        'x-ratelimit-limit': '100',
        'x-ratelimit-remaining': '97',
        'x-ratelimit-reset': '1700000000',
        'set-cookie': ['crmcsr=abc; Path=/', '_zcsr_tmp=def'],
        'access-control-allow-origin': '*',
      };
      if (req.method === 'GET' || req.method === 'HEAD') {
        const id = path.split('/')[4];
        const data = id ? LEADS.filter((l) => l.id === id) : LEADS;
        if (data.length === 0) return void res.writeHead(204).end();
        return json(res, 200, { data, info: { per_page: 200, count: data.length, page: 1, more_records: false } }, rate);
      }
      const sent = JSON.parse(body.toString('utf8') || '{}') as { data?: unknown[] };
      return json(
        res,
        201,
        { data: (sent.data ?? []).map((_, i) => ({ code: 'SUCCESS', details: { id: `57257670000005${i}` }, message: 'record added', status: 'success' })) },
        rate,
      );
    }
    return json(res, 404, { code: 'INVALID_URL_PATTERN', details: {}, message: 'Please check if the URL trying to access is a correct one', status: 'error' });
  })().catch((err: unknown) => {
    if (!res.headersSent) json(res, 500, { code: 'INTERNAL_ERROR', message: String((err as Error)?.message) });
  });
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
