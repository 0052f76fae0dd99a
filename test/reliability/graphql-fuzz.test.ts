import fs from 'node:fs';
import http from 'node:http';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { startTestGateway, type TestGateway } from '../support/gateway';
import type { GatewayProcess } from '../support/process-gateway';
import { startThrowawayMariaDb, type ThrowawayMariaDb } from '../support/throwaway-mariadb';
import { ALL_TOKEN_FIELDS, gatewayEnv, leakIn, startGateway, type GatewayEnv } from './helpers';

jest.setTimeout(240_000);

/**
 * Fuzzed requests against running gateways: raw bodies (random text and
 * bytes, invalid UTF-8, non-JSON, duplicated keys, huge numbers, deep nesting,
 * huge arrays, odd encodings and methods), random GraphQL documents and
 * variables of wrong types, and saves that aim at a known token with at least
 * one invalid field. Every answer:
 * - is not a 5xx (these are all the caller's mistakes) and holds no stack
 *   trace or source path;
 * - comes within a bound (the server does not choke);
 * - never quotes a secret the request carried in an error message.
 * Afterwards the known token is unchanged, `/healthz` answers 200, a normal
 * query works, no log line holds a secret, and the process is still running.
 *
 * Targets: in-process gateways on SQLite and memory (their logs are read),
 * and a gateway process on a throwaway MariaDB (its exit would show).
 */

/** Marks every secret a fuzz case sends: never to come back in an error or a log line. */
const MARK = 'FUZZSECRET';
const ANSWER_BOUND_MS = 10_000;

interface RawRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer | string;
  /** A short name for failure messages. */
  label: string;
}

interface RawResponse {
  status: number;
  contentType?: string;
  text: string;
  ms: number;
  failure?: string;
}

/** Sends exactly these bytes (fetch would re-encode a body or refuse a header). */
function send(baseUrl: string, req: RawRequest, timeoutMs = 30_000): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const started = Date.now();
  return new Promise((resolve) => {
    const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body, 'utf8');
    const r = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: req.method ?? 'POST',
        path: req.path ?? '/graphql',
        headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...req.headers },
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            text: Buffer.concat(chunks).toString('utf8'),
            ms: Date.now() - started,
          }),
        );
        res.on('error', (err) => resolve({ status: 0, text: '', ms: Date.now() - started, failure: err.message }));
      },
    );
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', (err) => resolve({ status: 0, text: '', ms: Date.now() - started, failure: `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}` }));
    r.end(body);
  });
}

/** One fuzz target: a gateway with its keys, and a way to read its logs and see whether it still runs. */
interface Target {
  name: string;
  url: string;
  keys: { admin: string; operator: string; viewer: string };
  logs(): string;
  alive(): boolean;
}

// ---------------------------------------------------------------------------
// Generators.

const json = (v: unknown) => JSON.stringify(v);
const gqlBody = (query: string, variables?: unknown, extra: Record<string, unknown> = {}) =>
  json({ query, ...(variables === undefined ? {} : { variables }), ...extra });

/** Names from the schema and some that are not. */
const nameArb = fc.constantFrom(
  'token',
  'tokens',
  'tokenById',
  'saveToken',
  'deleteToken',
  'refresh',
  'id',
  'userName',
  'clientId',
  'nodes',
  'totalCount',
  'endCursor',
  'hasNextPage',
  'accessToken',
  'refreshToken',
  'grantToken',
  'clientSecret',
  'status',
  'expiresAt',
  'createdAt',
  '__typename',
  '__schema',
  '__type',
  'types',
  'fields',
  'name',
  'match',
  'first',
  'after',
  'force',
  'x',
  'Query',
  'Token',
  'TokenInput',
  'ACTIVE',
  'ü',
  '_',
  'a'.repeat(300),
);
/** GraphQL literal values, valid or not. */
const literalArb: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    {
      weight: 6,
      arbitrary: fc.oneof(
        fc.integer().map(String),
        fc.double().map((d) => (Number.isFinite(d) ? String(d) : '1e999')),
        fc.constantFrom(
          '1e308',
          '1e309',
          '-1e308',
          '9223372036854775808',
          '-9223372036854775809',
          '18446744073709551616',
          '2147483648',
          '-2147483649',
          '-0',
          '0x10',
          '1.5e-400',
          '00',
          '1.',
          '.5',
          'NaN',
          'Infinity',
        ),
        fc.string({ maxLength: 40 }).map((s) => json(s)),
        fc.constantFrom(
          'true',
          'false',
          'null',
          'ACTIVE',
          '$t',
          '$x',
          '$m',
          '"""block"""',
          '"\\ud800"',
          '"\\udc00x"',
          '"\\u0000"',
          `"${MARK}-lit"`,
          '"',
          '"\\u12"',
          '"' + 'x'.repeat(5000) + '"',
        ),
      ),
    },
    { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 4 }).map((vs) => `[${vs.join(', ')}]`) },
    { weight: 1, arbitrary: fc.array(fc.tuple(nameArb, tie('value')), { maxLength: 4 }).map((kv) => `{${kv.map(([k, v]) => `${k}: ${v}`).join(', ')}}`) },
  ),
})).value;

