import { randomBytes } from 'node:crypto';
import { startFakeAccountsServer, type FakeAccountsServer } from '../support/fake-accounts-server';
import { startTestGateway, type StoreKind, type TestGateway } from '../support/gateway';
import { describeWithMysql } from '../support/mysql';

const AUDIT = `query($first: Int, $after: String, $tokenId: ID) {
  auditLog(first: $first, after: $after, tokenId: $tokenId) {
    nodes { id at action tokenId actorRole actorName outcome errorCode fields detail requestId count }
    endCursor hasNextPage
  }
}`;

/**
 * The audit trail of a sequence of operations through the API, as an admin
 * reads it with `auditLog`: who (role and key name, never the key) did what
 * to which token, with the refresh outcomes and provider codes, the secret
 * fields each key read — and no secret value anywhere in it.
 */
function auditApiContract(store: StoreKind): void {
  describe(`audit trail through the API (${store})`, () => {
    let accounts: FakeAccountsServer;
    let gw: TestGateway;
    const key = (role: string) => `${role}-${randomBytes(16).toString('hex')}`;
    const keys = { admin: key('admin'), operator: key('operator'), viewer: key('viewer') };
    const clientId = '1000.AUDIT';
    const clientSecret = 'audit-client-secret-' + randomBytes(8).toString('hex');
    /** Every secret value the test handles: none may appear in the trail. */
    const secrets = new Set<string>([clientSecret, ...Object.values(keys)]);

    beforeAll(async () => {
      accounts = await startFakeAccountsServer();
      accounts.addClient(clientId, clientSecret);
      gw = await startTestGateway({
        store,
        env: {
          TOKENGATE_API_KEYS: `admin:ops-console:${keys.admin},operator:crm-sync:${keys.operator},viewer:dashboard:${keys.viewer}`,
          TOKENGATE_ACCOUNTS_URL: accounts.url,
          TOKENGATE_UPSTREAM_TIMEOUT_MS: '400',
          TOKENGATE_REFRESH_LEASE_SECONDS: '5',
        },
      });
    });
    afterAll(async () => {
      await gw?.close();
      await accounts?.close();
    });

    const gql = async (k: string, query: string, variables: Record<string, unknown> = {}, requestId?: string) => {
      const r = await gw.gql(query, variables, k, requestId ? { 'x-request-id': requestId } : {});
      return r.body as { data?: any; errors?: Array<{ extensions: { code: string; oauthError?: string } }> };
    };
    const auditOf = async (tokenId?: string) => {
      await gw.gateway.audit.flush();
      const r = await gql(keys.admin, AUDIT, { first: 100, tokenId });
      expect(r.errors).toBeUndefined();
      return r.data.auditLog.nodes as Array<Record<string, any>>;
    };

    it('records who did what, with outcomes and provider codes, and which secrets each key read', async () => {
      const refreshToken = accounts.addRefreshToken(clientId);
      secrets.add(refreshToken);
      const saved = await gql(
        keys.operator,
        `mutation($t: TokenInput!) { saveToken(token: $t) { id } }`,
        { t: { userName: 'ann@example.com', clientId, clientSecret, refreshToken } },
        'req-save',
      );
      const id = saved.data.saveToken.id as string;

      const refreshed = await gql(keys.operator, `mutation($id: ID!) { refresh(id: $id) { accessToken } }`, { id });
      secrets.add(refreshed.data.refresh.accessToken);
      await gw.gateway.audit.flush(); // ends the batch window: the reads below are new entries
      const viewer = await gql(keys.viewer, `query($id: ID!) { tokenById(id: $id) { status accessToken } }`, { id });
      expect(viewer.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
      await gql(keys.admin, `query($id: ID!) { tokenById(id: $id) { accessToken refreshToken clientSecret grantToken } }`, { id });
      // The same read twice within the batch window: one entry, count 2.
      await gql(keys.operator, `query($id: ID!) { tokenById(id: $id) { accessToken } }`, { id });
      await gql(keys.operator, `query($u: String!) { token(match: { userName: $u }) { accessToken } }`, { u: 'ann@example.com' });

      accounts.setFailure('invalidCode', 1);
      const refused = await gql(keys.operator, `mutation($id: ID!) { refresh(id: $id) { status } }`, { id });
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'REFRESH_FAILED', oauthError: 'invalid_code' });
      accounts.setFailure('http500');
      const unavailable = await gql(keys.admin, `mutation($id: ID!) { refresh(id: $id) { status } }`, { id });
      expect(unavailable.errors?.[0]?.extensions.code).toBe('UPSTREAM_UNAVAILABLE');
      accounts.setFailure('none');
      // A transient failure's entry is written in the background: the engine is idle once it is.
      await gw.gateway.engine.idle();
      expect((await auditOf(id)).some((e) => e.outcome === 'UNAVAILABLE')).toBe(true);

      const newRefresh = accounts.addRefreshToken(clientId);
      secrets.add(newRefresh);
      await gql(keys.operator, `mutation($t: TokenInput!) { saveToken(token: $t) { status } }`, { t: { id, refreshToken: newRefresh } });
      expect((await gql(keys.operator, `mutation($id: ID!) { revokeToken(id: $id) }`, { id })).data.revokeToken).toBe(true);

      const trail = await auditOf(id);
      const brief = trail.map((e) => [e.action, e.actorRole, e.actorName, e.outcome, e.errorCode]);
      expect(brief).toEqual([
        ['REVOKE', 'operator', 'crm-sync', 'OK', null],
        ['SAVE', 'operator', 'crm-sync', 'OK', null],
        ['REFRESH', 'admin', 'ops-console', 'UNAVAILABLE', 'http_5xx'],
        ['REFRESH', 'operator', 'crm-sync', 'REFUSED', 'invalid_code'],
        ['READ_SECRET', 'operator', 'crm-sync', 'OK', null],
        ['READ_SECRET', 'admin', 'ops-console', 'OK', null],
        ['READ_SECRET', 'operator', 'crm-sync', 'OK', null],
        ['REFRESH', 'operator', 'crm-sync', 'OK', null],
        ['SAVE', 'operator', 'crm-sync', 'OK', null],
      ]);
      const [revoke, resave, , , reads2, adminRead, firstRead, refresh, save] = trail;
      expect(save).toMatchObject({ tokenId: id, detail: 'created', requestId: 'req-save' });
      // The names of the fields written (giving new credentials also clears a FAILED state).
      expect(save!.fields).toEqual(['userName', 'clientId', 'clientSecret', 'refreshToken', 'lastError', 'failedAt']);
      expect(refresh).toMatchObject({ detail: 'refresh_token', fields: expect.arrayContaining(['accessToken', 'expiresAt', 'lastRefreshedAt']) });
      expect(firstRead).toMatchObject({ fields: ['accessToken'], count: 1 });
      expect(adminRead).toMatchObject({ fields: ['accessToken', 'clientSecret', 'refreshToken'], count: 1 }); // grantToken was null: nothing read
      expect(reads2).toMatchObject({ fields: ['accessToken'], count: 2 });
      expect(resave).toMatchObject({ detail: 'updated', fields: expect.arrayContaining(['refreshToken', 'failedAt', 'lastError']) });
      expect(revoke!.detail).toMatch(/revoked at the provider/);
      for (const e of trail) expect(Date.parse(e.at)).toBeGreaterThan(Date.now() - 60_000);
      // No read by the viewer: its secret field was refused.
      expect(trail.some((e) => e.actorName === 'dashboard')).toBe(false);
      expect(JSON.stringify(trail)).not.toMatch(new RegExp([...secrets].join('|')));
    });

    it('records deletions, one entry per token for deleteTokens', async () => {
      const save = async (k: string, userName: string) =>
        (await gql(k, `mutation($t: TokenInput!) { saveToken(token: $t) { id } }`, { t: { userName, refreshToken: accounts.addRefreshToken(clientId) } })).data
          .saveToken.id as string;
      const one = await save(keys.operator, 'del@example.com');
      expect((await gql(keys.operator, `mutation($id: ID!) { deleteToken(id: $id) }`, { id: one })).data.deleteToken).toBe(true);
      expect((await auditOf(one)).map((e) => [e.action, e.actorName])).toEqual([
        ['DELETE', 'crm-sync'],
        ['SAVE', 'crm-sync'],
      ]);
      const ids = [await save(keys.admin, 'x@example.com'), await save(keys.admin, 'y@example.com')];
      expect((await gql(keys.admin, `mutation { deleteTokens }`)).data.deleteTokens).toBe(2);
      for (const tid of ids)
        expect((await auditOf(tid))[0]).toMatchObject({ action: 'DELETE_ALL', actorRole: 'admin', actorName: 'ops-console', tokenId: tid });
    });

    it('is for admins only, pages newest first, and never holds a secret', async () => {
      for (const k of [keys.operator, keys.viewer]) {
        const r = await gql(k, AUDIT, { first: 1 });
        expect(r.errors?.[0]?.extensions.code).toBe('FORBIDDEN');
        expect(r.data).toBeNull();
      }
      await gw.gateway.audit.flush();
      const all: Array<Record<string, any>> = [];
      let after: string | null = null;
      for (;;) {
        const r = await gql(keys.admin, AUDIT, { first: 4, after });
        all.push(...r.data.auditLog.nodes);
        if (!r.data.auditLog.hasNextPage) break;
        after = r.data.auditLog.endCursor;
      }
      expect(all.length).toBeGreaterThanOrEqual(12);
      expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
      for (let i = 1; i < all.length; i++) expect(Date.parse(all[i - 1]!.at)).toBeGreaterThanOrEqual(Date.parse(all[i]!.at));
      expect(JSON.stringify(all)).not.toMatch(new RegExp([...secrets].join('|')));
      expect(gw.logs()).not.toMatch(new RegExp([...secrets].join('|')));
      const bad = await gql(keys.admin, AUDIT, { first: 5, after: 'not-a-cursor' });
      expect(bad.errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
      expect((await gql(keys.admin, AUDIT, { first: 1001 })).errors?.[0]?.extensions.code).toBe('BAD_USER_INPUT');
    });

    it('prunes entries older than TOKENGATE_AUDIT_RETENTION_DAYS (default 90)', async () => {
      expect(gw.gateway.config.auditRetentionDays).toBe(90);
      const day = 86_400_000;
      await gw.gateway.stores.audit.appendAudit([
        { action: 'READ_SECRET', actor: { role: 'operator', name: 'old' }, tokenId: 'ancient', at: new Date(Date.now() - 91 * day) },
        { action: 'READ_SECRET', actor: { role: 'operator', name: 'old' }, tokenId: 'ancient', at: new Date(Date.now() - 89 * day) },
      ]);
      expect(await gw.gateway.audit.prune()).toBe(1);
      expect((await auditOf('ancient')).map((e) => e.tokenId)).toEqual(['ancient']);
    });
  });
}

auditApiContract('sqlite');
auditApiContract('memory');
describeWithMysql('on MariaDB', () => auditApiContract('mysql'));
