import { getIntrospectionQuery } from 'graphql';
import { startTestGateway, type StoreKind, type TestGateway } from '../support/gateway';

const TOKEN_FIELDS = `id userName clientId redirectUrl apiDomain accountsUrl expiresAt status hasAccessToken hasRefreshToken hasGrantToken lastRefreshedAt lastError createdAt updatedAt`;
const SECRET_FIELDS = ['accessToken', 'refreshToken', 'clientSecret', 'grantToken'] as const;
const ROLE_MAY_READ: Record<'viewer' | 'operator' | 'admin', readonly string[]> = {
  viewer: [],
  operator: ['accessToken'],
  admin: SECRET_FIELDS,
};

const SAVE = `mutation($t: TokenInput!) { saveToken(token: $t) { ${TOKEN_FIELDS} } }`;

/**
 * The GraphQL contract (shared/spec/graphql-api.md) over real HTTP against a
 * running gateway, run unchanged on every store.
 */
export function graphqlApiContract(store: StoreKind): void {
  describe(`GraphQL API over HTTP (${store})`, () => {
    let gw: TestGateway;
    const secrets = {
      clientSecret: 'cs-Secret-value-0001',
      refreshToken: '1000.rt-Secret-value-0002',
      accessToken: '1000.at-Secret-value-0003',
      grantToken: '1000.gt-Secret-value-0004',
    };

    beforeAll(async () => {
      gw = await startTestGateway({ store });
    });
    afterAll(async () => {
      await gw?.close();
    });
    beforeEach(async () => {
      await gw.gateway.stores.tokens.deleteTokens();
    });

    const save = async (t: Record<string, unknown>, key = gw.keys.admin) => {
      const r = await gw.gql(SAVE, { t }, key);
      expect(r.body.errors).toBeUndefined();
      return r.body.data.saveToken;
    };

    describe('authentication', () => {
      it.each([
        ['no key', null],
        ['an unknown key', 'not-a-key-0123456789abcdef'],
      ])('answers %s with 401 UNAUTHENTICATED and no data', async (_what, key) => {
        const r = await gw.gql('{ tokens { totalCount } }', {}, key);
        expect(r.status).toBe(401);
        expect(r.body.data).toBeUndefined();
        expect(r.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
        expect(r.headers.get('www-authenticate')).toBe('Bearer');
      });

      it('refuses a malformed Authorization header', async () => {
        const r = await gw.gql('{ tokens { totalCount } }', {}, null, { authorization: `Basic ${gw.keys.admin}` });
        expect(r.status).toBe(401);
      });

      it('accepts every role for queries', async () => {
        for (const key of Object.values(gw.keys)) {
          const r = await gw.gql('{ tokens { totalCount } }', {}, key);
          expect(r.status).toBe(200);
          expect(r.body.data.tokens.totalCount).toBe(0);
        }
      });
    });

    describe('queries', () => {
      it('token, tokenById and tokens', async () => {
        const a = await save({ userName: 'a@x', clientId: 'c', ...secrets, expiresIn: 3600, apiDomain: 'https://www.zohoapis.eu' });
        expect(a).toMatchObject({
          userName: 'a@x',
          status: 'ACTIVE',
          hasAccessToken: true,
          hasRefreshToken: true,
          hasGrantToken: true,
          accountsUrl: 'https://accounts.zoho.eu',
        });
        const byId = await gw.gql(`query($id: ID!) { tokenById(id: $id) { ${TOKEN_FIELDS} } }`, { id: a.id }, gw.keys.viewer);
        expect(byId.body.data.tokenById).toEqual(a);
        const found = await gw.gql(
          `query($m: TokenMatchInput!) { token(match: $m) { id } }`,
          { m: { refreshToken: secrets.refreshToken, clientId: 'c' } },
          gw.keys.viewer,
        );
        expect(found.body.data.token.id).toBe(a.id);
        const none = await gw.gql(`query($m: TokenMatchInput!) { token(match: $m) { id } }`, { m: { userName: 'nobody' } }, gw.keys.viewer);
        expect(none.body).toEqual({ data: { token: null } });
        const absent = await gw.gql(`{ tokenById(id: "nope") { id } }`, {}, gw.keys.viewer);
        expect(absent.body).toEqual({ data: { tokenById: null } });
      });

      it('pages with a stable cursor', async () => {
        for (let i = 0; i < 7; i++) await save({ id: `p${i}`, refreshToken: `r${i}` });
        const seen: string[] = [];
        let after: string | null = null;
        for (;;) {
          const r: any = await gw.gql(
            `query($a: String) { tokens(first: 3, after: $a) { nodes { id } totalCount endCursor hasNextPage } }`,
            { a: after },
            gw.keys.viewer,
          );
          const page = r.body.data.tokens;
          expect(page.totalCount).toBe(7);
          seen.push(...page.nodes.map((n: { id: string }) => n.id));
          if (!page.hasNextPage) break;
          after = page.endCursor;
        }
        expect(seen).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
      });

      it.each(['viewer', 'operator', 'admin'] as const)('serves the %s role exactly the secret fields it may read', async (role) => {
        const t = await save({ userName: 'secret@x', clientId: 'c', ...secrets });
        const r = await gw.gql(`query($id: ID!) { tokenById(id: $id) { id userName ${SECRET_FIELDS.join(' ')} } }`, { id: t.id }, gw.keys[role]);
        expect(r.status).toBe(200);
        const data = r.body.data.tokenById;
        expect(data.id).toBe(t.id);
        expect(data.userName).toBe('secret@x');
        const errors: Array<{ path: string[]; extensions: { code: string } }> = r.body.errors ?? [];
        for (const field of SECRET_FIELDS) {
          if (ROLE_MAY_READ[role].includes(field)) {
            expect(data[field]).toBe(secrets[field]);
          } else {
            expect(data[field]).toBeNull();
            const err = errors.find((e) => e.path.join('.') === `tokenById.${field}`);
            expect(err?.extensions.code).toBe('FORBIDDEN');
          }
        }
        expect(errors).toHaveLength(SECRET_FIELDS.length - ROLE_MAY_READ[role].length);
        // A refused field's error never carries the value.
        for (const value of Object.values(secrets)) expect(JSON.stringify(r.body.errors ?? [])).not.toContain(value);
      });
    });

    describe('mutations', () => {
      it('saveToken upserts: by rule without an id, left-out fields kept, null clears', async () => {
        const t = await save({ userName: 'u@x', clientId: 'c', clientSecret: 's', refreshToken: 'r1', accessToken: 'a1', expiresIn: 3600 });
        const u = await save({ userName: 'u@x', accessToken: 'a2', redirectUrl: 'https://app/cb' });
        expect(u.id).toBe(t.id);
        expect(u.redirectUrl).toBe('https://app/cb');
        expect(u.hasRefreshToken).toBe(true);
        const cleared = await save({ id: t.id, redirectUrl: null, accessToken: null });
        expect(cleared).toMatchObject({ redirectUrl: null, hasAccessToken: false, status: 'EXPIRED' });
        const count = await gw.gql('{ tokens { totalCount } }', {}, gw.keys.viewer);
        expect(count.body.data.tokens.totalCount).toBe(1);
      });

      it('saveToken computes expiresAt from expiresIn, and refuses both', async () => {
        const before = Date.now();
        const t = await save({ refreshToken: 'r', accessToken: 'a', expiresIn: 120 });
        const exp = Date.parse(t.expiresAt);
        expect(exp).toBeGreaterThanOrEqual(before + 119_000);
        expect(exp).toBeLessThanOrEqual(Date.now() + 121_000);
        expect(t.status).toBe('EXPIRING');
        const both = await gw.gql(SAVE, { t: { refreshToken: 'r', expiresIn: 10, expiresAt: new Date().toISOString() } }, gw.keys.operator);
        expect(both.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
      });

      it('deleteToken and deleteTokens', async () => {
        const t = await save({ refreshToken: 'r' });
        await save({ refreshToken: 'r2' });
        expect((await gw.gql(`mutation { deleteToken(id: "${t.id}") }`, {}, gw.keys.operator)).body.data.deleteToken).toBe(true);
        expect((await gw.gql(`mutation { deleteToken(id: "${t.id}") }`, {}, gw.keys.operator)).body.data.deleteToken).toBe(false);
        expect((await gw.gql('mutation { deleteTokens }', {}, gw.keys.admin)).body.data.deleteTokens).toBe(1);
      });

      it.each([
        ['saveToken', `mutation { saveToken(token: { refreshToken: "x" }) { id } }`, ['operator', 'admin']],
        ['deleteToken', `mutation { deleteToken(id: "x") }`, ['operator', 'admin']],
        ['deleteTokens', `mutation { deleteTokens }`, ['admin']],
        ['refresh', `mutation { refresh(id: "x") { id } }`, ['operator', 'admin']],
        ['revokeToken', `mutation { revokeToken(id: "x") }`, ['operator', 'admin']],
      ])('%s: FORBIDDEN for roles that may not run it, whole', async (name, query, allowed) => {
        for (const role of ['viewer', 'operator', 'admin'] as const) {
          if (allowed.includes(role)) continue;
          const r = await gw.gql(query, {}, gw.keys[role]);
          expect(r.body.data).toBeNull();
          expect(r.body.errors[0].extensions.code).toBe('FORBIDDEN');
          expect(r.body.errors[0].path).toEqual([name]);
        }
        expect((await gw.gql('{ tokens { totalCount } }', {}, gw.keys.admin)).body.data.tokens.totalCount).toBe(0);
      });

      it('refresh of an unknown id is NOT_FOUND', async () => {
        const r = await gw.gql(`mutation { refresh(id: "does-not-exist") { id } }`, {}, gw.keys.operator);
        expect(r.body.errors[0].extensions.code).toBe('NOT_FOUND');
      });
    });

    describe('errors and input validation', () => {
      const expectCode = async (query: string, variables: Record<string, unknown>, code: string) => {
        const r = await gw.gql(query, variables, gw.keys.admin);
        expect(r.body.errors?.[0]?.extensions?.code).toBe(code);
        for (const e of r.body.errors) {
          expect(e.extensions.stacktrace).toBeUndefined();
          expect(typeof e.extensions.code).toBe('string');
        }
        return r;
      };

      it('BAD_USER_INPUT for an empty match', async () => {
        await expectCode(`{ token(match: {}) { id } }`, {}, 'BAD_USER_INPUT');
        await expectCode(`{ token(match: { clientId: "c" }) { id } }`, {}, 'BAD_USER_INPUT');
      });

      it.each([0, -1, 1001])('BAD_USER_INPUT for first = %d', async (first) => {
        await expectCode(`query($f: Int) { tokens(first: $f) { totalCount } }`, { f: first }, 'BAD_USER_INPUT');
      });

      it('BAD_USER_INPUT for a malformed cursor, date, oversized string, bad id', async () => {
        await expectCode(`{ tokens(after: "garbage!") { totalCount } }`, {}, 'BAD_USER_INPUT');
        await expectCode(SAVE, { t: { refreshToken: 'r', expiresAt: 'yesterday' } }, 'BAD_USER_INPUT');
        await expectCode(SAVE, { t: { refreshToken: 'r', userName: 'x'.repeat(300) } }, 'BAD_USER_INPUT');
        await expectCode(SAVE, { t: { refreshToken: 'x'.repeat(5000) } }, 'BAD_USER_INPUT');
        await expectCode(SAVE, { t: { id: 'has spaces', refreshToken: 'r' } }, 'BAD_USER_INPUT');
        await expectCode(SAVE, { t: { userName: 'u' } }, 'BAD_USER_INPUT');
        await expectCode(SAVE, { t: { refreshToken: 'r', expiresIn: -5 } }, 'BAD_USER_INPUT');
      });

      it('BAD_USER_INPUT for an accountsUrl outside the allow-list, and nothing stored', async () => {
        for (const url of ['https://evil.example.com', 'https://accounts.zoho.com.evil.com', 'https://accounts.zoho.com@evil.com', 'ftp://accounts.zoho.com']) {
          await expectCode(SAVE, { t: { refreshToken: 'r', clientId: 'c', clientSecret: 's', accountsUrl: url } }, 'BAD_USER_INPUT');
        }
        expect((await gw.gql('{ tokens { totalCount } }', {}, gw.keys.admin)).body.data.tokens.totalCount).toBe(0);
      });

      it('BAD_USER_INPUT for a duplicate, changing nothing', async () => {
        const a = await save({ userName: 'a@x', refreshToken: 'ra' });
        const b = await save({ userName: 'b@x', refreshToken: 'rb' });
        const r = await expectCode(SAVE, { t: { id: b.id, refreshToken: 'ra' } }, 'BAD_USER_INPUT');
        expect(r.body.errors[0].message).not.toContain('ra');
        const still = await gw.gql(`{ a: tokenById(id: "${a.id}") { updatedAt } b: tokenById(id: "${b.id}") { updatedAt } }`, {}, gw.keys.admin);
        expect(still.body.data).toEqual({ a: { updatedAt: a.updatedAt }, b: { updatedAt: b.updatedAt } });
      });

      it('never echoes a secret sent with the wrong type or an unknown field', async () => {
        const secret = 'SUPER-secret-refresh-value-42';
        const r1 = await gw.gql(SAVE, { t: { refreshTokn: secret } }, gw.keys.admin);
        const r2 = await gw.gql(SAVE, { t: { refreshToken: { nested: secret } } }, gw.keys.admin);
        const r3 = await gw.gql(
          `mutation { saveToken(token: { refreshToken: 42, accessToken: "${secret}", expiresIn: "${secret}" }) { id } }`,
          {},
          gw.keys.admin,
        );
        const r4 = await gw.gql(`mutation { saveToken(token: { refreshToken: "${secret}" ) { id } }`, {}, gw.keys.admin);
        for (const r of [r1, r2, r3, r4]) {
          expect(r.status).toBe(400);
          expect(JSON.stringify(r.body)).not.toContain(secret);
        }
        expect(gw.logs()).not.toContain(secret);
      });

      it('GRAPHQL_VALIDATION_FAILED for an unknown field; GRAPHQL_PARSE_FAILED for garbage', async () => {
        await expectCode(`{ tokens { nope } }`, {}, 'GRAPHQL_VALIDATION_FAILED');
        await expectCode(`{ tokens { `, {}, 'GRAPHQL_PARSE_FAILED');
      });
    });

    describe('guards', () => {
      it('refuses a query of thousands of aliases before running it', async () => {
        const query = `{ ${Array.from({ length: 2000 }, (_, i) => `a${i}: tokenById(id: "x") { id }`).join(' ')} }`;
        const r = await gw.gql(query, {}, gw.keys.admin);
        expect(r.status).toBe(400);
        expect(r.body.data).toBeUndefined();
        expect(r.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
      });

      it('refuses a query over the cost limit even within the alias limit', async () => {
        const fields = `${TOKEN_FIELDS} ${SECRET_FIELDS.join(' ')}`;
        const query = `{ ${Array.from({ length: 30 }, (_, i) => `a${i}: tokenById(id: "x") { ${fields} }`).join(' ')} ${Array.from({ length: 30 }, (_, i) => `b${i}: token(match: { userName: "u" }) { ${fields} }`).join(' ')} }`;
        for (let i = 0; i < 2; i++) {
          // twice: the second answer comes from the cost cache
          const r = await gw.gql(query, {}, gw.keys.admin);
          expect(r.status).toBe(400);
          expect(r.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
        }
      });

      it('refuses a query deeper than the depth limit', async () => {
        const r = await gw.gql(
          `{ __typename tokens { nodes { id } } ... on Query { ... on Query { ... on Query { tokens { nodes { id } } } } } }`,
          {},
          gw.keys.admin,
        );
        expect(r.status).toBe(200); // fragments do not count as depth
        const intro = await gw.gql(getIntrospectionQuery(), {}, gw.keys.admin);
        expect(intro.status).toBe(200); // the playground's schema query fits
        const ofType = (n: number): string => (n === 0 ? 'name' : `ofType { ${ofType(n - 1)} }`);
        const deep = await gw.gql(`{ __schema { types { fields { type { ${ofType(30)} } } } } }`, {}, gw.keys.admin);
        expect(deep.status).toBe(400);
        expect(deep.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
      });

      it('refuses a body over the limit with 413', async () => {
        const r = await gw.gql(SAVE, { t: { refreshToken: 'x'.repeat(1_100_000) } }, gw.keys.admin);
        expect(r.status).toBe(413);
        expect(r.body.errors[0].extensions.code).toBe('BAD_REQUEST');
      });

      it('prevents CSRF: a text/plain POST and a simple GET are refused', async () => {
        const post = await fetch(`${gw.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'text/plain', authorization: `Bearer ${gw.keys.admin}` },
          body: JSON.stringify({ query: '{ tokens { totalCount } }' }),
        });
        expect(post.status).toBe(400);
        const get = await fetch(`${gw.url}/graphql?query=${encodeURIComponent('{ tokens { totalCount } }')}`, {
          headers: { authorization: `Bearer ${gw.keys.admin}` },
        });
        expect(get.status).toBe(400);
        const preflighted = await fetch(`${gw.url}/graphql?query=${encodeURIComponent('{ tokens { totalCount } }')}`, {
          headers: { authorization: `Bearer ${gw.keys.admin}`, 'apollo-require-preflight': 'true', accept: 'application/json' },
        });
        expect(preflighted.status).toBe(200);
      });

      it('sends no CORS headers to an unconfigured origin', async () => {
        const r = await fetch(`${gw.url}/graphql`, {
          method: 'OPTIONS',
          headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' },
        });
        expect(r.headers.get('access-control-allow-origin')).toBeNull();
      });

      it('marks responses no-store and carries a request id', async () => {
        const r = await gw.gql('{ tokens { totalCount } }', {}, gw.keys.admin, { 'x-request-id': 'abc-123' });
        expect(r.headers.get('cache-control')).toBe('no-store');
        expect(r.headers.get('x-request-id')).toBe('abc-123');
      });
    });

    describe('health, readiness and metrics', () => {
      it('/healthz and /readyz answer 200', async () => {
        expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
        const ready = await fetch(`${gw.url}/readyz`);
        expect(ready.status).toBe(200);
        expect(await ready.json()).toMatchObject({ status: 'ready', store: store });
      });

      it('/metrics counts requests by operation and outcome, with no secret in it', async () => {
        await save({ userName: 'm@x', ...secrets });
        await gw.gql('{ tokens { totalCount } }', {}, gw.keys.viewer);
        const text = await (await fetch(`${gw.url}/metrics`)).text();
        expect(text).toMatch(/tokengate_graphql_requests_total\{operation="tokens",outcome="ok"\} \d+/);
        expect(text).toMatch(/tokengate_graphql_requests_total\{operation="saveToken",outcome="ok"\} \d+/);
        expect(text).toMatch(/tokengate_store_operation_duration_seconds_count\{operation="listTokens",outcome="ok"\} \d+/);
        for (const value of [...Object.values(secrets), ...Object.values(gw.keys)]) expect(text).not.toContain(value);
      });

      it('logs each request once, with the request id it answered with', async () => {
        const first = await gw.gql('{ tokens { nodes { id } } }', {}, gw.keys.viewer, { 'x-request-id': 'trace-one-1' });
        const second = await gw.gql('{ tokens { nodes { id } } }', {}, gw.keys.viewer);
        expect(first.headers.get('x-request-id')).toBe('trace-one-1');
        const lines = gw
          .logs()
          .split('\n')
          .filter((l) => l.includes('graphql request'))
          .map((l) => JSON.parse(l) as { reqId?: string });
        expect(lines.filter((l) => l.reqId === 'trace-one-1')).toHaveLength(1);
        expect(lines.filter((l) => l.reqId === second.headers.get('x-request-id'))).toHaveLength(1);
      });

      it('counts and logs, once each, a request refused before any operation ran (a refused key: counted, logged by the auth-failure log)', async () => {
        const refused = [
          { id: 'refused-json-1', body: '{"query": ', headers: { 'content-type': 'application/json' }, status: 400 },
          { id: 'refused-csrf-1', body: 'query', headers: { 'content-type': 'text/plain' }, status: 400 },
          { id: 'refused-batch-1', body: '[{"query":"{ __typename }"}]', headers: { 'content-type': 'application/json' }, status: 400 },
          {
            id: 'refused-key-1',
            body: '{"query":"{ __typename }"}',
            headers: { 'content-type': 'application/json', authorization: 'Bearer not-a-key-0123456789' },
            status: 401,
          },
        ];
        for (const r of refused) {
          const res = await fetch(`${gw.url}/graphql`, {
            method: 'POST',
            headers: { authorization: `Bearer ${gw.keys.viewer}`, ...r.headers, 'x-request-id': r.id },
            body: r.body,
          });
          expect(res.status).toBe(r.status);
          await res.text();
        }
        const lines = gw
          .logs()
          .split('\n')
          .filter((l) => l.includes('graphql request'))
          .map((l) => JSON.parse(l) as { reqId?: string; operation?: string; outcome?: string });
        for (const r of refused) {
          const mine = lines.filter((l) => l.reqId === r.id);
          // A refused key is logged by the rate-limited auth-failure log instead (a flood of bad keys must not flood the log).
          if (r.status === 401) expect(mine).toEqual([]);
          else {
            expect(mine).toHaveLength(1);
            expect(mine[0]).toMatchObject({ operation: 'unknown', outcome: 'BAD_REQUEST' });
          }
        }
        const text = await (await fetch(`${gw.url}/metrics`)).text();
        expect(Number(/tokengate_graphql_requests_total\{operation="unknown",outcome="BAD_REQUEST"\} (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(3);
        expect(text).toMatch(/tokengate_graphql_requests_total\{operation="unknown",outcome="UNAUTHENTICATED"\} \d+/);
      });

      it('no secret and no API key ever reaches the log', async () => {
        await save({ userName: 'log@x', clientId: 'c', ...secrets });
        await gw.gql(`{ tokens { nodes { ${SECRET_FIELDS.join(' ')} } } }`, {}, gw.keys.admin);
        await gw.gql(`{ tokens { nodes { ${SECRET_FIELDS.join(' ')} } } }`, {}, gw.keys.viewer);
        const logs = gw.logs();
        expect(logs).toContain('graphql request');
        for (const value of [...Object.values(secrets), ...Object.values(gw.keys)]) expect(logs).not.toContain(value);
      });
    });
  });
}