const selectionsArb: fc.Arbitrary<string> = fc.letrec<{ selections: string }>((tie) => ({
  selections: fc
    .array(
      fc.oneof(
        { weight: 4, arbitrary: nameArb },
        {
          weight: 2,
          arbitrary: fc
            .tuple(nameArb, fc.array(fc.tuple(nameArb, literalArb), { minLength: 1, maxLength: 3 }))
            .map(([n, args]) => `${n}(${args.map(([k, v]) => `${k}: ${v}`).join(', ')})`),
        },
        { weight: 2, arbitrary: fc.tuple(nameArb, tie('selections')).map(([n, s]) => `${n} { ${s} }`) },
        { weight: 1, arbitrary: fc.tuple(nameArb, nameArb).map(([a, n]) => `${a}: ${n}`) },
        {
          weight: 1,
          arbitrary: fc.constantFrom('...F', '... on Query { __typename }', '__typename @include(if: true)', '__typename @skip(if: $x)', '__typename @unknown'),
        },
      ),
      { minLength: 1, maxLength: 4 },
    )
    .map((s) => s.join(' ')),
})).selections;

const documentArb: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .tuple(
        fc.constantFrom(
          '',
          'query',
          'mutation',
          'subscription',
          'query Q',
          'mutation M($t: TokenInput!, $x: Boolean, $m: TokenMatchInput!)',
          'query($x: Int = 1e400)',
        ),
        selectionsArb,
        fc.boolean(),
      )
      .map(([op, sel, frag]) => `${op} { ${sel} }${frag ? ' fragment F on Query { __typename ...F }' : ''}`),
  },
  // Random token soup.
  {
    weight: 2,
    arbitrary: fc
      .array(
        fc.oneof(
          fc.constantFrom('{', '}', '(', ')', ':', '$', '...', '@', '!', '[', ']', '=', '"', '#', ',', '|', '&', 'query', 'mutation', 'fragment', 'on'),
          nameArb,
          literalArb,
        ),
        { maxLength: 30 },
      )
      .map((t) => t.join(' ')),
  },
  // Random text.
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
);

const variablesArb: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ t: fc.jsonValue({ maxDepth: 3 }), x: fc.jsonValue({ maxDepth: 2 }), m: fc.jsonValue({ maxDepth: 3 }) }, { requiredKeys: [] }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.dictionary(
        fc.constantFrom(
          'id',
          'userName',
          'clientId',
          'clientSecret',
          'accessToken',
          'refreshToken',
          'grantToken',
          'expiresAt',
          'expiresIn',
          'accountsUrl',
          'apiDomain',
          'redirectUrl',
          'bogus',
        ),
        fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom(`${MARK}-var`, 1e308, 2 ** 63, -1, '9999-99-99', '+275760-09-13T00:00:00.001Z')),
      ),
    }),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const keyArb = (t: Target) => fc.constantFrom<string | null>(t.keys.admin, t.keys.operator, t.keys.viewer, null, 'not-a-key-0123456789abcdef');

/** Random GraphQL requests: a document, variables, an operation name, a key. */
const documentRequestArb = (t: Target): fc.Arbitrary<RawRequest> =>
  fc
    .tuple(documentArb, variablesArb, fc.option(fc.oneof(nameArb, fc.jsonValue({ maxDepth: 1 })), { nil: undefined }), keyArb(t))
    .map(([query, variables, operationName, key]) => ({
      label: 'document',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: json({ query, ...(variables === undefined ? {} : { variables }), ...(operationName === undefined ? {} : { operationName }) }),
    }));

