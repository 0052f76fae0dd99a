import { TokenStoreError } from '../../src/errors';
import type { Stores } from '../../src/stores/stores';

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
      expect(await store.countByStatus(now, windowMs)).toEqual({ total: 8, active: 2, expiring: 1, expired: 2, pendingGrant: 2, failed: 1 });
      await store.deleteTokens();
      expect(await store.countByStatus(now, windowMs)).toEqual({ total: 0, active: 0, expiring: 0, expired: 0, pendingGrant: 0, failed: 0 });
    });
  });
}
