import { TokenStoreError } from '../../src/errors';
import type { Stores } from '../../src/stores/stores';
import type { TokenInput } from '../../src/stores/token';
import { tokenStatus, type TokenStatus } from '../../src/stores/token-status';

/** Searching by user name and counting per status, run against every backend. */
export function tokenBrowseContract(name: string, open: () => Promise<Stores>): void {
  describe(`TokenBrowse contract (${name})`, () => {
    let stores: Stores;
    let store: Stores['tokens'] & Stores['browse'];
    beforeEach(async () => {
      stores = await open();
      const { tokens, browse } = stores;
      store = Object.assign(Object.create(tokens), {
        searchTokens: browse.searchTokens.bind(browse),
        countByStatus: browse.countByStatus.bind(browse),
      });
    });
    afterEach(async () => {
      await stores.close();
    });

    it('searches user names case-insensitively, pages the matches, and takes LIKE wildcards literally', async () => {
      for (let i = 0; i < 12; i++) await store.saveToken({ id: `id-${String(i).padStart(2, '0')}`, userName: `Ana.${i}@Example.com`, refreshToken: `r${i}` });
      await store.saveToken({ id: 'id-50', userName: 'bob_%@example.com', refreshToken: 'rb' });
      await store.saveToken({ id: 'id-51', userName: 'bobx@example.com', refreshToken: 'rx' });
      await store.saveToken({ id: 'id-52', refreshToken: 'no-user' });

      const first = await store.searchTokens({ userNameContains: 'ana.' }, 5);
      expect(first.nodes.map((t) => t.id)).toEqual(['id-00', 'id-01', 'id-02', 'id-03', 'id-04']);
      expect(first.hasNextPage).toBe(true);
      const ids: string[] = first.nodes.map((t) => t.id);
      let after = first.endCursor;
      for (;;) {
        const page = await store.searchTokens({ userNameContains: 'ANA.' }, 5, after);
        ids.push(...page.nodes.map((t) => t.id));
        if (!page.hasNextPage) break;
        after = page.endCursor;
      }
      expect(ids).toHaveLength(12);
      expect((await store.searchTokens({ userNameContains: '_%' }, 10)).nodes.map((t) => t.id)).toEqual(['id-50']);
      expect((await store.searchTokens({ userNameContains: 'nobody' }, 10)).nodes).toEqual([]);
      // A blank search lists everything.
      expect((await store.searchTokens({ userNameContains: '  ' }, 100)).nodes).toHaveLength(15);
    });

    it('refuses an over-long search and a malformed cursor', async () => {
      await expect(store.searchTokens({ userNameContains: 'x'.repeat(256) }, 10)).rejects.toBeInstanceOf(TokenStoreError);
      await expect(store.searchTokens({ userNameContains: 'x' }, 10, 'not-a-cursor!')).rejects.toMatchObject({ kind: 'INVALID_INPUT' });
    });

    it('counts tokens per status as the API derives it', async () => {
      const now = new Date('2030-01-01T00:00:00Z');
      const t = now.getTime();
      const windowMs = 5 * 60_000;
      await store.saveToken({ accessToken: 'a1', refreshToken: 'r1', expiresAt: new Date(t + 3_600_000) }); // ACTIVE
      await store.saveToken({ accessToken: 'a2', refreshToken: 'r2' }); // ACTIVE (no known expiry)
      await store.saveToken({ accessToken: 'a3', refreshToken: 'r3', expiresAt: new Date(t + 60_000) }); // EXPIRING
      await store.saveToken({ accessToken: 'a4', refreshToken: 'r4', expiresAt: new Date(t - 1) }); // EXPIRED
      await store.saveToken({ refreshToken: 'r5' }); // EXPIRED
      await store.saveToken({ grantToken: 'g6' }); // PENDING_GRANT
      await store.saveToken({ accessToken: 'a7', grantToken: 'g7', expiresAt: new Date(t - 1) }); // PENDING_GRANT
      await store.saveToken({ refreshToken: 'r8', accessToken: 'a8', expiresAt: new Date(t + 3_600_000), failedAt: new Date(t - 10) }); // FAILED
      await store.saveToken({ refreshToken: 'r9', accessToken: 'a9', expiresAt: new Date(t - 1), throttledUntil: new Date(t + 60_000) }); // THROTTLED
      await store.saveToken({ grantToken: 'g10', throttledUntil: new Date(t + 1) }); // THROTTLED (before PENDING_GRANT)
      await store.saveToken({ refreshToken: 'r11', throttledUntil: new Date(t) }); // EXPIRED (the throttle has ended)
      await store.saveToken({ refreshToken: 'r12', failedAt: new Date(t - 10), throttledUntil: new Date(t + 60_000) }); // FAILED (wins over THROTTLED)
      expect(await store.countByStatus(now, windowMs)).toEqual({ total: 12, active: 2, expiring: 1, expired: 3, pendingGrant: 2, throttled: 2, failed: 2 });
      await store.deleteTokens();
      expect(await store.countByStatus(now, windowMs)).toEqual({ total: 0, active: 0, expiring: 0, expired: 0, pendingGrant: 0, throttled: 0, failed: 0 });
    });

    it('filters by status exactly as tokenStatus derives it, paged and combined with the user name search', async () => {
      const now = new Date('2030-01-01T00:00:00Z');
      const t = now.getTime();
      const windowMs = 5 * 60_000;
      const kinds: Array<[TokenStatus, Partial<TokenInput>]> = [
        ['ACTIVE', { accessToken: 'a', refreshToken: 'r', expiresAt: new Date(t + 3_600_000) }],
        ['ACTIVE', { accessToken: 'a', refreshToken: 'r' }],
        ['EXPIRING', { accessToken: 'a', refreshToken: 'r', expiresAt: new Date(t + 60_000) }],
        ['EXPIRED', { accessToken: 'a', refreshToken: 'r', expiresAt: new Date(t) }],
        ['EXPIRED', { refreshToken: 'r', throttledUntil: new Date(t - 1) }],
        ['PENDING_GRANT', { grantToken: 'g' }],
        ['PENDING_GRANT', { accessToken: 'a', grantToken: 'g', expiresAt: new Date(t - 1) }],
        ['THROTTLED', { refreshToken: 'r', throttledUntil: new Date(t + 1) }],
        ['THROTTLED', { accessToken: 'a', refreshToken: 'r', expiresAt: new Date(t + 3_600_000), throttledUntil: new Date(t + 60_000) }],
        ['FAILED', { refreshToken: 'r', failedAt: new Date(t - 1), throttledUntil: new Date(t + 60_000) }],
      ];
      let n = 0;
      for (const [, fields] of kinds) {
        n++;
        const secret = (v: unknown) => (typeof v === 'string' ? `${v}${n}` : v);
        await store.saveToken({
          ...fields,
          id: `s-${String(n).padStart(2, '0')}`,
          userName: `${n % 2 ? 'odd' : 'even'}.${n}@example.com`,
          accessToken: secret(fields.accessToken) as string | undefined,
          refreshToken: secret(fields.refreshToken) as string | undefined,
          grantToken: secret(fields.grantToken) as string | undefined,
        });
      }
      const at = { now, windowMs };
      const all = await store.listTokens(100);
      // The stores and the API's status agree on every token.
      expect(all.nodes.map((tk) => tokenStatus(tk, t, windowMs))).toEqual(kinds.map(([s]) => s));
      for (const status of ['ACTIVE', 'EXPIRING', 'EXPIRED', 'PENDING_GRANT', 'THROTTLED', 'FAILED'] as const) {
        const want = kinds.flatMap(([s], i) => (s === status ? [`s-${String(i + 1).padStart(2, '0')}`] : []));
        expect({ status, ids: (await store.searchTokens({ status: { is: status, ...at } }, 100)).nodes.map((tk) => tk.id) }).toEqual({ status, ids: want });
      }
      // Paged: one THROTTLED token per page.
      const first = await store.searchTokens({ status: { is: 'THROTTLED', ...at } }, 1);
      expect(first.nodes.map((tk) => tk.id)).toEqual(['s-08']);
      expect(first.hasNextPage).toBe(true);
      const second = await store.searchTokens({ status: { is: 'THROTTLED', ...at } }, 1, first.endCursor);
      expect(second.nodes.map((tk) => tk.id)).toEqual(['s-09']);
      expect(second.hasNextPage).toBe(false);
      // Combined with the user name search.
      expect((await store.searchTokens({ userNameContains: 'EVEN', status: { is: 'THROTTLED', ...at } }, 100)).nodes.map((tk) => tk.id)).toEqual(['s-08']);
      await expect(store.searchTokens({ status: { is: 'NOPE' as TokenStatus, ...at } }, 10)).rejects.toMatchObject({ kind: 'INVALID_INPUT' });
    });
  });
}