/** Random bodies and headers: text, bytes, near-JSON. */
const rawRequestArb = (t: Target): fc.Arbitrary<RawRequest> =>
  fc
    .tuple(
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 300 }).map((s) => Buffer.from(s, 'utf8')),
        fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
        // Valid JSON around invalid UTF-8 bytes.
        fc
          .uint8Array({ minLength: 1, maxLength: 8 })
          .map((b) => Buffer.concat([Buffer.from('{"query":"{ token(match: {userName: \\"'), Buffer.from(b), Buffer.from('\\"}) { id } }"}')])),
        fc
          .uint8Array({ minLength: 1, maxLength: 8 })
          .map((b) =>
            Buffer.concat([
              Buffer.from('{"query":"query($m: TokenMatchInput!) { token(match: $m) { id } }","variables":{"m":{"userName":"'),
              Buffer.from(b),
              Buffer.from('"}}}'),
            ]),
          ),
        fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(json(v) ?? 'null')),
      ),
      fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'application/json; charset=utf-16',
        'application/json; charset=latin1',
        'application/json; charset=bogus',
        'text/plain',
        'application/graphql',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        '',
      ),
      keyArb(t),
    )
    .map(([body, contentType, key]) => ({
      label: `raw ${contentType}`,
      headers: { ...(contentType ? { 'content-type': contentType } : {}), ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body,
    }));

// ---------------------------------------------------------------------------
// The fixed corpus: edge cases a random generator rarely reaches.

function corpus(t: Target, seededId: string): RawRequest[] {
  const admin = { 'content-type': 'application/json', authorization: `Bearer ${t.keys.admin}` };
  const post = (label: string, body: Buffer | string, headers: Record<string, string> = admin): RawRequest => ({ label, body, headers });
  const bad = (b: number[]) => Buffer.from(b);
  const withBytes = (bytes: Buffer, where: 'query' | 'variable') =>
    where === 'query'
      ? Buffer.concat([Buffer.from('{"query":"{ token(match: {userName: \\"a'), bytes, Buffer.from('\\"}) { id } }"}')])
      : Buffer.concat([
          Buffer.from('{"query":"query($m: TokenMatchInput!) { token(match: $m) { id } }","variables":{"m":{"userName":"a'),
          bytes,
          Buffer.from('"}}}'),
        ]);
  const invalidUtf8 = [
    bad([0xff]),
    bad([0xc3, 0x28]),
    bad([0xed, 0xa0, 0x80]),
    bad([0xed, 0xbf, 0xbf]),
    bad([0xf8, 0x88, 0x80, 0x80, 0x80]),
    bad([0xc0, 0xaf]),
    bad([0xe2, 0x82]),
    bad([0xf4, 0x90, 0x80, 0x80]),
    bad([0xfe, 0xff]),
    bad([0x00]),
  ];
  const deep = (n: number, open: string, close: string, inner = '1') => open.repeat(n) + inner + close.repeat(n);
  const cases: RawRequest[] = [
    ...invalidUtf8.flatMap((b, i) => [
      post(`invalid UTF-8 #${i} in the query`, withBytes(b, 'query')),
      post(`invalid UTF-8 #${i} in a variable`, withBytes(b, 'variable')),
    ]),
    post('a UTF-8 BOM', Buffer.concat([bad([0xef, 0xbb, 0xbf]), Buffer.from(gqlBody('{ tokens { totalCount } }'))])),
    post('a UTF-16 body', Buffer.from(gqlBody('{ tokens { totalCount } }'), 'utf16le')),
    post(
      'a lone surrogate escape in a variable',
      '{"query":"query($m: TokenMatchInput!) { token(match: $m) { id } }","variables":{"m":{"userName":"\\ud800"}}}',
    ),
    post('empty body', ''),
    post('null', 'null'),
    post('a string', '"{ tokens { totalCount } }"'),
    post('a number', '1e308'),
    post('an array (batch)', json([{ query: '{ __typename }' }, { query: '{ tokens { totalCount } }' }])),
    post('an empty batch', '[]'),
    post('not JSON', 'query { tokens { totalCount } }'),
    post('form-encoded as JSON', 'query=%7B__typename%7D'),
    post('XML', '<?xml version="1.0"?><query>{__typename}</query>'),
    post('truncated JSON', '{"query": "{ tokens { totalCount } }", "variables": {'),
    post('NaN', '{"query":"{ tokens(first: $x) { totalCount } }","variables":{"x":NaN}}'),
    post('duplicated keys', '{"query":"{ a }","query":"{ tokens { totalCount } }","variables":{},"variables":{"x":1}}'),
    post('query not a string', json({ query: { a: 1 } })),
    post('query a number', json({ query: 1e308 })),
    post('variables a string', json({ query: '{ __typename }', variables: 'x' })),
    post('variables an array', json({ query: '{ __typename }', variables: [1, 2] })),
    post('operationName an object', json({ query: '{ __typename }', operationName: { a: 1 } })),
    post('extensions odd', json({ query: '{ __typename }', extensions: { persistedQuery: { version: 1, sha256Hash: 'abc' } } })),
    post('persisted query only', json({ extensions: { persistedQuery: { version: 1, sha256Hash: '0'.repeat(64) } } })),
    post('persisted query of another version', json({ extensions: { persistedQuery: { version: 99, sha256Hash: 'x' } } })),
    post(
      '__proto__ in variables',
      '{"query":"mutation($t: TokenInput!) { saveToken(token: $t) { id } }","variables":{"t":{"__proto__":{"userName":"proto@x"},"constructor":{"prototype":{"x":1}}}}}',
    ),
    // Huge numbers in the places that take numbers.
    ...['1e308', '-1e308', '9223372036854775808', '18446744073709551616', '2147483648', '-2147483649', '1.5', '-0', '0', '1000', '1001'].flatMap((n) => [
      post(`first: ${n} (literal)`, gqlBody(`{ tokens(first: ${n}) { totalCount } }`)),
      post(`first: ${n} (variable)`, `{"query":"query($x: Int) { tokens(first: $x) { totalCount } }","variables":{"x":${n}}}`),
      post(
        `expiresIn: ${n}`,
        `{"query":"mutation($t: TokenInput!) { saveToken(token: $t) { id } }","variables":{"t":{"userName":"n${n}@fuzz","accessToken":"${MARK}-n${n}","expiresIn":${n}}}}`,
      ),
    ]),
    // Wrong types.
    ...[
      ['"1"', 'string'],
      ['true', 'boolean'],
      ['{}', 'object'],
      ['[1]', 'list'],
      ['null', 'null'],
    ].map(([v, what]) => post(`first: ${what}`, `{"query":"query($x: Int) { tokens(first: $x) { totalCount } }","variables":{"x":${v}}}`)),
    ...['1', 'true', '{"a":1}', '[]', '"x"', 'null'].map((v) =>
      post(`match: ${v}`, `{"query":"query($m: TokenMatchInput!) { token(match: $m) { id } }","variables":{"m":${v}}}`),
    ),
    ...['123', '1e308', '{}', '[]', 'true', '""', '" "', '"x y"', '"é"', `"${'x'.repeat(200)}"`].map((v) =>
      post(`tokenById(id: ${v.slice(0, 20)})`, `{"query":"query($id: ID!) { tokenById(id: $id) { id } }","variables":{"id":${v}}}`),
    ),
    ...[
      '"not a date"',
      '"9999-99-99"',
      '"+275760-09-13T00:00:00.001Z"',
      '"0000-01-01T00:00:00Z"',
      '"1969-12-31T23:59:59Z"',
      '1e308',
      '-1',
      '"2026-02-30T00:00:00Z"',
      '{}',
    ].map((v) =>
      post(
        `expiresAt: ${v}`,
        `{"query":"mutation($t: TokenInput!) { saveToken(token: $t) { id } }","variables":{"t":{"userName":"date@fuzz","accessToken":"${MARK}-date","expiresAt":${v}}}}`,
      ),
    ),
    post('a cursor that is not one', gqlBody('{ tokens(after: "!!!") { totalCount } }')),
    post('a cursor of 100 kB', gqlBody(`{ tokens(after: "${'A'.repeat(100_000)}") { totalCount } }`)),
    post('an oversized user name', gqlBody('query($m: TokenMatchInput!) { token(match: $m) { id } }', { m: { userName: 'u'.repeat(100_000) } })),
    post(
      'an oversized secret',
      gqlBody('mutation($t: TokenInput!) { saveToken(token: $t) { id } }', { t: { userName: 'big@fuzz', accessToken: `${MARK}-${'s'.repeat(50_000)}` } }),
    ),
    post(
      'a NUL in a secret',
      gqlBody('mutation($t: TokenInput!) { saveToken(token: $t) { id } }', { t: { userName: 'nul@fuzz', accessToken: `${MARK}-a\u0000b` } }),
    ),
    post(
      'an accounts URL off the allow-list',
      gqlBody('mutation($t: TokenInput!) { saveToken(token: $t) { id } }', {
        t: { userName: 'url@fuzz', refreshToken: `${MARK}-url`, accountsUrl: 'https://evil.example.com' },
      }),
    ),
    post(
      'an accounts URL with credentials',
      gqlBody('mutation($t: TokenInput!) { saveToken(token: $t) { id } }', {
        t: { userName: 'url2@fuzz', refreshToken: `${MARK}-url2`, accountsUrl: `https://${MARK}:pw@accounts.zoho.com` },
      }),
    ),
    // Deep nesting: in JSON, in GraphQL selections, values and lists.
    post('JSON nested 10,000 deep', `{"query":"{ __typename }","variables":{"x":${deep(10_000, '[', ']')}}}`),
    post('JSON nested 200,000 deep', `{"query":"{ __typename }","variables":{"x":${deep(200_000, '[', ']')}}}`),
    post('JSON objects nested 50,000 deep', `{"query":"{ __typename }","variables":{"x":${deep(50_000, '{"a":', '}')}}}`),
    post(
      'a used variable nested 10,000 deep',
      `{"query":"query($m: TokenMatchInput!) { token(match: $m) { id } }","variables":{"m":{"userName":${deep(10_000, '[', ']', '"x"')}}}}`,
    ),
    post('selections nested 30 deep', gqlBody(`{ ${deep(30, 'tokens { nodes { ', ' } }', 'id')} }`)),
    post('selections nested 5,000 deep', gqlBody(`{ ${deep(5_000, '__type(name: "Query") { ', ' }', 'name')} }`)),
    post('selections nested 50,000 deep', gqlBody(`{ ${deep(50_000, 'a { ', ' }', 'b')} }`)),
    post('a list literal nested 50,000 deep', gqlBody(`{ tokens(first: ${deep(50_000, '[', ']')}) { totalCount } }`)),
    post('an object literal nested 50,000 deep', gqlBody(`{ token(match: ${deep(50_000, '{userName: ', '}', '"x"')}) { id } }`)),
    post('a variable default nested 20,000 deep', gqlBody(`query($x: Int = ${deep(20_000, '[', ']')}) { __typename }`)),
    // Huge arrays and counts.
    post('an array of 200,000 numbers', `{"query":"{ __typename }","variables":{"x":[${new Array(200_000).fill('1').join(',')}]}}`),
    post('a body over the limit', `{"query":"{ __typename }","variables":{"x":"${'x'.repeat(2 * 1024 * 1024)}"}}`),
    post('20,000 aliases', gqlBody(`{ ${Array.from({ length: 20_000 }, (_, i) => `a${i}: __typename`).join(' ')} }`)),
    post('2,000 aliased lookups', gqlBody(`{ ${Array.from({ length: 2_000 }, (_, i) => `a${i}: tokenById(id: "x${i}") { id }`).join(' ')} }`)),
    post('5,000 directives', gqlBody(`{ __typename ${'@include(if: true) '.repeat(5_000)} }`)),
    post('10,000 arguments', gqlBody(`{ tokens(${Array.from({ length: 10_000 }, (_, i) => `a${i}: 1`).join(', ')}) { totalCount } }`)),
    // (graphql-armor's depth rule recurses through spreads and overflows at ~2,000; graphql-js's own rules at ~3,500.)
    ...[1_000, 2_000, 3_000, 5_000, 10_000].map((n) =>
      post(
        `a chain of ${n} fragment spreads`,
        gqlBody(`{ ...F0 } ${Array.from({ length: n }, (_, i) => `fragment F${i} on Query { __typename ${i + 1 < n ? `...F${i + 1}` : ''} }`).join(' ')}`),
      ),
    ),
    post('a fragment cycle', gqlBody('{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }')),
    post('10,000 operations', gqlBody(Array.from({ length: 10_000 }, (_, i) => `query Q${i} { __typename }`).join(' '))),
    post('10,000 variables', gqlBody(`query(${Array.from({ length: 10_000 }, (_, i) => `$v${i}: Int`).join(', ')}) { __typename }`)),
    post('introspection, deep', gqlBody(`{ __schema { types { fields { type { ${deep(20, 'ofType { ', ' }', 'name')} } } } } }`)),
    post('a subscription', gqlBody('subscription { tokens { totalCount } }')),
    post('a deleteTokens for a viewer', gqlBody('mutation { deleteTokens }'), { 'content-type': 'application/json', authorization: `Bearer ${t.keys.viewer}` }),
    post('a deleteToken of the seeded id for a viewer', gqlBody(`mutation { deleteToken(id: "${seededId}") }`), {
      'content-type': 'application/json',
      authorization: `Bearer ${t.keys.viewer}`,
    }),
    // Transport oddities.
    post('gzip that is not gzip', 'not gzip', { ...admin, 'content-encoding': 'gzip' }),
    { label: 'real gzip', body: zlib.gzipSync(gqlBody('{ tokens { totalCount } }')), headers: { ...admin, 'content-encoding': 'gzip' } },
    { label: 'a gzip bomb', body: zlib.gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20)), headers: { ...admin, 'content-encoding': 'gzip' } },
    post('an unknown content-encoding', gqlBody('{ __typename }'), { ...admin, 'content-encoding': 'zstd-bogus' }),
    post('a CSRF-prone content type', gqlBody('{ __typename }'), { 'content-type': 'text/plain', authorization: `Bearer ${t.keys.admin}` }),
    post('an Authorization of 8 kB', gqlBody('{ __typename }'), { 'content-type': 'application/json', authorization: `Bearer ${'k'.repeat(8_000)}` }),
    post('an Authorization with Latin-1', gqlBody('{ __typename }'), {
      'content-type': 'application/json',
      authorization: 'Bearer \u00ff\u00fe-0123456789abcdef',
    }),
    post('Basic instead of Bearer', gqlBody('{ __typename }'), { 'content-type': 'application/json', authorization: `Basic ${t.keys.admin}` }),
    post('an odd request id', gqlBody('{ __typename }'), { ...admin, 'x-request-id': '<script>alert(1)</script>' }),
    {
      label: 'GET a mutation',
      method: 'GET',
      path: `/graphql?query=${encodeURIComponent('mutation { deleteTokens }')}`,
      headers: { authorization: `Bearer ${t.keys.admin}`, 'apollo-require-preflight': 'true' },
    },
    {
      label: 'GET a query',
      method: 'GET',
      path: `/graphql?query=${encodeURIComponent('{ tokens { totalCount } }')}`,
      headers: { authorization: `Bearer ${t.keys.admin}`, 'apollo-require-preflight': 'true' },
    },
    {
      label: 'GET with bad variables',
      method: 'GET',
      path: '/graphql?query=%7B__typename%7D&variables=%7Bnot-json',
      headers: { authorization: `Bearer ${t.keys.admin}`, 'apollo-require-preflight': 'true' },
    },
    {
      label: 'GET with invalid percent-encoding',
      method: 'GET',
      path: '/graphql?query=%E0%A4%A',
      headers: { authorization: `Bearer ${t.keys.admin}`, 'apollo-require-preflight': 'true' },
    },
    { label: 'GET as a browser', method: 'GET', path: '/graphql', headers: { accept: 'text/html' } },
    { label: 'PUT', method: 'PUT', body: gqlBody('{ __typename }'), headers: admin },
    { label: 'DELETE', method: 'DELETE', headers: admin },
    { label: 'PATCH', method: 'PATCH', body: gqlBody('{ __typename }'), headers: admin },
    { label: 'OPTIONS', method: 'OPTIONS', headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' } },
    { label: 'an odd path', method: 'GET', path: '/%ff%fe/../healthz' },
    { label: 'a path with a NUL', method: 'GET', path: '/graphql%00' },
    { label: '/metrics', method: 'GET', path: '/metrics' },
    { label: 'POST /healthz', method: 'POST', path: '/healthz', body: 'x', headers: { 'content-type': 'application/json' } },
  ];
  return cases;
}

/**
 * Saves aimed at the seeded token (by its id, its user name or its refresh
 * token) with valid fields and at least one invalid one: every one must be
 * refused whole.
 */
function attackArb(t: Target, seeded: { id: string; userName: string; refreshToken: string; clientId: string }): fc.Arbitrary<RawRequest> {
  const invalid: Array<[string, unknown]> = [
    ['expiresAt', 'not a date'],
    ['expiresAt', '9999-99-99'],
    ['expiresAt', '+275760-09-13T00:00:00.001Z'],
    ['expiresAt', 12],
    ['expiresIn', -1],
    ['expiresIn', 1e308],
    ['expiresIn', 2 ** 63],
    ['expiresIn', '3600'],
    ['expiresIn', 1.5],
    ['userName', 'u'.repeat(256)],
    ['userName', 42],
    ['userName', ['a']],
    ['clientId', { a: 1 }],
    ['clientSecret', 'c'.repeat(5000)],
    ['accessToken', `${MARK}-a\u0000`],
    ['accessToken', `${MARK}-${'a'.repeat(5000)}`],
    ['refreshToken', true],
    ['grantToken', 1e308],
    ['redirectUrl', 'r'.repeat(2000)],
    ['apiDomain', 'd'.repeat(300)],
    ['accountsUrl', 'https://evil.example.com'],
    ['accountsUrl', 'not a url'],
    ['accountsUrl', ''],
    ['bogus', 1],
    ['id', ''],
    ['id', 'has space'],
    ['id', 'x'.repeat(129)],
    ['id', null],
  ];
  const valid: Array<[string, unknown]> = [
    ['accessToken', `${MARK}-new-access`],
    ['refreshToken', `${MARK}-new-refresh`],
    ['clientSecret', `${MARK}-new-secret`],
    ['redirectUrl', 'https://changed.example.com/cb'],
    ['apiDomain', 'https://www.zohoapis.in'],
    ['expiresIn', 60],
    ['userName', 'renamed@fuzz'],
    ['grantToken', null],
    ['clientId', 'changed-client'],
  ];
  const target = fc.constantFrom<Record<string, unknown>>(
    { id: seeded.id },
    { userName: seeded.userName },
    { refreshToken: seeded.refreshToken, clientId: seeded.clientId },
  );
  return fc
    .tuple(
      target,
      fc.subarray(valid, { minLength: 0, maxLength: 4 }),
      fc.subarray(invalid, { minLength: 1, maxLength: 3 }),
      fc.constantFrom(t.keys.admin, t.keys.operator),
      fc.boolean(),
    )
    .map(([who, goods, bads, key, inline]) => {
      const t0: Record<string, unknown> = { ...who };
      for (const [k, v] of goods) if (!(k in t0)) t0[k] = v;
      for (const [k, v] of bads) t0[k] = v;
      // The same payload as a variable, or as an inline literal (where it can be written as one).
      const body = inline
        ? gqlBody(
            `mutation { saveToken(token: {${Object.entries(t0)
              .map(([k, v]) => `${k}: ${json(v)}`)
              .join(', ')}}) { id } }`,
          )
        : gqlBody('mutation($t: TokenInput!) { saveToken(token: $t) { id } }', { t: t0 });
      return { label: `attack ${json(t0).slice(0, 300)}`, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body };
    });
}

// ---------------------------------------------------------------------------

/** Checks one answer; returns what is wrong with it. */
function problemsOf(req: RawRequest, res: RawResponse): string[] {
  const out: string[] = [];
  const what = `${req.label.slice(0, 120)} → ${res.status} ${res.text.slice(0, 300)}`;
  if (res.status === 0) out.push(`no answer (${res.failure}): ${req.label.slice(0, 120)}`);
  if (res.status >= 500) out.push(`a ${res.status}: ${what}`);
  if (res.ms > ANSWER_BOUND_MS) out.push(`took ${res.ms} ms: ${req.label.slice(0, 120)}`);
  // (The playground page is the one HTML answer: its bundled IDE carries its own source comments.)
  const leak = res.contentType?.startsWith('text/html') ? null : leakIn(res.text);
  if (leak) out.push(`${leak} in ${what}`);
  let body: any = null;
  try {
    body = JSON.parse(res.text);
  } catch {
    // not JSON
  }
  for (const e of Array.isArray(body?.errors) ? body.errors : []) {
    const text = JSON.stringify({ message: e?.message, extensions: e?.extensions });
    if (text.includes(MARK)) out.push(`an error quotes a secret the request sent: ${what}`);
  }
  return out;
}

async function snapshot(t: Target, id: string): Promise<string> {
  const res = await send(t.url, {
    label: 'snapshot',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${t.keys.admin}` },
    body: gqlBody(`query($id: ID!) { tokenById(id: $id) { ${ALL_TOKEN_FIELDS} } }`, { id }),
  });
  return res.text;
}

async function fuzz(t: Target, runs: { documents: number; raw: number; attacks: number }): Promise<void> {
  const admin = { 'content-type': 'application/json', authorization: `Bearer ${t.keys.admin}` };
  const seed = await send(t.url, {
    label: 'seed',
    headers: admin,
    body: gqlBody(`mutation($t: TokenInput!) { saveToken(token: $t) { ${ALL_TOKEN_FIELDS} } }`, {
      t: {
        userName: 'seeded@fuzz.example.com',
        clientId: '1000.SEEDED',
        clientSecret: 'seeded-client-secret-0001',
        accessToken: 'seeded-access-0002',
        refreshToken: 'seeded-refresh-0003',
        grantToken: 'seeded-grant-0004',
        redirectUrl: 'https://app.example.com/cb',
        expiresAt: '2100-01-01T00:00:00.000Z',
      },
    }),
  });
  const seeded = JSON.parse(seed.text).data.saveToken;
  const before = await snapshot(t, seeded.id);
  expect(JSON.parse(before).data.tokenById).toEqual(seeded);

  const problems: string[] = [];
  let sent = 0;
  const statuses = new Map<number, number>();
  const check = async (req: RawRequest) => {
    const res = await send(t.url, req);
    sent++;
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    const found = problemsOf(req, res);
    problems.push(...found);
    return found;
  };

  const started = Date.now();
  for (const req of corpus(t, seeded.id)) await check(req);
  // Random cases: collected, not thrown, so that one run reports them all (no shrinking needed to read them).
  const property = (arb: fc.Arbitrary<RawRequest>, numRuns: number) =>
    fc.assert(
      fc.asyncProperty(arb, async (req) => {
        await check(req);
      }),
      { numRuns, interruptAfterTimeLimit: 60_000, markInterruptAsFailure: false },
    );
  await property(documentRequestArb(t), runs.documents);
  await property(rawRequestArb(t), runs.raw);
  await property(attackArb(t, seeded), runs.attacks);
  const attacksChanged = (await snapshot(t, seeded.id)) !== before;

  // Afterwards: the seeded token is as it was, the server is up and serves, and no log holds a secret.
  if (attacksChanged) problems.push(`the seeded token changed: ${(await snapshot(t, seeded.id)).slice(0, 600)}`);
  const health = await send(t.url, { label: 'healthz', method: 'GET', path: '/healthz' });
  if (health.status !== 200) problems.push(`/healthz answered ${health.status}`);
  const normal = await send(t.url, { label: 'normal', headers: admin, body: gqlBody('{ tokens(first: 1000) { totalCount nodes { id } } }') });
  if (normal.status !== 200 || !JSON.parse(normal.text).data?.tokens) problems.push(`a normal query failed: ${normal.text.slice(0, 300)}`);
  if (!t.alive()) problems.push('the gateway process exited');
  const logs = t.logs();
  for (const secret of [MARK, 'seeded-client-secret-0001', 'seeded-access-0002', 'seeded-refresh-0003', 'seeded-grant-0004', t.keys.admin, t.keys.operator]) {
    if (logs.includes(secret)) {
      const at = logs.indexOf(secret);
      problems.push(`a log line holds a secret: ${logs.slice(Math.max(0, logs.lastIndexOf('\n', at) + 1), at + 200).slice(0, 400)}`);
    }
  }
  console.log(
    `fuzz ${t.name}: ${sent} requests in ${Date.now() - started} ms; statuses ${json(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}; ${problems.length} problems`,
  );
  expect([...new Set(problems)]).toEqual([]);
}

describe('fuzzed requests never break the gateway', () => {
  let accounts: FakeAccountsServer;
  beforeAll(async () => {
    accounts = await startFakeAccountsServer();
  });
  afterAll(async () => {
    await accounts?.close();
  });

  describe.each(['sqlite', 'memory'] as const)('in process, %s store', (store) => {
    let gw: TestGateway;
    beforeAll(async () => {
      gw = await startTestGateway({ store, env: { TOKENGATE_ACCOUNTS_URL: accounts.url, TOKENGATE_LOG_LEVEL: 'info' } });
    });
    afterAll(async () => {
      await gw?.close();
    });

    it('answers every fuzzed request with a clean 4xx or 200, changes no token, stays up', async () => {
      await fuzz({ name: store, url: gw.url, keys: gw.keys, logs: () => gw.logs(), alive: () => true }, { documents: 400, raw: 200, attacks: 200 });
    });
  });

  describe('a gateway process on MariaDB', () => {
    let db: ThrowawayMariaDb;
    let ge: GatewayEnv;
    let gw: GatewayProcess;
    beforeAll(async () => {
      db = await startThrowawayMariaDb();
      ge = gatewayEnv(await db.createDatabase('tg_fuzz'), { TOKENGATE_ACCOUNTS_URL: accounts.url, TOKENGATE_LOG_LEVEL: 'info' });
      gw = await startGateway(ge.env);
    });
    afterAll(async () => {
      await gw?.kill();
      await db?.destroy();
      if (ge) fs.rmSync(ge.dataDir, { recursive: true, force: true });
    });

    it('answers every fuzzed request with a clean 4xx or 200, changes no token, stays up', async () => {
      await fuzz(
        { name: 'mysql process', url: gw.url, keys: ge.keys, logs: () => gw.output(), alive: () => gw.child.exitCode === null && gw.child.signalCode === null },
        { documents: 300, raw: 150, attacks: 150 },
      );
    });
  });
});
